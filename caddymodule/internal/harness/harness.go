// Package harness is what the glue's tests share: a real Caddy (caddytest)
// on ports of the test binary's own, the fixtures of Sinch's reference
// data, assertion minting, the token endpoint's answers and the one test
// clock. Only tests import it.
package harness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Test fixtures. The Sinch secret is the one of Sinch's reference data; the
// HMS secret holds the characters that break naive form encoding.
const (
	AppKey       = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	SinchSecret  = "ax8hTTQJF0OPXL32r1LHMA=="
	OtherSecret  = "c2VjcmV0LW51bWJlci10d28/Pz8+Pg=="
	HMSAppID     = "123456789"
	HMSAppSecret = "hms+secret/with=chars"
	TokenPath    = "/sinch/rtc/push/oauth2/v1/huawei-hms/token"
)

// Ports of the test Caddy: caddytest's admin port 2999 and HTTP on 9080,
// unless SINCH_HMS_TEST_ADMIN_PORT / SINCH_HMS_TEST_HTTP_PORT say otherwise
// (so that two checkouts can run their tests at once), moved by the test
// binary's slot: `go test ./...` runs the packages' binaries at once, and
// each needs its own Caddy.
var (
	AdminPort = EnvPort("SINCH_HMS_TEST_ADMIN_PORT", 2999) + slot
	HTTPPort  = EnvPort("SINCH_HMS_TEST_HTTP_PORT", 9080) + 10*slot
	Base      = fmt.Sprintf("http://localhost:%d", HTTPPort)
	TokenURL  = Base + TokenPath

	// GlobalOptions is the caddytest preamble: the tester's admin port,
	// fixed ports, no trust store changes.
	GlobalOptions = fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	grace_period 1s
}
`, AdminPort, HTTPPort, HTTPPort+363)
)

// slot is the test binary's: hms.test 0, fcm.test 1, authserver.test 2,
// anything else 3.
var slot = func() int {
	switch strings.TrimSuffix(filepath.Base(os.Args[0]), ".test") {
	case "hms":
		return 0
	case "fcm":
		return 1
	case "authserver":
		return 2
	}
	return 3
}()

// EnvPort is the port the environment variable name gives, or def.
func EnvPort(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// HMSSite is a Caddyfile site serving the token endpoint with the given
// extra subdirectives, against the emulator at huaweiURL.
func HMSSite(huaweiURL, extra string) string {
	return fmt.Sprintf(`
