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
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
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
			}`, as.JWKSURL(), as.Issuer(), harness.TokenURL, testBearerScope, extra)
}

// introspectionBlock is a bearer block introspecting as's opaque tokens.
func introspectionBlock(as *astest.Server) string {
	return fmt.Sprintf(`bearer {
				introspection_url %s
				introspection_client %s %s
				audience %s
				scope %s
			}`, as.IntrospectionURL(), as.ClientID, as.ClientSecret, harness.TokenURL, testBearerScope)
}

// goodJWT is an access token as the AS issues it to Sinch.
func goodJWT(as *astest.Server) string {
	return as.Mint(as.Claims(harness.TokenURL, testBearerScope, time.Hour))
}

// jwtWith is a token of as's signing key with the claims changed by mod.
func jwtWith(as *astest.Server, mod func(jwt.MapClaims)) string {
	c := as.Claims(harness.TokenURL, testBearerScope, time.Hour)
	mod(c)
	return as.Mint(c)
}

// altA posts an Alt A token request: the bearer token and hms_application_id.
func altA(t *testing.T, client *http.Client, token, hmsAppID string) harness.Answer {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if hmsAppID != "" {
		form.Set("hms_application_id", hmsAppID)
	}
	return harness.PostForm(t, client, harness.TokenURL, form.Encode(), "Authorization", "Bearer "+token)
}

// wantInvalidToken asserts an RFC 6750 invalid_token answer that does not
// echo the token.

func TestAltAJWTThroughCaddy(t *testing.T) {
	emu := harness.NewHuawei(t)
	as := newAS(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, jwksBlock(as, "")))
	c := tester.Client

	tok := altA(t, c, goodJWT(as), harness.HMSAppID).WantToken(t)
	if issued := emu.IssuedTokens(harness.HMSAppID); len(issued) != 1 || issued[0] != tok {
		t.Fatalf("answered token is not Huawei's")
	}
	// The same endpoint still takes Sinch client assertions (Alt B).
	if got := harness.PostForm(t, c, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t); got != tok {
		t.Errorf("Alt B answer has another token; want the cached one")
	}

	// Before any unknown kid has used up the refresh allowance of this
	// minute (see TestAltARefreshStormIsBounded for why there is one).
	t.Run("key rotation mid-test", func(t *testing.T) {
		before := as.JWKSFetches()
		as.AddKey(astest.NewKey("k2", "RS256"))
		altA(t, c, goodJWT(as), harness.HMSAppID).WantToken(t)
		if n := as.JWKSFetches() - before; n != 1 {
			t.Errorf("the rotated key cost %d JWKS fetches, want 1", n)
		}
		// The next tokens of the new key need no fetch.
		altA(t, c, goodJWT(as), harness.HMSAppID).WantToken(t)
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
		form := harness.AssertionForm(harness.Mint(t))
		form.Set("hms_application_id", harness.HMSAppID)
		a := harness.PostForm(t, c, harness.TokenURL, form.Encode(), "Authorization", "Bearer "+goodJWT(as))
		a.WantError(t, http.StatusBadRequest, "invalid_request")
	})
	stranger := astest.NewKey("stranger", "EdDSA")
	for name, tc := range map[string]struct{ token, reason string }{
		"wrong issuer":   {jwtWith(as, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), "bad_issuer"},
		"wrong audience": {jwtWith(as, func(c jwt.MapClaims) { c["aud"] = "https://other.example/token" }), "bad_audience"},
		"expired":        {jwtWith(as, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() }), "expired"},
		"HS256 with the public key as secret": {hs256Confusion(t, as.SigningKey(),
			as.Claims(harness.TokenURL, testBearerScope, time.Hour)), "bad_algorithm"},
		"unknown kid":   {astest.MintWith(stranger, as.Claims(harness.TokenURL, testBearerScope, time.Hour), nil), "unknown_key"},
		"garbage token": {"not-a-token-at-all-and-not-opaque-either", "malformed"},
	} {
		t.Run(name, func(t *testing.T) {
			a := altA(t, c, tc.token, harness.HMSAppID)
			a.WantInvalidToken(t, tc.token)
			if !strings.Contains(a.Raw, "("+tc.reason+")") {
				t.Errorf("description should name the reason %s: %s", tc.reason, a.Raw)
			}
		})
	}
	t.Run("missing scope", func(t *testing.T) {
		bad := jwtWith(as, func(c jwt.MapClaims) { c["scope"] = "openid profile" })
		a := altA(t, c, bad, harness.HMSAppID)
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
	emu := harness.NewHuawei(t)
	as := newAS(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, jwksBlock(as, "jwks_min_refresh_interval 1h")))
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
			tok := astest.MintWith(k, as.Claims(harness.TokenURL, testBearerScope, time.Hour), nil)
			statuses[i] = altA(t, client, tok, harness.HMSAppID).Status
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
	altA(t, tester.Client, goodJWT(as), harness.HMSAppID).WantToken(t)
}

// TestAltAJWKSDownAtStartUp: an AS that is down while Caddy starts does
// not fail the config, and tokens are accepted once it is back.
func TestAltAJWKSDownAtStartUp(t *testing.T) {
	emu := harness.NewHuawei(t)
	as := newAS(t)
	as.SetJWKSDown(true)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, jwksBlock(as, ""))) // must load
	if as.JWKSFetches() < 1 {
		t.Fatalf("JWKS not tried at start-up")
	}
	as.SetJWKSDown(false)
	// No key is known yet, so the first token's kid is unknown: one fetch.
	altA(t, tester.Client, goodJWT(as), harness.HMSAppID).WantToken(t)
}

func TestAltAPublicKey(t *testing.T) {
	emu := harness.NewHuawei(t)
	as := newAS(t)
	pem := filepath.Join(t.TempDir(), "as.pub.pem")
	if err := os.WriteFile(pem, as.SigningKey().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	block := fmt.Sprintf(`bearer {
				public_key %s
				issuer %s
				audience %s
			}`, pem, as.Issuer(), harness.TokenURL)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, block))
	altA(t, tester.Client, goodJWT(as), harness.HMSAppID).WantToken(t)
	other := astest.NewKey("k1", "EdDSA") // same kid, another key
	bad := astest.MintWith(other, as.Claims(harness.TokenURL, testBearerScope, time.Hour), nil)
	altA(t, tester.Client, bad, harness.HMSAppID).WantInvalidToken(t, bad)
	if n := as.JWKSFetches(); n != 0 {
		t.Errorf("public_key mode fetched the JWKS %d times", n)
	}
}

func TestAltAIntrospection(t *testing.T) {
	emu := harness.NewHuawei(t)
	as := newAS(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, introspectionBlock(as)))
	c := tester.Client
	info := func() astest.Introspected {
		return astest.Introspected{
			"client_id": "sinch-client", "scope": testBearerScope, "aud": harness.TokenURL,
			"exp": time.Now().Add(time.Hour).Unix(),
		}
	}
	good := as.IssueOpaque(info())
	altA(t, c, good, harness.HMSAppID).WantToken(t)
	altA(t, c, good, harness.HMSAppID).WantToken(t)
	if n := as.IntrospectionCalls(); n != 1 {
		t.Errorf("introspection calls = %d for two uses, want 1 (cached)", n)
	}
	altA(t, c, "never-issued-opaque-token-value", harness.HMSAppID).WantInvalidToken(t, "never-issued-opaque-token-value")
	expired := info()
	expired["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	tok := as.IssueOpaque(expired)
	altA(t, c, tok, harness.HMSAppID).WantInvalidToken(t, tok)
	noScope := info()
	noScope["scope"] = "openid"
	altA(t, c, as.IssueOpaque(noScope), harness.HMSAppID).WantError(t, http.StatusUnauthorized, "invalid_token")

	as.Close()
	a := altA(t, c, as.IssueOpaque(info()), harness.HMSAppID)
	a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if a.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After when the introspection endpoint is down")
	}
}

// TestAltAForgedOpaqueTokensAreBounded: a flood of forged opaque tokens
// cannot turn into as many calls on the customer's introspection endpoint:
// the calls are bounded (bearerauth: a burst of 20, then 10 per second), a
// token over the bound gets 503 bearer_introspection_throttled (not
// "invalid": it was not checked), none gets a token, and a good token the
// verifier already knows is still served.
func TestAltAForgedOpaqueTokensAreBounded(t *testing.T) {
	emu := harness.NewHuawei(t)
	as := newAS(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, introspectionBlock(as)))
	c := tester.Client
	good := as.IssueOpaque(astest.Introspected{
		"client_id": "sinch-client", "scope": testBearerScope, "aud": harness.TokenURL,
		"exp": time.Now().Add(time.Hour).Unix(),
	})
	altA(t, c, good, harness.HMSAppID).WantToken(t)
	before := as.IntrospectionCalls()
	start := time.Now()
	answers := map[string]int{}
	for i := range 300 {
		a := altA(t, c, fmt.Sprintf("forged-opaque-token-%03d-%s", i, strings.Repeat("x", 20)), harness.HMSAppID)
		if a.Status == http.StatusOK {
			t.Fatalf("forged token %d got a token", i)
		}
		answers[fmt.Sprintf("%d %v", a.Status, a.Body["error"])]++
		if a.Status == http.StatusServiceUnavailable && a.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	elapsed := time.Since(start)
	calls := as.IntrospectionCalls() - before
	bound := 20 + 10*int(elapsed/time.Second+1)
	t.Logf("300 forged opaque tokens in %v: %d introspection calls (bound %d); answers %v", elapsed.Round(time.Millisecond), calls, bound, answers)
	if calls > bound {
		t.Errorf("300 forged tokens made %d introspection calls, want at most %d", calls, bound)
	}
	if answers["503 temporarily_unavailable"] == 0 {
		t.Errorf("no forged token was throttled: %v", answers)
	}
	altA(t, c, good, harness.HMSAppID).WantToken(t)
}

// TestAltAOnly: a config with bearer and no sinch_application loads, and
// refuses client assertions.
func TestAltAOnly(t *testing.T) {
	emu := harness.NewHuawei(t)
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
`, harness.Base, harness.TokenPath, jwksBlock(as, ""), harness.HMSAppID, harness.HMSAppSecret, emu.URL)
	tester := harness.StartCaddy(t, site)
	altA(t, tester.Client, goodJWT(as), harness.HMSAppID).WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	// No credential at all: 401 invalid_client with the Bearer challenge.
	none := harness.PostForm(t, tester.Client, harness.TokenURL, "grant_type=client_credentials&hms_application_id="+harness.HMSAppID)
	none.WantError(t, http.StatusUnauthorized, "invalid_client")
	if ch := none.Header.Get("WWW-Authenticate"); ch != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", ch)
	}
}

