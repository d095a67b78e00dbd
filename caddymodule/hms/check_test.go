package hms

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/pflag"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// runCommand runs the function of `caddy sinch-hms-assertion` with args
// and returns its exit code, what --check printed and its error. The exit
// status of the built binary is TestCommandExitCodes's.
func runCommand(t *testing.T, args ...string) (int, string, error) {
	t.Helper()
	fs := pflag.NewFlagSet("sinch-hms-assertion", pflag.ContinueOnError)
	fs.String("app-key", "", "")
	fs.String("secret", "", "")
	fs.String("hms-app-id", "", "")
	fs.String("aud", "", "")
	fs.Duration("ttl", 5*time.Minute, "")
	fs.String("post", "", "")
	fs.Bool("check", false, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	saved := checkOutput
	checkOutput = &out
	defer func() { checkOutput = saved }()
	code, err := cmdSinchHMSAssertion(caddycmd.Flags{FlagSet: fs})
	return code, out.String(), err
}

// checkOf runs --check's explanation of posting assertion to target.
func checkOf(t *testing.T, target, assertion string) (bool, string) {
	t.Helper()
	var out bytes.Buffer
	ok := checkDeployment(context.Background(), &out, target, assertion)
	return ok, out.String()
}

func wantExplained(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("explanation lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(out, "Fix: ") && !strings.Contains(out, "OK: ") {
		t.Errorf("explanation says neither OK nor what to fix:\n%s", out)
	}
}

func TestCheckCommandExplainsCommonRejections(t *testing.T) {
	emu := harness.NewHuawei(t)
	harness.StartCaddy(t, twoAppSite(emu.URL, ""))
	args := func(extra ...string) []string {
		return append([]string{"--app-key", harness.AppKey, "--secret", harness.SinchSecret, "--hms-app-id", harness.HMSAppID,
			"--post", harness.TokenURL, "--check"}, extra...)
	}

	t.Run("working deployment", func(t *testing.T) {
		code, out, err := runCommand(t, args()...)
		if code != 0 || err != nil {
			t.Errorf("exit code %d, error %v; want 0, nil", code, err)
		}
		wantExplained(t, out, "HTTP 200", "OK: every check passed")
		for _, tok := range emu.IssuedTokens(harness.HMSAppID) {
			if strings.Contains(out, tok) {
				t.Errorf("--check printed the access token")
			}
		}
	})
	for name, tc := range map[string]struct {
		args  []string
		wants []string
	}{
		"wrong secret": {args("--secret", harness.OtherSecret),
			[]string{"HTTP 401 invalid_client", "FAILED check: signature", "(bad_signature)", "Copy the Application Secret"}},
		"unknown application key": {args("--app-key", "00000000-0000-4000-8000-000000000000"),
			[]string{"FAILED check: application key", "(unknown_application)", "add `sinch_application"}},
		"wrong audience": {args("--aud", "https://auth.example.com/token"),
			[]string{"FAILED check: audience", "(bad_audience)", "set `audience <public token URL>`"}},
		"unknown HMS App ID": {args("--hms-app-id", "555"),
			[]string{"HTTP 400 unauthorized_client", "(unknown_hms_application)", "add `hms_application"}},
		"Huawei refuses the HMS credentials": {args("--hms-app-id", testRejectedHMSApp),
			[]string{"HTTP 502 server_error", "(huawei_rejected)", "AppGallery Connect"}},
		"assertion too long-lived": {args("--ttl", "2h"),
			[]string{"(lifetime_too_long)", "max_assertion_lifetime"}},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, err := runCommand(t, tc.args...)
			if code == 0 || err == nil {
				t.Errorf("exit code %d, error %v for a refused request; want a failure", code, err)
			}
			wantExplained(t, out, tc.wants...)
			if strings.Contains(out, harness.SinchSecret) || strings.Contains(out, harness.OtherSecret) {
				t.Errorf("output holds a secret")
			}
		})
	}

	t.Run("clock skew: expired assertion", func(t *testing.T) {
		old := harness.Mint(t, func(p *sinchauth.MintParams) { p.IssuedAt = time.Now().Add(-20 * time.Minute) })
		ok, out := checkOf(t, harness.TokenURL, old)
		if ok {
			t.Error("ok for an expired assertion")
		}
		wantExplained(t, out, "FAILED check: time", "(expired)", "NTP")
	})
	t.Run("clock skew: issued in the future", func(t *testing.T) {
		ahead := harness.Mint(t, func(p *sinchauth.MintParams) { p.IssuedAt = time.Now().Add(10 * time.Minute) })
		_, out := checkOf(t, harness.TokenURL, ahead)
		wantExplained(t, out, "(iat_in_future)", "NTP")
	})
	t.Run("replayed assertion", func(t *testing.T) {
		a := harness.Mint(t)
		if ok, out := checkOf(t, harness.TokenURL, a); !ok {
			t.Fatalf("first post refused:\n%s", out)
		}
		ok, out := checkOf(t, harness.TokenURL, a)
		if ok {
			t.Error("ok for a replay")
		}
		wantExplained(t, out, "FAILED check: replay", "(replayed_nonce)")
	})
	t.Run("Huawei down", func(t *testing.T) {
		down := huaweitest.NewServer()
		t.Cleanup(down.Close)
		down.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: "down"})
		// a fresh HMS application, so no token is cached for it
		harness.StartCaddy(t, harness.HMSSite(down.URL, ""))
		ok, out := checkOf(t, harness.TokenURL, harness.Mint(t))
		if ok {
			t.Error("ok with Huawei down")
		}
		wantExplained(t, out, "HTTP 503 temporarily_unavailable", "(huawei_unavailable)", "/sinch_hms/status")
	})
	t.Run("no sinch_hms at the URL", func(t *testing.T) {
		ok, out := checkOf(t, harness.Base+"/elsewhere", harness.Mint(t))
		if ok {
			t.Error("ok for a URL without the handler")
		}
		wantExplained(t, out, "not OAuth 2.0 JSON", "no sinch_hms handler answered")
	})
	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		dead := srv.URL
		srv.Close()
		_, out := checkOf(t, dead+harness.TokenPath, harness.Mint(t))
		wantExplained(t, out, "FAILED: posting to", "check that Caddy runs")
	})
}

