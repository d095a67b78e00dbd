package hms

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
)

// The tests in this file drive Alt A through a real, in-process Caddy: an
// in-process Authorization Server (astest) publishes a JWKS and answers
// introspection, and the Huawei emulator hands out the tokens.

const testBearerScope = "sinch.hms.token"

// newAS starts a test Authorization Server.
func newAS(t *testing.T) *astest.Server {
	t.Helper()
	as := astest.NewServer()
	t.Cleanup(as.Close)
	return as
}

// jwksBlock is a bearer block verifying as's JWT access tokens.
func jwksBlock(as *astest.Server, extra string) string {
	return fmt.Sprintf(`bearer {
				jwks_url %s
				issuer %s
				audience %s
				scope %s
				%s
			}`, as.JWKSURL(), as.Issuer(), testTokenURL, testBearerScope, extra)
}

// introspectionBlock is a bearer block introspecting as's opaque tokens.
func introspectionBlock(as *astest.Server) string {
	return fmt.Sprintf(`bearer {
				introspection_url %s
				introspection_client %s %s
				audience %s
				scope %s
			}`, as.IntrospectionURL(), as.ClientID, as.ClientSecret, testTokenURL, testBearerScope)
}

// goodJWT is an access token as the AS issues it to Sinch.
func goodJWT(as *astest.Server) string {
	return as.Mint(as.Claims(testTokenURL, testBearerScope, time.Hour))
}

// jwtWith is a token of as's signing key with the claims changed by mod.
func jwtWith(as *astest.Server, mod func(jwt.MapClaims)) string {
	c := as.Claims(testTokenURL, testBearerScope, time.Hour)
	mod(c)
	return as.Mint(c)
}

// altA posts an Alt A token request: the bearer token and hms_application_id.
func altA(t *testing.T, client *http.Client, token, hmsAppID string) answer {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if hmsAppID != "" {
		form.Set("hms_application_id", hmsAppID)
	}
	return postForm(t, client, testTokenURL, form.Encode(), "Authorization", "Bearer "+token)
}

// wantInvalidToken asserts an RFC 6750 invalid_token answer that does not
// echo the token.

