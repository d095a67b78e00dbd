package fcm

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/authserver"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream/googletest"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// The tests in this file run the whole Alt A chain as Sinch does, through
// one real Caddy: an access token from sinch_oauth_server, then with it an
// FCM token from sinch_fcm (against the Google token endpoint emulator,
// which verifies the service account's signed grant) and an HMS token from
// sinch_hms (against the Huawei emulator).

const (
	testFCMPath    = "/sinch/fcm-token"
	testFCMProject = "123456789012"
)

var testFCMURL = harness.Base + testFCMPath

var (
	saOnce    sync.Once
	saShared  *googletest.ServiceAccount
	saErr     error
	sa2Shared *googletest.ServiceAccount
)

// serviceAccounts returns two generated service accounts, shared by the
// tests (RSA key generation is slow under -race).
func serviceAccounts(t testing.TB) (*googletest.ServiceAccount, *googletest.ServiceAccount) {
	t.Helper()
	saOnce.Do(func() {
		if saShared, saErr = googletest.NewServiceAccount("sinch-fcm-test"); saErr != nil {
			return
		}
		sa2Shared, saErr = googletest.NewServiceAccount("sinch-fcm-second")
	})
	if saErr != nil {
		t.Fatal(saErr)
	}
	return saShared, sa2Shared
}

// writeKeyFile writes a service account's JSON key as Google issues it
// (token_uri Google's own) and returns its path.
func writeKeyFile(t testing.TB, sa *googletest.ServiceAccount, tokenURI string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, sa.KeyJSON(tokenURI), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// chain is the test set-up: keys of the embedded AS, the two emulators,
// and the Caddy serving all three endpoints.
type chain struct {
	keys   harness.ASKeys
	google *googletest.Server
	huawei interface{ Calls() int }
	sa     *googletest.ServiceAccount
	client *http.Client
	hmsIss func() []string
}

// chainSite is the Caddyfile site of the whole chain. sinch_fcm verifies
// the AS's tokens with its public key file (no network hop), sinch_hms
// through the AS's JWKS on GET — the two ways the README offers.
func chainSite(keys harness.ASKeys, googleURL, huaweiURL, fcmExtra string, projects ...string) string {
	return fmt.Sprintf(`%s {
%s
	route %s {
		sinch_fcm {
			bearer {
				public_key %s
				issuer %s
				audience %s
				scope %s
			}
			%s
			google_token_url %s
			%s
		}
	}
	route %s {
		sinch_hms {
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
`, harness.Base, harness.ASRoute(keys.PrivPath, ""),
		testFCMPath, keys.PubPath, harness.Base, harness.Base, fcmupstream.Scope,
		strings.Join(projects, "\n\t\t\t"), googleURL, fcmExtra,
		harness.TokenPath, harness.ASURL, harness.Base, harness.Base, sinchauth.HuaweiPushScope,
		harness.HMSAppID, harness.HMSAppSecret, huaweiURL)
}

func fcmProjectLine(number, keyPath string) string {
	return "fcm_project " + number + " " + keyPath
}

func newChain(t *testing.T, fcmExtra string) *chain {
	t.Helper()
	sa, _ := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	g.AddAccount(sa)
	hw := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, chainSite(keys, g.URL, hw.URL, fcmExtra,
		fcmProjectLine(testFCMProject, writeKeyFile(t, sa, fcmupstream.DefaultTokenURL))))
	return &chain{keys: keys, google: g, huawei: hw, sa: sa, client: tester.Client,
		hmsIss: func() []string { return hw.IssuedTokens(harness.HMSAppID) }}
}

// asToken gets an access token from the embedded AS exactly as Sinch
// does: client_secret_post with the scope the Dashboard holds.
func (c *chain) asToken(t *testing.T, scope string) string {
	t.Helper()
	return harness.PostForm(t, c.client, harness.ASURL, harness.ClientCredentials(scope).Encode()).WantToken(t)
}

func fcmForm(project string) string {
	return url.Values{"grant_type": {"client_credentials"}, "fcm_project_number": {project}}.Encode()
}

func hmsBearerForm() string {
	return url.Values{"grant_type": {"client_credentials"}, "hms_application_id": {harness.HMSAppID}}.Encode()
}