func TestExplainAnswerCoversEveryReason(t *testing.T) {
	// Errors of the request's shape get the one general explanation: the
	// command always sends a well-formed request.
	shape := map[string]bool{endpoint.Other.Reason: true, endpoint.MethodNotAllowed.Reason: true, endpoint.MalformedRequest.Reason: true, endpoint.BodyTooLarge.Reason: true,
		endpoint.MissingParameter.Reason: true, endpoint.UnsupportedGrantType.Reason: true, endpoint.BothCredentials.Reason: true, endpoint.NoCredentials.Reason: true,
		endpoint.RequestScope.Reason: true, endpoint.AssertionType.Reason: true,
		// Alt A only: the command sends client assertions, never bearer tokens.
		endpoint.MissingHMSAppID.Reason: true, endpoint.BearerRejected.Reason: true}
	for _, ref := range endpoint.Of(endpoint.HMS) {
		r := ref.Reason
		if ref.Code == oauthresp.ErrInvalidToken || strings.HasPrefix(r, "bearer_") { // Alt A's bearer refusals
			continue
		}
		if _, ok := explanations[r]; !ok && !shape[r] {
			t.Errorf("reason %q has no explanation for --check", r)
		}
	}
	ok, lines := explainAnswer(http.StatusBadRequest, []byte(`{"error":"invalid_request","error_description":"parameter \"x\" repeated"}`))
	if ok || !strings.Contains(strings.Join(lines, "\n"), "something between it and sinch_hms changed the request") {
		t.Errorf("request-shape error explained as %q", lines)
	}
}
