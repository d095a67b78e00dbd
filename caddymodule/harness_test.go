package caddymodule

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Test fixtures. The Sinch secret is the one of Sinch's reference data; the
// HMS secret holds the characters that break naive form encoding.
const (
	testAppKey       = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"
	testSinchSecret  = "ax8hTTQJF0OPXL32r1LHMA=="
	testOtherSecret  = "c2VjcmV0LW51bWJlci10d28/Pz8+Pg=="
	testHMSAppID     = "123456789"
	testHMSAppSecret = "hms+secret/with=chars"
	testTokenPath    = "/sinch/rtc/push/oauth2/v1/huawei-hms/token"
)

// Ports of the test Caddy: caddytest's admin port 2999 and HTTP on 9080,
// unless SINCH_HMS_TEST_ADMIN_PORT / SINCH_HMS_TEST_HTTP_PORT say otherwise
// (so that two checkouts can run their tests at once).
var (
	testAdminPort = envPort("SINCH_HMS_TEST_ADMIN_PORT", 2999)
	testHTTPPort  = envPort("SINCH_HMS_TEST_HTTP_PORT", 9080)
	testBase      = fmt.Sprintf("http://localhost:%d", testHTTPPort)
	testTokenURL  = testBase + testTokenPath

	// globalOptions is the caddytest preamble: the tester's admin port,
	// fixed ports, no trust store changes.
	globalOptions = fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	grace_period 1s
}
`, testAdminPort, testHTTPPort, testHTTPPort+363)
)

func envPort(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// startCaddy loads caddyfile into the in-process Caddy of caddytest and
// fails the test loudly if Caddy did not take it (caddytest alone may skip).
func startCaddy(t *testing.T, caddyfile string) *caddytest.Tester {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real Caddy; skipped with -short")
	}
	loaded := false
	t.Cleanup(func() {
		if !loaded {
			t.Errorf("Caddy did not load the test config")
		}
	})
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{
		AdminPort:          testAdminPort,
		TestRequestTimeout: 20 * time.Second,
	})
	tester.InitServer(globalOptions+caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	loaded = true
	return tester
}

// hmsSite is a Caddyfile site serving the token endpoint with the given
// extra subdirectives, against the emulator at huaweiURL.
func hmsSite(huaweiURL, extra string) string {
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
`, testBase, testTokenPath, testAppKey, testSinchSecret, testHMSAppID, testHMSAppSecret, huaweiURL, extra)
}

// newHuawei starts a Huawei token endpoint emulator knowing the test app.
func newHuawei(t *testing.T) *huaweitest.Server {
	t.Helper()
	emu := huaweitest.NewServer()
	emu.AddApp(testHMSAppID, testHMSAppSecret)
	t.Cleanup(emu.Close)
	return emu
}

type mintOpt func(*sinchauth.MintParams)

// mint returns a fresh, valid assertion for the test endpoint, changed by
// opts.
func mint(t testing.TB, opts ...mintOpt) string {
	t.Helper()
	secret, err := sinchauth.DecodeSecret(testSinchSecret)
	if err != nil {
		t.Fatal(err)
	}
	p := sinchauth.MintParams{
		ApplicationKey:   testAppKey,
		Secret:           secret,
		HMSApplicationID: testHMSAppID,
		Audience:         testTokenURL,
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

// assertionForm is Sinch's token request body for assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {sinchauth.HuaweiPushScope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

// answer is a decoded token endpoint answer.
type answer struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// postForm sends a form-encoded POST with extra headers.
func postForm(t testing.TB, client *http.Client, target, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, client, req)
}

func do(t testing.TB, client *http.Client, req *http.Request) answer {
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
	a := answer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &a.Body)
	return a
}

// wantError asserts an RFC 6749 §5.2 error answer.
func (a answer) wantError(t testing.TB, status int, code string) {
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

// wantToken asserts an RFC 6749 §5.1 success answer and returns the token.
func (a answer) wantToken(t testing.TB) string {
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
		t.Errorf("answer has %d members, want exactly access_token, expires_in, token_type: %s", len(a.Body), a.Raw)
	}
	tok, _ := a.Body["access_token"].(string)
	if tok == "" {
		t.Fatalf("no access_token in %s", a.Raw)
	}
	return tok
}

func (a answer) expiresIn(t testing.TB) int {
	t.Helper()
	f, ok := a.Body["expires_in"].(float64)
	if !ok || f != float64(int(f)) {
		t.Fatalf("expires_in = %v, want a whole number", a.Body["expires_in"])
	}
	return int(f)
}
