package bearerauth_test

import (
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

func introspector(t testing.TB, as *astest.Server, c *testclock.Clock, mod func(*bearerauth.IntrospectionConfig)) *bearerauth.IntrospectionVerifier {
	t.Helper()
	cfg := bearerauth.IntrospectionConfig{
		URL: as.IntrospectionURL(), ClientID: as.ClientID, ClientSecret: as.ClientSecret,
		Issuer: as.Issuer(), Audience: testAudience, RequiredScopes: []string{testScope},
		ClockSkew: time.Minute, CacheTTL: 5 * time.Minute, Now: c.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := bearerauth.NewIntrospectionVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func goodInfo(as *astest.Server, now time.Time) astest.Introspected {
	return astest.Introspected{
		"scope": "openid " + testScope, "client_id": "sinch-client", "sub": "sinch",
		"iss": as.Issuer(), "aud": testAudience, "exp": now.Add(time.Hour).Unix(), "token_type": "Bearer",
	}
}

func TestIntrospectionGoodAndCached(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, nil)
	tok := as.IssueOpaque(goodInfo(as, c.Now()))
	p, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("good opaque token refused: %v", err)
	}
	if p.ClientID != "sinch-client" || len(p.Scopes) != 2 {
		t.Errorf("principal = %+v", p)
	}
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if n := as.IntrospectionCalls(); n != 1 {
		t.Errorf("introspected %d times for two uses, want 1 (cached)", n)
	}
	// Past the cache TTL the AS is asked again, and a revoked token fails.
	as.Revoke(tok)
	c.Advance(5*time.Minute + time.Second)
	if _, err := v.Verify(t.Context(), tok); bearerauth.ReasonOf(err) != bearerauth.ReasonInactive {
		t.Errorf("revoked token after TTL: %v, want inactive", err)
	}
}

func TestIntrospectionCacheNeverOutlivesToken(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) { cfg.ClockSkew = 0 })
	info := goodInfo(as, c.Now())
	info["exp"] = c.Now().Add(30 * time.Second).Unix()
	tok := as.IssueOpaque(info)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	c.Advance(31 * time.Second) // within the TTL, past exp
	if _, err := v.Verify(t.Context(), tok); bearerauth.ReasonOf(err) != bearerauth.ReasonExpired {
		t.Errorf("token past exp: %v, want expired (the AS still says active; the cache must not)", err)
	}
	if n := as.IntrospectionCalls(); n != 2 {
		t.Errorf("introspection calls = %d, want 2", n)
	}
}

func TestIntrospectionCacheIsBounded(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) { cfg.CacheSize = 4 })
	toks := make([]string, 10)
	for i := range toks {
		toks[i] = as.IssueOpaque(goodInfo(as, c.Now()))
		if _, err := v.Verify(t.Context(), toks[i]); err != nil {
			t.Fatal(err)
		}
	}
	before := as.IntrospectionCalls()
	for _, tok := range toks {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	// With room for 4 of 10, at least 6 must be asked again.
	if again := as.IntrospectionCalls() - before; again < 6 {
		t.Errorf("only %d of 10 tokens re-introspected with a cache of 4", again)
	}
}

func TestIntrospectionRejections(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, nil)
	with := func(k string, val any) string {
		info := goodInfo(as, c.Now())
		if val == nil {
			delete(info, k)
		} else {
			info[k] = val
		}
		return as.IssueOpaque(info)
	}
	for name, tc := range map[string]struct {
		token string
		want  bearerauth.Reason
	}{
		"unknown token":        {"never-issued", bearerauth.ReasonInactive},
		"active false":         {with("active", false), bearerauth.ReasonInactive},
		"expired":              {with("exp", c.Now().Add(-2*time.Minute).Unix()), bearerauth.ReasonExpired},
		"nbf in future":        {with("nbf", c.Now().Add(2*time.Minute).Unix()), bearerauth.ReasonNotYetValid},
		"wrong issuer":         {with("iss", "https://evil.example"), bearerauth.ReasonIssuer},
		"wrong audience":       {with("aud", "https://other.example"), bearerauth.ReasonAudience},
		"audience missing":     {with("aud", nil), bearerauth.ReasonAudience},
		"audience array other": {with("aud", []string{"a", "b"}), bearerauth.ReasonAudience},
		"missing scope":        {with("scope", "openid"), bearerauth.ReasonScope},
		"empty token":          {"", bearerauth.ReasonMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tc.token)
			if got := bearerauth.ReasonOf(err); got != tc.want {
				t.Fatalf("reason = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
	if _, err := v.Verify(t.Context(), with("aud", []string{"x", testAudience})); err != nil {
		t.Errorf("aud array containing ours refused: %v", err)
	}
}

func TestIntrospectionEndpointFailures(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	tok := as.IssueOpaque(goodInfo(as, c.Now()))
	wrongClient := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) { cfg.ClientSecret = "wrong" })
	if _, err := wrongClient.Verify(t.Context(), tok); bearerauth.ReasonOf(err) != bearerauth.ReasonIntrospection {
		t.Errorf("introspection with a wrong client secret: %v, want introspection_unavailable", err)
	}
	v := introspector(t, as, c, nil)
	as.Close()
	_, err := v.Verify(t.Context(), tok)
	if bearerauth.ReasonOf(err) != bearerauth.ReasonIntrospection {
		t.Errorf("AS down: %v, want introspection_unavailable", err)
	}
}

func TestByShapeRoutesTokens(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	both := bearerauth.ByShape{
		JWT:    jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{}),
		Opaque: introspector(t, as, c, nil),
	}
	if _, err := both.Verify(t.Context(), as.Mint(as.Claims(testAudience, testScope, time.Hour))); err != nil {
		t.Errorf("JWT refused: %v", err)
	}
	if _, err := both.Verify(t.Context(), as.IssueOpaque(goodInfo(as, c.Now()))); err != nil {
		t.Errorf("opaque token refused: %v", err)
	}
	if n := as.IntrospectionCalls(); n != 1 {
		t.Errorf("introspection calls = %d, want 1 (the JWT is verified locally)", n)
	}
	jwtOnly := bearerauth.ByShape{JWT: both.JWT}
	if _, err := jwtOnly.Verify(t.Context(), as.IssueOpaque(goodInfo(as, c.Now()))); bearerauth.ReasonOf(err) != bearerauth.ReasonMalformed {
		t.Errorf("opaque token with JWT only: %v, want malformed", err)
	}
}