func TestAltAJWTThroughCaddy(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	tester := startCaddy(t, hmsSite(emu.URL, jwksBlock(as, "")))
	c := tester.Client

	tok := altA(t, c, goodJWT(as), testHMSAppID).WantToken(t)
	if issued := emu.IssuedTokens(testHMSAppID); len(issued) != 1 || issued[0] != tok {
		t.Fatalf("answered token is not Huawei's")
	}
	// The same endpoint still takes Sinch client assertions (Alt B).
	if got := postForm(t, c, testTokenURL, assertionForm(mint(t)).Encode()).WantToken(t); got != tok {
		t.Errorf("Alt B answer has another token; want the cached one")
	}

	// Before any unknown kid has used up the refresh allowance of this
	// minute (see TestAltARefreshStormIsBounded for why there is one).
	t.Run("key rotation mid-test", func(t *testing.T) {
		before := as.JWKSFetches()
		as.AddKey(astest.NewKey("k2", "RS256"))
		altA(t, c, goodJWT(as), testHMSAppID).WantToken(t)
		if n := as.JWKSFetches() - before; n != 1 {
			t.Errorf("the rotated key cost %d JWKS fetches, want 1", n)
		}
		// The next tokens of the new key need no fetch.
		altA(t, c, goodJWT(as), testHMSAppID).WantToken(t)
		if n := as.JWKSFetches() - before; n != 1 {
			t.Errorf("JWKS fetched again for a known kid (%d)", n)
		}
	})
	t.Run("missing hms_application_id", func(t *testing.T) {
		altA(t, c, goodJWT(as), "").WantError(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("unconfigured hms_application_id", func(t *testing.T) {
		altA(t, c, goodJWT(as), "987654321").WantError(t, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("bad token before unknown app", func(t *testing.T) {
		altA(t, c, "garbage", "987654321").WantInvalidToken(t, "garbage")
	})
	t.Run("both credentials", func(t *testing.T) {
		form := assertionForm(mint(t))
		form.Set("hms_application_id", testHMSAppID)
		a := postForm(t, c, testTokenURL, form.Encode(), "Authorization", "Bearer "+goodJWT(as))
		a.WantError(t, http.StatusBadRequest, "invalid_request")
	})
	stranger := astest.NewKey("stranger", "EdDSA")
	for name, tc := range map[string]struct{ token, reason string }{
		"wrong issuer":   {jwtWith(as, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), "bad_issuer"},
		"wrong audience": {jwtWith(as, func(c jwt.MapClaims) { c["aud"] = "https://other.example/token" }), "bad_audience"},
		"expired":        {jwtWith(as, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() }), "expired"},
		"HS256 with the public key as secret": {hs256Confusion(t, as.SigningKey(),
			as.Claims(testTokenURL, testBearerScope, time.Hour)), "bad_algorithm"},
		"unknown kid":   {astest.MintWith(stranger, as.Claims(testTokenURL, testBearerScope, time.Hour), nil), "unknown_key"},
		"garbage token": {"not-a-token-at-all-and-not-opaque-either", "malformed"},
	} {
		t.Run(name, func(t *testing.T) {
			a := altA(t, c, tc.token, testHMSAppID)
			a.WantInvalidToken(t, tc.token)
			if !strings.Contains(a.Raw, "("+tc.reason+")") {
				t.Errorf("description should name the reason %s: %s", tc.reason, a.Raw)
			}
		})
	}
	t.Run("missing scope", func(t *testing.T) {
		bad := jwtWith(as, func(c jwt.MapClaims) { c["scope"] = "openid profile" })
		a := altA(t, c, bad, testHMSAppID)
		a.WantError(t, http.StatusUnauthorized, "invalid_token")
		if ch := a.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer error="invalid_token"`) || !strings.Contains(ch, "insufficient_scope") {
			t.Errorf("WWW-Authenticate = %q", ch)
		}
	})

	if n := emu.Calls(); n != 1 {
		t.Errorf("Huawei called %d times, want 1 (every bad token stopped at the edge)", n)
	}
}

// TestAltARefreshStormIsBounded sends many tokens with forged, unknown
// kids at once: the JWKS is fetched at most once more, not once each.
func TestAltARefreshStormIsBounded(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	tester := startCaddy(t, hmsSite(emu.URL, jwksBlock(as, "jwks_min_refresh_interval 1h")))
	before := as.JWKSFetches()
	if before < 1 {
		t.Fatalf("JWKS not fetched at start-up")
	}
	const forged = 100
	var wg sync.WaitGroup
	statuses := make([]int, forged)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := range forged {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := astest.NewKey(fmt.Sprintf("forged-%d", i), "EdDSA")
			tok := astest.MintWith(k, as.Claims(testTokenURL, testBearerScope, time.Hour), nil)
			statuses[i] = altA(t, client, tok, testHMSAppID).Status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusUnauthorized {
			t.Fatalf("forged token %d: status %d, want 401", i, s)
		}
	}
	if n := as.JWKSFetches() - before; n > 1 {
		t.Errorf("%d forged kids caused %d JWKS fetches, want at most 1", forged, n)
	}
	// A genuine token of a known key is still served after the storm.
	altA(t, tester.Client, goodJWT(as), testHMSAppID).WantToken(t)
}

// TestAltAJWKSDownAtStartUp: an AS that is down while Caddy starts does
// not fail the config, and tokens are accepted once it is back.
func TestAltAJWKSDownAtStartUp(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	as.SetJWKSDown(true)
	tester := startCaddy(t, hmsSite(emu.URL, jwksBlock(as, ""))) // must load
	if as.JWKSFetches() < 1 {
		t.Fatalf("JWKS not tried at start-up")
	}
	as.SetJWKSDown(false)
	// No key is known yet, so the first token's kid is unknown: one fetch.
	altA(t, tester.Client, goodJWT(as), testHMSAppID).WantToken(t)
}

func TestAltAPublicKey(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	pem := filepath.Join(t.TempDir(), "as.pub.pem")
	if err := os.WriteFile(pem, as.SigningKey().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	block := fmt.Sprintf(`bearer {
				public_key %s
				issuer %s
				audience %s
			}`, pem, as.Issuer(), testTokenURL)
	tester := startCaddy(t, hmsSite(emu.URL, block))
	altA(t, tester.Client, goodJWT(as), testHMSAppID).WantToken(t)
	other := astest.NewKey("k1", "EdDSA") // same kid, another key
	bad := astest.MintWith(other, as.Claims(testTokenURL, testBearerScope, time.Hour), nil)
	altA(t, tester.Client, bad, testHMSAppID).WantInvalidToken(t, bad)
	if n := as.JWKSFetches(); n != 0 {
		t.Errorf("public_key mode fetched the JWKS %d times", n)
	}
}

func TestAltAIntrospection(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	tester := startCaddy(t, hmsSite(emu.URL, introspectionBlock(as)))
	c := tester.Client
	info := func() astest.Introspected {
		return astest.Introspected{
			"client_id": "sinch-client", "scope": testBearerScope, "aud": testTokenURL,
			"exp": time.Now().Add(time.Hour).Unix(),
		}
	}
	good := as.IssueOpaque(info())
	altA(t, c, good, testHMSAppID).WantToken(t)
	altA(t, c, good, testHMSAppID).WantToken(t)
	if n := as.IntrospectionCalls(); n != 1 {
		t.Errorf("introspection calls = %d for two uses, want 1 (cached)", n)
	}
	altA(t, c, "never-issued-opaque-token-value", testHMSAppID).WantInvalidToken(t, "never-issued-opaque-token-value")
	expired := info()
	expired["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	tok := as.IssueOpaque(expired)
	altA(t, c, tok, testHMSAppID).WantInvalidToken(t, tok)
	noScope := info()
	noScope["scope"] = "openid"
	altA(t, c, as.IssueOpaque(noScope), testHMSAppID).WantError(t, http.StatusUnauthorized, "invalid_token")

	as.Close()
	a := altA(t, c, as.IssueOpaque(info()), testHMSAppID)
	a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if a.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After when the introspection endpoint is down")
	}
}

// TestAltAOnly: a config with bearer and no sinch_application loads, and
// refuses client assertions.
func TestAltAOnly(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	site := fmt.Sprintf(`
%s {
	route %s {
		sinch_hms {
			%s
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, testBase, testTokenPath, jwksBlock(as, ""), testHMSAppID, testHMSAppSecret, emu.URL)
	tester := startCaddy(t, site)
	altA(t, tester.Client, goodJWT(as), testHMSAppID).WantToken(t)
	postForm(t, tester.Client, testTokenURL, assertionForm(mint(t)).Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	// No credential at all: 401 invalid_client with the Bearer challenge.
	none := postForm(t, tester.Client, testTokenURL, "grant_type=client_credentials&hms_application_id="+testHMSAppID)
	none.WantError(t, http.StatusUnauthorized, "invalid_client")
	if ch := none.Header.Get("WWW-Authenticate"); ch != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", ch)
	}
}

func TestForwardModeBearer(t *testing.T) {
	up := &upstreamRecorder{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	emu := newHuawei(t)
	as := newAS(t)
	site := func(extra string) string {
		return fmt.Sprintf(`
%s {
	route %s {
		sinch_hms {
			sinch_application %s %s
			%s
			hms_application %s %s
			huawei_token_url %s
			forward
			%s
		}
		reverse_proxy %s {
			header_up X-Sinch-Flow {sinch_hms.flow}
			header_up X-HMS-Application-Id {sinch_hms.hms_application_id}
			header_up X-Client-Id {sinch_hms.client_id}
			header_up X-Auth-User {http.auth.user.id}
		}
	}
}
`, testBase, testTokenPath, testAppKey, testSinchSecret, jwksBlock(as, ""),
			testHMSAppID, testHMSAppSecret, emu.URL, extra, srv.URL)
	}
	tester := startCaddy(t, site(""))
	c := tester.Client

	// No invalid request reaches the upstream, whatever is wrong with it.
	stranger := astest.NewKey("stranger", "ES256")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), testHMSAppID).WantInvalidToken(t, "")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), testHMSAppID).WantInvalidToken(t, "")
	altA(t, c, astest.MintWith(stranger, as.Claims(testTokenURL, testBearerScope, time.Hour), nil), testHMSAppID).WantInvalidToken(t, "")
	altA(t, c, hs256Confusion(t, as.SigningKey(), as.Claims(testTokenURL, testBearerScope, time.Hour)), testHMSAppID).WantInvalidToken(t, "")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["scope"] = "x" }), testHMSAppID).WantError(t, http.StatusUnauthorized, "invalid_token")
	altA(t, c, goodJWT(as), "").WantError(t, http.StatusBadRequest, "invalid_request")
	altA(t, c, goodJWT(as), "987654321").WantError(t, http.StatusBadRequest, "unauthorized_client")
	postForm(t, c, testTokenURL, "grant_type=client_credentials&hms_application_id="+testHMSAppID).WantError(t, http.StatusUnauthorized, "invalid_client")
	if n := len(up.seen()); n != 0 {
		t.Fatalf("upstream saw %d invalid requests, want 0", n)
	}

	token := goodJWT(as)
	a := altA(t, c, token, testHMSAppID)
	if a.Status != http.StatusOK || a.Body["access_token"] != "from-upstream" {
		t.Fatalf("forwarded answer = %d %s", a.Status, a.Raw)
	}
	seen := up.seen()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	for h, want := range map[string]string{
		"X-Sinch-Flow":         "bearer",
		"X-Hms-Application-Id": testHMSAppID,
		"X-Client-Id":          "sinch-client",
		"X-Auth-User":          testHMSAppID,
		"Authorization":        "",
	} {
		if v := seen[0].header.Get(h); v != want {
			t.Errorf("upstream header %s = %q, want %q", h, v, want)
		}
	}
	if strings.Contains(seen[0].body, token) {
		t.Errorf("the bearer token reached the upstream")
	}
	if form, err := url.ParseQuery(seen[0].body); err != nil || form.Get("hms_application_id") != testHMSAppID ||
		form.Get("grant_type") != "client_credentials" {
		t.Errorf("upstream body = %q", seen[0].body)
	}

	// forward_credentials: the operator asks for the credential.
	tester = startCaddy(t, site("forward_credentials"))
	token = goodJWT(as)
	if a := altA(t, tester.Client, token, testHMSAppID); a.Status != http.StatusOK {
		t.Fatalf("forwarded answer = %d %s", a.Status, a.Raw)
	}
	seen = up.seen()
	if got := seen[len(seen)-1].header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("with forward_credentials the upstream got Authorization %q, want the bearer token", got)
	}
	assertion := mint(t)
	if a := postForm(t, tester.Client, testTokenURL, assertionForm(assertion).Encode()); a.Status != http.StatusOK {
		t.Fatalf("forwarded Alt B answer = %d %s", a.Status, a.Raw)
	}
	seen = up.seen()
	if form, _ := url.ParseQuery(seen[len(seen)-1].body); form.Get("client_assertion") != assertion {
		t.Errorf("with forward_credentials the assertion was not passed on")
	}
	if emu.Calls() != 0 {
		t.Errorf("forward mode called Huawei %d times", emu.Calls())
	}
}

// hs256Confusion is the key-confusion attack: HS256 keyed with the AS's
// public key, which the JWKS publishes to anyone.
func hs256Confusion(t *testing.T, k *astest.Key, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = k.KID
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(k.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAltAJWKSRefreshStopsOnUnload: the periodic JWKS refresh runs on the
// config's context, so loading another config stops it.
func TestAltAJWKSRefreshStopsOnUnload(t *testing.T) {
	emu := newHuawei(t)
	as := newAS(t)
	startCaddy(t, hmsSite(emu.URL, jwksBlock(as, "jwks_refresh_interval 20ms")))
	deadline := time.Now().Add(10 * time.Second)
	for as.JWKSFetches() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic JWKS refresh: %d fetches", as.JWKSFetches())
		}
		time.Sleep(5 * time.Millisecond)
	}
	startCaddy(t, testBase+" {\n\trespond 204\n}\n") // unloads the bearer config
	time.Sleep(50 * time.Millisecond)                // an in-flight refresh may finish
	stopped := as.JWKSFetches()
	time.Sleep(300 * time.Millisecond) // fifteen intervals
	if n := as.JWKSFetches(); n != stopped {
		t.Errorf("JWKS refresh went on after the config was unloaded: %d -> %d fetches", stopped, n)
	}
}
