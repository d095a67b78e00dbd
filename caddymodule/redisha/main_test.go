package redisha

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/caddyproc"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

func TestMain(m *testing.M) {
	code := m.Run()
	caddyproc.Cleanup()
	os.Exit(code)
}

// audience is the one both instances accept, as behind a load balancer.
const audience = "https://sinch.test/token"

var (
	adminPort = harness.EnvPort("SINCH_HMS_TEST_HA_ADMIN_PORT", 3320)
	httpPort  = harness.EnvPort("SINCH_HMS_TEST_HA_HTTP_PORT", 9620)
)

// instance is one Caddy process serving the token endpoint.
type instance struct {
	*caddyproc.Process
	URL string
}

// startInstances starts n Caddy processes (the built binary) whose
// sinch_hms handlers use stores (the replay_store and token_store lines)
// against the Huawei emulator at huaweiURL, with env (passwords).
func startInstances(t *testing.T, n int, huaweiURL, stores string, env ...string) []*instance {
	t.Helper()
	if testing.Short() {
		t.Skip("process test with real Redis and Caddy processes; skipped with -short")
	}
	bin := caddyproc.Build(t, "../..")
	var out []*instance
	for i := range n {
		admin, port := adminPort+i, httpPort+i
		site := fmt.Sprintf("http://127.0.0.1:%d", port)
		cfg := fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	auto_https off
	skip_install_trust
	grace_period 1s
}
%s {
	bind 127.0.0.1
	route /token {
		sinch_hms {
			sinch_application %s %s
			audience %s
			hms_application %s %s
			huawei_token_url %s
			%s
		}
	}
	respond 204
}
`, admin, port, site, harness.AppKey, harness.SinchSecret, audience, harness.HMSAppID, harness.HMSAppSecret, huaweiURL, stores)
		p := caddyproc.Start(t, bin, fmt.Sprintf("caddy-%d", i+1), cfg, admin, site+"/", env...)
		out = append(out, &instance{Process: p, URL: site + "/token"})
	}
	return out
}

// mint is a fresh assertion for both instances' audience; forged ones are
// signed with a secret that is not the application's.
func mint(forged bool) string {
	secret := harness.SinchSecret
	if forged {
		secret = harness.OtherSecret
	}
	key, err := sinchauth.DecodeSecret(secret)
	if err != nil {
		panic(err)
	}
	a, err := sinchauth.Mint(sinchauth.MintParams{ApplicationKey: harness.AppKey, Secret: key, HMSApplicationID: harness.HMSAppID,
		Audience: audience, IssuedAt: time.Now(), Lifetime: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	return a
}

// answer is what an instance said to one token request.
type answer struct {
	Status     int    // 0: no answer (connection refused or cut: a killed Caddy)
	Error      string // the OAuth error, with the reason from the description
	RetryAfter string
	Token      string
	Err        error
}

// replay reports a 401 naming replayed_nonce.
func (a answer) replay() bool {
	return a.Status == http.StatusUnauthorized && strings.Contains(a.Error, string(sinchauth.ReasonReplay))
}

// unavailable reports a 503 with Retry-After.
func (a answer) unavailable() bool {
	return a.Status == http.StatusServiceUnavailable && a.RetryAfter != ""
}

func (a answer) String() string {
	if a.Status == 0 {
		return fmt.Sprintf("no answer (%v)", a.Err)
	}
	return fmt.Sprintf("%d %s", a.Status, a.Error)
}

var client = &http.Client{Timeout: 10 * time.Second}

// post sends Sinch's token request with assertion; safe from any goroutine.
func post(target, assertion string) answer {
	resp, err := client.PostForm(target, url.Values(harness.AssertionForm(assertion)))
	if err != nil {
		return answer{Err: err}
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		AccessToken string `json:"access_token"`
	}
	_ = decodeJSON(resp, &body)
	a := answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Token: body.AccessToken}
	if body.Error != "" {
		a.Error = body.Error + " (" + body.Description + ")"
	}
	return a
}