func TestAltAChainFCMAndHMS(t *testing.T) {
	c := newChain(t, "")

	fcmAccess := c.asToken(t, fcmupstream.Scope)
	a := harness.PostForm(t, c.client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+fcmAccess)
	googleTok := a.WantToken(t)
	issued := c.google.IssuedTokens(c.sa.Email)
	if len(issued) != 1 || issued[0] != googleTok {
		t.Fatalf("answered token is not the one Google issued for the service account")
	}
	if ei := a.ExpiresIn(t); ei < 3590 || ei > googletest.DefaultExpiresIn {
		t.Errorf("expires_in %d, want the remaining life of a %ds token", ei, googletest.DefaultExpiresIn)
	}
	again := harness.PostForm(t, c.client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+fcmAccess)
	if again.WantToken(t) != googleTok || c.google.Calls() != 1 {
		t.Errorf("second request: Google called %d times, want 1 (cached)", c.google.Calls())
	}

	hmsAccess := c.asToken(t, sinchauth.HuaweiPushScope)
	h := harness.PostForm(t, c.client, harness.TokenURL, hmsBearerForm(), "Authorization", "Bearer "+hmsAccess)
	if tok := h.WantToken(t); len(c.hmsIss()) != 1 || c.hmsIss()[0] != tok {
		t.Errorf("HMS answer is not Huawei's token")
	}

	// Each endpoint wants its own scope: a token for one is not one for
	// the other (401 invalid_token, naming insufficient_scope, as every
	// refused bearer token of the contract).
	for target, body := range map[string]string{testFCMURL: fcmForm(testFCMProject), harness.TokenURL: hmsBearerForm()} {
		tok := hmsAccess
		if target == harness.TokenURL {
			tok = fcmAccess
		}
		a := harness.PostForm(t, c.client, target, body, "Authorization", "Bearer "+tok)
		a.WantError(t, http.StatusUnauthorized, "invalid_token")
		if !strings.Contains(a.Raw, "insufficient_scope") {
			t.Errorf("%s: description does not name the missing scope: %s", target, a.Raw)
		}
	}
}