%s {
	route %s {
		sinch_hms {
			sinch_application %s %s
			hms_application %s %s
			huawei_token_url %s
			%s
		}
	}
}
`, Base, TokenPath, AppKey, SinchSecret, HMSAppID, HMSAppSecret, huaweiURL, extra)
}

// NewHuawei starts a Huawei token endpoint emulator knowing the test app.
func NewHuawei(t *testing.T) *huaweitest.Server {
	t.Helper()
	emu := huaweitest.NewServer()
	emu.AddApp(HMSAppID, HMSAppSecret)
	t.Cleanup(emu.Close)
	return emu
}

type MintOpt func(*sinchauth.MintParams)

// mint returns a fresh, valid assertion for the test endpoint, changed by
// opts.
func Mint(t testing.TB, opts ...MintOpt) string {
	t.Helper()
	secret, err := sinchauth.DecodeSecret(SinchSecret)
	if err != nil {
		t.Fatal(err)
	}
	p := sinchauth.MintParams{
		ApplicationKey:   AppKey,
		Secret:           secret,
		HMSApplicationID: HMSAppID,
		Audience:         TokenURL,
		IssuedAt:         time.Now(),
		Lifetime:         5 * time.Minute,
	}
	for _, o := range opts {
		o(&p)
	}
	a, err := sinchauth.Mint(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// AssertionForm is Sinch's token request body for assertion.
func AssertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {sinchauth.HuaweiPushScope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

// Answer is a decoded token endpoint Answer.
type Answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// PostForm sends a form-encoded POST with extra headers.
func PostForm(t testing.TB, client *http.Client, target, body string, headers ...string) Answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return Do(t, client, req)
}

func Do(t testing.TB, client *http.Client, req *http.Request) Answer {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

// WantError asserts an RFC 6749 §5.2 error Answer.
func (a Answer) WantError(t testing.TB, status int, code string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("status = %d, want %d (body %s)", a.Status, status, a.Raw)
	}
	if got := a.Body["error"]; got != code {
		t.Errorf("error = %v, want %q (body %s)", got, code, a.Raw)
	}
	if d, _ := a.Body["error_description"].(string); d == "" {
		t.Errorf("no error_description in %s", a.Raw)
	}
	if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
}

// WantToken asserts an RFC 6749 §5.1 success Answer and returns the token.
func (a Answer) WantToken(t testing.TB) string {
	t.Helper()
	if a.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", a.Status, a.Raw)
	}
	for h, want := range map[string]string{
		"Content-Type":  "application/json;charset=utf-8",
		"Cache-Control": "no-store",
		"Pragma":        "no-cache",
	} {
		if got := a.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if a.Body["token_type"] != "Bearer" {
		t.Errorf("token_type = %v, want Bearer", a.Body["token_type"])
	}
	if len(a.Body) != 3 {
		t.Errorf("Answer has %d members, want exactly access_token, expires_in, token_type: %s", len(a.Body), a.Raw)
	}
	tok, _ := a.Body["access_token"].(string)
	if tok == "" {
		t.Fatalf("no access_token in %s", a.Raw)
	}
	return tok
}

func (a Answer) ExpiresIn(t testing.TB) int {
	t.Helper()
	f, ok := a.Body["expires_in"].(float64)
	if !ok || f != float64(int(f)) {
		t.Fatalf("expires_in = %v, want a whole number", a.Body["expires_in"])
	}
	return int(f)
}

// Clock is the project's test clock.
type Clock = testclock.Clock

// IssuedAt is a mint option: the assertion is issued at c's now.
func IssuedAt(c *Clock) MintOpt { return func(p *sinchauth.MintParams) { p.IssuedAt = c.Now() } }

// UseTestClock makes the handlers provisioned from now on (and their token
// caches) use a frozen clock, for the rest of the test. Mint assertions
// with IssuedAt(clock).
func UseTestClock(t *testing.T) *Clock {
	t.Helper()
	c := testclock.New(time.Now())
	t.Cleanup(testhook.SetClock(c.Now))
	return c
}

func (a Answer) WantInvalidToken(t *testing.T, token string) {
	t.Helper()
	a.WantError(t, http.StatusUnauthorized, "invalid_token")
	ch := a.Header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, `Bearer error="invalid_token", error_description="`) {
		t.Errorf("WWW-Authenticate = %q, want a Bearer invalid_token challenge", ch)
	}
	if len(token) > 16 && (strings.Contains(a.Raw, token) || strings.Contains(ch, token)) {
		t.Errorf("Answer echoes the bearer token")
	}
}

func (a Answer) WantReplay(t *testing.T) {
	t.Helper()
	a.WantError(t, http.StatusUnauthorized, "invalid_client")
	if d, _ := a.Body["error_description"].(string); !strings.Contains(d, string(sinchauth.ReasonReplay)) {
		t.Errorf("description %q does not say %s", d, sinchauth.ReasonReplay)
	}
}

func (a Answer) WantStoreDown(t *testing.T) {
	t.Helper()
	a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if ra := a.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After = %q, want 5", ra)
	}
}

// Fixtures of the embedded Authorization Server tests.
const (
	ASPath       = "/oauth2/token"
	ClientID     = "sinch-client"
	ClientSecret = "as+secret/with=chars:and%"
)

var ASURL = Base + ASPath

// ASKeys is a signing key written to disk as the operator would have it:
// the private key for signing_key, the public key for a verifier's
// public_key.
type ASKeys struct {
	Priv              ed25519.PrivateKey
	Pub               ed25519.PublicKey
	PrivPath, PubPath string
}

func NewASKeys(t testing.TB) ASKeys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k := ASKeys{Priv: priv, Pub: pub, PrivPath: filepath.Join(dir, "signing-key.pem"), PubPath: filepath.Join(dir, "public-key.pem")}
	privPEM, err := oauthserver.MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := oauthserver.MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PrivPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PubPath, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// ASRoute is a Caddyfile route serving the embedded Authorization Server.
func ASRoute(keyPath, extra string) string {
	return fmt.Sprintf(`
	route %s {
		sinch_oauth_server {
			client %s %s
			signing_key %s
			%s
		}
	}
`, ASPath, ClientID, ClientSecret, keyPath, extra)
}

// ClientCredentials is Sinch's token request to the AS (client_secret_post).
func ClientCredentials(scope string) url.Values {
	v := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ClientID},
		"client_secret": {ClientSecret},
	}
	if scope != "" {
		v.Set("scope", scope)
	}
	return v
}

// EntryText is everything a log entry carries, as one string.
func EntryText(e observer.LoggedEntry) string {
	return e.Message + " " + fmt.Sprint(e.ContextMap())
}

func DumpLogs(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "  %s %s\n", e.Level, EntryText(e))
	}
	return b.String()
}