func TestForwardModeBearer(t *testing.T) {
	up := &upstreamRecorder{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	emu := harness.NewHuawei(t)
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
`, harness.Base, harness.TokenPath, harness.AppKey, harness.SinchSecret, jwksBlock(as, ""),
			harness.HMSAppID, harness.HMSAppSecret, emu.URL, extra, srv.URL)
	}
	tester := harness.StartCaddy(t, site(""))
	c := tester.Client

	// No invalid request reaches the upstream, whatever is wrong with it.
	stranger := astest.NewKey("stranger", "ES256")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), harness.HMSAppID).WantInvalidToken(t, "")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), harness.HMSAppID).WantInvalidToken(t, "")
	altA(t, c, astest.MintWith(stranger, as.Claims(harness.TokenURL, testBearerScope, time.Hour), nil), harness.HMSAppID).WantInvalidToken(t, "")
	altA(t, c, hs256Confusion(t, as.SigningKey(), as.Claims(harness.TokenURL, testBearerScope, time.Hour)), harness.HMSAppID).WantInvalidToken(t, "")
	altA(t, c, jwtWith(as, func(c jwt.MapClaims) { c["scope"] = "x" }), harness.HMSAppID).WantError(t, http.StatusUnauthorized, "invalid_token")
	altA(t, c, goodJWT(as), "").WantError(t, http.StatusBadRequest, "invalid_request")
	altA(t, c, goodJWT(as), "987654321").WantError(t, http.StatusBadRequest, "unauthorized_client")
	harness.PostForm(t, c, harness.TokenURL, "grant_type=client_credentials&hms_application_id="+harness.HMSAppID).WantError(t, http.StatusUnauthorized, "invalid_client")
	if n := len(up.seen()); n != 0 {
		t.Fatalf("upstream saw %d invalid requests, want 0", n)
	}

	token := goodJWT(as)
	a := altA(t, c, token, harness.HMSAppID)
	if a.Status != http.StatusOK || a.Body["access_token"] != "from-upstream" {
		t.Fatalf("forwarded answer = %d %s", a.Status, a.Raw)
	}
	seen := up.seen()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	for h, want := range map[string]string{
		"X-Sinch-Flow":         "bearer",
		"X-Hms-Application-Id": harness.HMSAppID,
		"X-Client-Id":          "sinch-client",
		"X-Auth-User":          harness.HMSAppID,
		"Authorization":        "",
	} {
		if v := seen[0].header.Get(h); v != want {
			t.Errorf("upstream header %s = %q, want %q", h, v, want)
		}
	}
	if strings.Contains(seen[0].body, token) {
		t.Errorf("the bearer token reached the upstream")
	}
	if form, err := url.ParseQuery(seen[0].body); err != nil || form.Get("hms_application_id") != harness.HMSAppID ||
		form.Get("grant_type") != "client_credentials" {
		t.Errorf("upstream body = %q", seen[0].body)
	}

	// forward_credentials: the operator asks for the credential.
	tester = harness.StartCaddy(t, site("forward_credentials"))
	token = goodJWT(as)
	if a := altA(t, tester.Client, token, harness.HMSAppID); a.Status != http.StatusOK {
		t.Fatalf("forwarded answer = %d %s", a.Status, a.Raw)
	}
	seen = up.seen()
	if got := seen[len(seen)-1].header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("with forward_credentials the upstream got Authorization %q, want the bearer token", got)
	}
	assertion := harness.Mint(t)
	if a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(assertion).Encode()); a.Status != http.StatusOK {
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
	emu := harness.NewHuawei(t)
	as := newAS(t)
	harness.StartCaddy(t, harness.HMSSite(emu.URL, jwksBlock(as, "jwks_refresh_interval 20ms")))
	deadline := time.Now().Add(10 * time.Second)
	for as.JWKSFetches() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic JWKS refresh: %d fetches", as.JWKSFetches())
		}
		time.Sleep(5 * time.Millisecond)
	}
	harness.StartCaddy(t, harness.Base+" {\n\trespond 204\n}\n") // unloads the bearer config
	time.Sleep(50 * time.Millisecond)                            // an in-flight refresh may finish
	stopped := as.JWKSFetches()
	time.Sleep(300 * time.Millisecond) // fifteen intervals
	if n := as.JWKSFetches(); n != stopped {
		t.Errorf("JWKS refresh went on after the config was unloaded: %d -> %d fetches", stopped, n)
	}
}