// TestAltAChainBasicAuth: client_secret_basic gets a token the endpoints
// accept just as well.
func TestAltAChainBasicAuth(t *testing.T) {
	c := newChain(t, "")
	req, _ := http.NewRequest(http.MethodPost, harness.ASURL, strings.NewReader("grant_type=client_credentials&scope="+url.QueryEscape(fcmupstream.Scope)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(harness.ClientID), url.QueryEscape(harness.ClientSecret))
	access := harness.Do(t, c.client, req).WantToken(t)
	harness.PostForm(t, c.client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access).WantToken(t)
}

// foreignToken mints an access token the way the embedded AS does, but
// with another key, issuer or clock.
func foreignToken(t *testing.T, keys harness.ASKeys, issuer string, now time.Time) string {
	t.Helper()
	s, err := oauthserver.New(oauthserver.Config{
		Clients: map[string]string{harness.ClientID: harness.ClientSecret},
		Key:     keys.Priv,
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	iss, oerr := s.Exchange(map[string]string{"grant_type": "client_credentials", "client_id": harness.ClientID,
		"client_secret": harness.ClientSecret, "scope": fcmupstream.Scope}, "", issuer, harness.Base)
	if oerr != nil {
		t.Fatal(oerr)
	}
	return iss.AccessToken
}

func TestFCMRefusals(t *testing.T) {
	c := newChain(t, "")
	access := c.asToken(t, fcmupstream.Scope)
	wrongSecret := harness.ClientCredentials(fcmupstream.Scope)
	wrongSecret.Set("client_secret", "not-the-secret")
	harness.PostForm(t, c.client, harness.ASURL, wrongSecret.Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	harness.PostForm(t, c.client, harness.ASURL, harness.ClientCredentials("https://www.googleapis.com/auth/cloud-platform").Encode()).
		WantError(t, http.StatusBadRequest, "invalid_scope")

	for name, tc := range map[string]struct {
		body, auth string
		status     int
		code       string
	}{
		"no bearer token":      {fcmForm(testFCMProject), "", 401, "invalid_client"},
		"token of another AS":  {fcmForm(testFCMProject), "Bearer " + foreignToken(t, harness.NewASKeys(t), harness.Base, time.Now()), 401, "invalid_token"},
		"another issuer":       {fcmForm(testFCMProject), "Bearer " + foreignToken(t, c.keys, "https://other.example", time.Now()), 401, "invalid_token"},
		"expired token":        {fcmForm(testFCMProject), "Bearer " + foreignToken(t, c.keys, harness.Base, time.Now().Add(-2*time.Hour)), 401, "invalid_token"},
		"garbage token":        {fcmForm(testFCMProject), "Bearer not.a.jwt", 401, "invalid_token"},
		"unknown project":      {fcmForm("999"), "Bearer " + access, 400, "unauthorized_client"},
		"no project number":    {"grant_type=client_credentials", "Bearer " + access, 400, "invalid_request"},
		"wrong grant type":     {"grant_type=password&fcm_project_number=" + testFCMProject, "Bearer " + access, 400, "unsupported_grant_type"},
		"other scope asked":    {fcmForm(testFCMProject) + "&scope=https%3A%2F%2Fpush-api.cloud.huawei.com", "Bearer " + access, 400, "invalid_scope"},
		"client assertion too": {fcmForm(testFCMProject) + "&client_assertion=a.b.c", "Bearer " + access, 400, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			var headers []string
			if tc.auth != "" {
				headers = []string{"Authorization", tc.auth}
			}
			a := harness.PostForm(t, c.client, testFCMURL, tc.body, headers...)
			a.WantError(t, tc.status, tc.code)
			if tc.status == 401 && !strings.HasPrefix(a.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %v", a.Header)
			}
		})
	}
	// An unauthenticated caller learns nothing about which projects exist.
	harness.PostForm(t, c.client, testFCMURL, fcmForm("999"), "Authorization", "Bearer not.a.jwt").
		WantError(t, http.StatusUnauthorized, "invalid_token")
	req, _ := http.NewRequest(http.MethodGet, testFCMURL, nil)
	harness.Do(t, c.client, req).WantError(t, http.StatusMethodNotAllowed, "invalid_request")
	if n := c.google.Calls(); n != 0 {
		t.Errorf("refused requests reached Google %d times", n)
	}
}

func TestFCMGoogleRejectsKey(t *testing.T) {
	c := newChain(t, "")
	c.google.DisableAccount(c.sa.Email)
	access := c.asToken(t, fcmupstream.Scope)
	a := harness.PostForm(t, c.client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access)
	a.WantError(t, http.StatusBadGateway, "server_error")
	if !strings.Contains(a.Raw, "invalid_client") || strings.Contains(a.Raw, "PRIVATE KEY") {
		t.Errorf("description should name Google's error and nothing secret: %s", a.Raw)
	}
}

// TestFCMGoogleKeyUnknown: a key Google does not know (deleted, or the
// file of another account) is rejected with invalid_grant: 502.
func TestFCMGoogleKeyUnknown(t *testing.T) {
	_, other := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	hw := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, chainSite(keys, g.URL, hw.URL, "",
		fcmProjectLine(testFCMProject, writeKeyFile(t, other, fcmupstream.DefaultTokenURL))))
	access := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(fcmupstream.Scope).Encode()).WantToken(t)
	a := harness.PostForm(t, tester.Client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access)
	a.WantError(t, http.StatusBadGateway, "server_error")
	if !strings.Contains(a.Raw, "invalid_grant") {
		t.Errorf("description should carry Google's invalid_grant: %s", a.Raw)
	}
}

// TestFCMGoogleDownServesCachedToken: Google's tokens here live 200s and
// refresh_before is 5m, so every request tries a refresh; the test clock
// moves on so the served token's expires_in shows its remaining life. While Google is down, the
// cached token (still valid) is served; a project with nothing cached gets
// 503 with Retry-After.
func TestFCMGoogleDownServesCachedToken(t *testing.T) {
	sa, other := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	g.AddAccount(sa)
	g.AddAccount(other)
	g.SetExpiresIn(200)
	hw := harness.NewHuawei(t)
	clk := harness.UseTestClock(t)
	tester := harness.StartCaddy(t, chainSite(keys, g.URL, hw.URL, "refresh_before 5m",
		fcmProjectLine(testFCMProject, writeKeyFile(t, sa, fcmupstream.DefaultTokenURL)),
		fcmProjectLine("42", writeKeyFile(t, other, fcmupstream.DefaultTokenURL))))
	access := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(fcmupstream.Scope).Encode()).WantToken(t)
	ask := func(project string) harness.Answer {
		return harness.PostForm(t, tester.Client, testFCMURL, fcmForm(project), "Authorization", "Bearer "+access)
	}

	fetched := func(project, outcome string) float64 {
		return harness.Sample(t, harness.Metrics(t), `caddy_sinch_fcm_google_fetches_total{fcm_project="`+project+`",outcome="`+outcome+`"}`)
	}
	staleBefore := harness.Sample(t, harness.Metrics(t), `caddy_sinch_fcm_cache_requests_total{fcm_project="`+testFCMProject+`",result="stale"}`)
	okBefore, downBefore, coldBefore := fetched(testFCMProject, "success"), fetched(testFCMProject, "unavailable"), fetched("42", "unavailable")

	first := ask(testFCMProject).WantToken(t)
	clk.Advance(110 * time.Second)
	g.SetFault(googletest.Fault{Status: http.StatusServiceUnavailable})
	stale := ask(testFCMProject)
	if stale.WantToken(t) != first {
		t.Error("Google down: the cached, still valid token was not served")
	}
	if ei := stale.ExpiresIn(t); ei > 95 || ei < 80 {
		t.Errorf("stale token's expires_in %d, want its remaining life (about 90)", ei)
	}
	if n := g.Calls(); n != 2 {
		t.Errorf("Google calls %d, want 2 (first fetch, failed refresh)", n)
	}
	cold := ask("42")
	cold.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if cold.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	g.SetFault(googletest.Fault{})
	if fresh := ask(testFCMProject).WantToken(t); fresh == first {
		t.Error("Google back: the token was not refreshed")
	}
	if d := fetched(testFCMProject, "success") - okBefore; d != 2 {
		t.Errorf("google_fetches_total{outcome=success} +%v, want +2", d)
	}
	if d := fetched(testFCMProject, "unavailable") - downBefore; d != 1 {
		t.Errorf("google_fetches_total{outcome=unavailable} +%v, want +1", d)
	}
	if d := fetched("42", "unavailable") - coldBefore; d != 1 {
		t.Errorf("google_fetches_total{fcm_project=42,outcome=unavailable} +%v, want +1", d)
	}
	if d := harness.Sample(t, harness.Metrics(t), `caddy_sinch_fcm_cache_requests_total{fcm_project="`+testFCMProject+`",result="stale"}`) - staleBefore; d != 1 {
		t.Errorf("cache_requests_total{result=stale} +%v, want +1", d)
	}
}

