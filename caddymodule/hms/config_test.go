package hms

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestCaddyfileParse(t *testing.T) {
	d := caddyfile.NewTestDispenser(`sinch_hms {
		sinch_application key1 {env.SECRET_A} {file./run/secret_b}
		sinch_application key2 ax8hTTQJF0OPXL32r1LHMA
		audience https://a.example/token https://b.example/token
		clock_skew 30s
		max_assertion_lifetime 10m
		replay_store memory
		hms_application 111 {env.HMS_SECRET}
		hms_application 222 plain
		huawei_token_url http://localhost:9/token
		refresh_before 2m
		token_store memory
		forward
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(h.SinchApplications) != 2 || len(h.SinchApplications[0].Secrets) != 2 ||
		h.SinchApplications[0].Secrets[0] != "{env.SECRET_A}" {
		t.Errorf("sinch applications = %+v (placeholders must stay unexpanded)", h.SinchApplications)
	}
	if len(h.Audiences) != 2 || len(h.HMSApplications) != 2 || !h.Forward ||
		h.ClockSkew != caddy.Duration(30*time.Second) || h.HuaweiTokenURL != "http://localhost:9/token" ||
		h.ReplayStore.Backend != "memory" || h.TokenStore.Backend != "memory" {
		t.Errorf("parsed handler = %+v", h)
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"unknown subdirective":   {"sinch_hms {\n bogus 1\n}", `unrecognized subdirective "bogus"`},
		"bad base64 secret":      {"sinch_hms {\n sinch_application k not*base64!\n}", "secret #1"},
		"repeated single":        {"sinch_hms {\n clock_skew 1s\n clock_skew 2s\n}", "more than once"},
		"bad duration":           {"sinch_hms {\n clock_skew soon\n}", "bad duration"},
		"hms missing secret":     {"sinch_hms {\n hms_application 1\n}", "exactly an HMS App ID"},
		"unknown store":          {"sinch_hms {\n replay_store etcd x\n}", "unknown backend"},
		"argument":               {"sinch_hms extra {\n}", "wrong argument count"},
		"empty hms secret":       {"sinch_hms {\n hms_application 1 \"\"\n}", "App secret is empty, at Testfile:2"},
		"duplicate hms app":      {"sinch_hms {\n hms_application 1 a\n hms_application 1 b\n}", "configured twice, at Testfile:3"},
		"bad huawei url":         {"sinch_hms {\n huawei_token_url notaurl\n}", "absolute http(s) URL, at Testfile:2"},
		"no hms_application":     {"sinch_hms {\n sinch_application k ax8hTTQJF0OPXL32r1LHMA==\n}", "to hand out, at Testfile:1"},
		"no way to authenticate": {"sinch_hms {\n hms_application 1 s\n}", "could not authenticate, at Testfile:1"},
	} {
		t.Run(name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "line") && !strings.Contains(err.Error(), ":") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestConfigLoadErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Caddy")
	}
	os.Unsetenv("SINCH_HMS_TEST_MISSING")
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	site := func(body string) string {
		return harness.GlobalOptions + fmt.Sprintf("%s {\n\troute /t {\n\t\tsinch_hms {\n%s\n\t\t}\n\t}\n}\n", harness.Base, body)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"no hms_application":    {"sinch_application k " + harness.SinchSecret, "no hms_application"},
		"no sinch_application":  {"hms_application 1 s", "no sinch_application"},
		"bad base64 secret":     {"sinch_application k ab$cd\nhms_application 1 s", "secret #1"},
		"unknown subdirective":  {"sinch_application k " + harness.SinchSecret + "\nhms_application 1 s\nfrobnicate", "unrecognized subdirective"},
		"missing env secret":    {"sinch_application k {env.SINCH_HMS_TEST_MISSING}\nhms_application 1 s", "placeholder {env.SINCH_HMS_TEST_MISSING}: environment variable SINCH_HMS_TEST_MISSING is not set"},
		"lifetime over 24h":     {"sinch_application k " + harness.SinchSecret + "\nhms_application 1 s\nmax_assertion_lifetime 25h", "at most 24h"},
		"lifetime of centuries": {"sinch_application k " + harness.SinchSecret + "\nhms_application 1 s\nmax_assertion_lifetime 2100000h", "at most 24h"},
		"missing file secret":   {"sinch_application k " + harness.SinchSecret + "\nhms_application 1 {file./nonexistent/hms-secret}", "app secret: placeholder {file./nonexistent/hms-secret}: file cannot be read: no such file or directory"},
	} {
		t.Run(name, func(t *testing.T) {
			msg := harness.LoadError(t, site(tc.body))
			if !strings.Contains(msg, tc.want) {
				t.Errorf("load error %q does not contain %q", msg, tc.want)
			}
		})
	}
}
