package hms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/caddyproc"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// buildCaddy builds ./cmd/caddy, the project's Caddy, once for the test
// binary (see TestMain) and returns the binary's path.
func buildCaddy(t *testing.T) string {
	t.Helper()
	return caddyproc.Build(t, "../..") // the module root
}

// runBinary runs the built Caddy with args and extra environment and
// returns its exit status and output. The secrets' environment variables
// of the caller do not leak in.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SINCH_CLIENT_SECRET=") && !strings.HasPrefix(kv, "SINCH_APPLICATION_SECRET=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit) && exit.Exited():
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("running %s: %v\nstdout:\n%s\nstderr:\n%s", args[0], err, stdout.String(), stderr.String())
	return 0, "", ""
}

// exitSite is one Caddy serving the embedded AS and, at the HMS token
// path, sinch_hms taking both Alt B assertions and Alt A bearer tokens of
// that AS.
func exitSite(keys harness.ASKeys, huaweiURL string) string {
	return fmt.Sprintf(`%s {
%s
	route %s {
		sinch_hms {
			sinch_application %s %s
			bearer {
				jwks_url %s
				issuer %s
				audience %s
				scope %s
			}
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, harness.Base, harness.ASRoute(keys.PrivPath, ""), harness.TokenPath, harness.AppKey, harness.SinchSecret,
		harness.ASURL, harness.Base, harness.Base, sinchauth.HuaweiPushScope,
		harness.HMSAppID, harness.HMSAppSecret, huaweiURL)
}

// TestCommandExitCodes runs every CLI command of the project through the
// built binary: a failed check, an unreachable or refusing endpoint, and
// bad flags exit non-zero; a working deployment exits 0; no secret is
// printed either way.
func TestCommandExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ./cmd/caddy and runs a real Caddy; skipped with -short")
	}
	bin := buildCaddy(t)
	emu := harness.NewHuawei(t)
	keys := harness.NewASKeys(t)
	harness.StartCaddy(t, exitSite(keys, emu.URL))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/token"
	ln.Close()
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
	}))
	t.Cleanup(refusing.Close)

	const (
		wrongClientSecret = "wrong-client-secret-7d1f9a"
		wrongSinchSecret  = "d3Jvbmctc2luY2gtc2VjcmV0LTQ0Zg==" // base64, not the application's
	)
	secrets := []string{harness.ClientSecret, wrongClientSecret, harness.SinchSecret, wrongSinchSecret, harness.HMSAppSecret}

	tokenCheck := func(extra ...string) []string {
		return append([]string{"sinch-token-check", "--token-url", harness.ASURL, "--client-id", harness.ClientID}, extra...)
	}
	assertion := func(secret string, extra ...string) []string {
		return append([]string{"sinch-hms-assertion", "--app-key", harness.AppKey, "--secret", secret,
			"--hms-app-id", harness.HMSAppID}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		ok   bool
	}{
		// sinch-token-check
		{"token-check: working AS", tokenCheck("--client-secret", harness.ClientSecret), nil, true},
		{"token-check: working AS, secret from env", tokenCheck(), []string{"SINCH_CLIENT_SECRET=" + harness.ClientSecret}, true},
		{"token-check: working AS and sinch_hms", tokenCheck("--client-secret", harness.ClientSecret,
			"--hms-url", harness.TokenURL, "--hms-app-id", harness.HMSAppID), nil, true},
		{"token-check: wrong secret at the real AS", tokenCheck("--client-secret", wrongClientSecret), nil, false},
		{"token-check: wrong secret from env", tokenCheck("--basic"), []string{"SINCH_CLIENT_SECRET=" + wrongClientSecret}, false},
		{"token-check: AS answers 401", []string{"sinch-token-check", "--token-url", refusing.URL, "--client-id", harness.ClientID,
			"--client-secret", harness.ClientSecret}, nil, false},
		{"token-check: AS port closed", []string{"sinch-token-check", "--token-url", closed, "--client-id", harness.ClientID,
			"--client-secret", harness.ClientSecret}, nil, false},
		{"token-check: HMS endpoint answers 401", tokenCheck("--client-secret", harness.ClientSecret,
			"--hms-url", refusing.URL, "--hms-app-id", harness.HMSAppID), nil, false},
		{"token-check: FCM endpoint port closed", tokenCheck("--client-secret", harness.ClientSecret,
			"--fcm-url", closed, "--fcm-project", "123456789012"), nil, false},
		{"token-check: unknown HMS app at the real sinch_hms", tokenCheck("--client-secret", harness.ClientSecret,
			"--hms-url", harness.TokenURL, "--hms-app-id", "404404"), nil, false},
		{"token-check: no flags", []string{"sinch-token-check"}, nil, false},
		{"token-check: no secret", tokenCheck(), nil, false},
		{"token-check: fcm-url without project", tokenCheck("--client-secret", harness.ClientSecret, "--fcm-url", closed), nil, false},
		{"token-check: misspelt flag", tokenCheck("--client-secrte=" + wrongClientSecret), nil, false},
		{"token-check: stray argument", tokenCheck("--client-secret", harness.ClientSecret, wrongClientSecret), nil, false},

		// sinch-hms-assertion
		{"assertion: mint only", assertion(harness.SinchSecret, "--aud", harness.TokenURL), nil, true},
		{"assertion: --post to the real sinch_hms", assertion(harness.SinchSecret, "--post", harness.TokenURL), nil, true},
		{"assertion: --check against the real sinch_hms", assertion(harness.SinchSecret, "--post", harness.TokenURL, "--check"), nil, true},
		{"assertion: --check, secret from env", assertion("", "--post", harness.TokenURL, "--check"),
			[]string{"SINCH_APPLICATION_SECRET=" + harness.SinchSecret}, true},
		{"assertion: --post, wrong secret", assertion(wrongSinchSecret, "--post", harness.TokenURL), nil, false},
		{"assertion: --check, wrong secret", assertion(wrongSinchSecret, "--post", harness.TokenURL, "--check"), nil, false},
		{"assertion: --check, wrong secret from env", assertion("", "--post", harness.TokenURL, "--check"),
			[]string{"SINCH_APPLICATION_SECRET=" + wrongSinchSecret}, false},
		{"assertion: --post answers 401", assertion(harness.SinchSecret, "--post", refusing.URL), nil, false},
		{"assertion: --check answers 401", assertion(harness.SinchSecret, "--post", refusing.URL, "--check"), nil, false},
		{"assertion: --post port closed", assertion(harness.SinchSecret, "--post", closed), nil, false},
		{"assertion: --check port closed", assertion(harness.SinchSecret, "--post", closed, "--check"), nil, false},
		{"assertion: no flags", []string{"sinch-hms-assertion"}, nil, false},
		{"assertion: --check without --post", assertion(harness.SinchSecret, "--aud", harness.TokenURL, "--check"), nil, false},
		{"assertion: secret not base64", assertion("not*base64*"+wrongClientSecret, "--aud", harness.TokenURL), nil, false},
		{"assertion: bad --ttl", assertion(harness.SinchSecret, "--aud", harness.TokenURL, "--ttl", "forever"), nil, false},
		{"assertion: misspelt flag", assertion(harness.SinchSecret, "--aud", harness.TokenURL, "--chek"), nil, false},
		{"assertion: stray argument", assertion(harness.SinchSecret, "--aud", harness.TokenURL, wrongSinchSecret), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, bin, tc.env, tc.args...)
			if tc.ok && code != 0 || !tc.ok && code == 0 {
				t.Errorf("exit status %d, want %s\nstdout:\n%s\nstderr:\n%s", code, map[bool]string{true: "0", false: "non-zero"}[tc.ok], stdout, stderr)
			}
			for _, s := range secrets {
				if strings.Contains(stdout, s) || strings.Contains(stderr, s) {
					t.Errorf("output holds the secret %.4s…\nstdout:\n%s\nstderr:\n%s", s, stdout, stderr)
				}
			}
			if tc.args[0] == "sinch-token-check" && regexp.MustCompile(`eyJ[A-Za-z0-9_-]{20,}\.`).MatchString(stdout+stderr) {
				t.Errorf("output holds a live token:\n%s%s", stdout, stderr)
			}
		})
	}
}