// TestFCMCacheSurvivesReload: the same project and key file keep their
// token across a config reload.
func TestFCMCacheSurvivesReload(t *testing.T) {
	sa, _ := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	g.AddAccount(sa)
	hw := harness.NewHuawei(t)
	site := chainSite(keys, g.URL, hw.URL, "", fcmProjectLine(testFCMProject, writeKeyFile(t, sa, fcmupstream.DefaultTokenURL)))
	tester := harness.StartCaddy(t, site)
	access := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(fcmupstream.Scope).Encode()).WantToken(t)
	first := harness.PostForm(t, tester.Client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access).WantToken(t)

	tester = harness.StartCaddy(t, site+"\n# reload\n")
	second := harness.PostForm(t, tester.Client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access).WantToken(t)
	if second != first || g.Calls() != 1 {
		t.Errorf("after a reload: Google called %d times, token same=%v; want 1 call and the cached token", g.Calls(), second == first)
	}
}

func TestFCMConcurrentColdRequestsCallGoogleOnce(t *testing.T) {
	c := newChain(t, "")
	access := c.asToken(t, fcmupstream.Scope)
	const n = 100
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	toks := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			a := harness.PostForm(t, client, testFCMURL, fcmForm(testFCMProject), "Authorization", "Bearer "+access)
			toks[i], _ = a.Body["access_token"].(string)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if toks[i] == "" || toks[i] != toks[0] {
			t.Fatalf("request %d got %q; all must get the same token", i, toks[i])
		}
	}
	if calls := c.google.Calls(); calls != 1 {
		t.Errorf("%d concurrent cold requests made %d Google calls, want 1", n, calls)
	}
}

func TestFCMCaddyfile(t *testing.T) {
	var h FCMHandler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`sinch_fcm {
		bearer {
			public_key /etc/caddy/as.pub
			issuer https://auth.example.com
			audience https://auth.example.com
		}
		fcm_project 111 /keys/a.json
		fcm_project 222 {env.KEY_B}
		google_token_url http://localhost:9/token
		refresh_before 2m
		token_store memory
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if h.Bearer == nil || h.Bearer.PublicKey != "/etc/caddy/as.pub" || len(h.Projects) != 2 || h.Projects[1].KeyFile != "{env.KEY_B}" ||
		h.GoogleTokenURL != "http://localhost:9/token" || time.Duration(h.RefreshBefore) != 2*time.Minute || h.TokenStore.Backend != "memory" {
		t.Errorf("parsed %+v", h)
	}
	for src, want := range map[string]string{
		"sinch_fcm {\n fcm_project 1\n}":                           "exactly a project number",
		"sinch_fcm {\n fcm_project abc /k.json\n}":                 "not a number",
		"sinch_fcm {\n google_token_url a\n google_token_url b\n}": "more than once",
		"sinch_fcm {\n hms_application 1 2\n}":                     "unrecognized subdirective",
		"sinch_fcm {\n token_store etcd\n}":                        "unknown backend",
	} {
		var h FCMHandler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestFCMLoadErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real Caddy")
	}
	sa, _ := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	googleKey := writeKeyFile(t, sa, fcmupstream.DefaultTokenURL)
	tampered := writeKeyFile(t, sa, "https://evil.example/token")
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n")
	bearer := fmt.Sprintf("bearer {\npublic_key %s\nissuer %s\naudience %s\n}", keys.PubPath, harness.Base, harness.Base)
	site := func(body string) string {
		return harness.GlobalOptions + fmt.Sprintf("%s {\n\troute /t {\n\t\tsinch_fcm {\n%s\n\t\t}\n\t}\n}\n", harness.Base, body)
	}
	for name, tc := range map[string]struct{ body, want string }{
		"no bearer":          {"fcm_project 1 " + googleKey, "bearer is required"},
		"no project":         {bearer, "no fcm_project"},
		"tampered token_uri": {bearer + "\nfcm_project 1 " + tampered, "token_uri"},
		"missing key file":   {bearer + "\nfcm_project 1 /nonexistent/key.json", "no such file"},
		"not a key file":     {bearer + "\nfcm_project 1 " + keys.PubPath, "not JSON"},
		"project twice":      {bearer + "\nfcm_project 1 " + googleKey + "\nfcm_project 1 " + googleKey, "twice"},
	} {
		t.Run(name, func(t *testing.T) {
			if msg := harness.LoadError(t, site(tc.body)); !strings.Contains(msg, tc.want) {
				t.Errorf("load error %q does not contain %q", msg, tc.want)
			}
		})
	}
}

// TestTokenCheckWholeChain runs the CLI's check against all three
// endpoints.
func TestTokenCheckWholeChain(t *testing.T) {
	c := newChain(t, "")
	var out strings.Builder
	tc := authserver.TokenCheck{TokenURL: harness.ASURL, ClientID: harness.ClientID, ClientSecret: harness.ClientSecret, Client: c.client,
		FCMURL: testFCMURL, FCMProject: testFCMProject, HMSURL: harness.TokenURL, HMSAppID: harness.HMSAppID}
	ok, err := tc.Run(t.Context(), &out)
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v\n%s", ok, err, out.String())
	}
	s := out.String()
	if strings.Count(s, "HTTP 200") != 4 || !strings.Contains(s, "FCM: POST") || !strings.Contains(s, "HMS: POST") {
		t.Errorf("output:\n%s", s)
	}
	for _, tok := range append(c.google.IssuedTokens(c.sa.Email), c.hmsIss()...) {
		if strings.Contains(s, tok) {
			t.Errorf("output holds an issued token:\n%s", s)
		}
	}
}
