package bearerauth_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

const (
	asClient = "sinch"
	asSecret = "a-long-random-client-secret"
)

// embedded is the embedded Authorization Server with keys, on clock now.
func embedded(t *testing.T, now func() time.Time, keys ...ed25519.PrivateKey) *oauthserver.Server {
	t.Helper()
	s, err := oauthserver.New(oauthserver.Config{
		Clients: map[string]string{asClient: asSecret},
		Keys:    keys,
		Issuer:  testIssuer,
		Limiter: authlimit.Unlimited{},
		Now:     now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func issue(t *testing.T, s *oauthserver.Server) string {
	t.Helper()
	f := oauthresp.Form{"grant_type": "client_credentials", "client_id": asClient, "client_secret": asSecret}
	iss, oerr := s.Token(t.Context(), oauthserver.TokenRequest{Form: f, Addr: "192.0.2.1:1"})
	if oerr != nil {
		t.Fatal(oerr)
	}
	return iss.AccessToken
}

// pemVerifier is a verifier given the public halves of keys, as several
// `public_key` PEM files configure it.
func pemVerifier(t *testing.T, now func() time.Time, keys ...ed25519.PrivateKey) bearerauth.Verifier {
	t.Helper()
	var pubs []crypto.PublicKey
	for _, k := range keys {
		pemBytes, err := oauthserver.MarshalPublicKey(k.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		got, err := bearerauth.ParsePublicKeysPEM(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, got...)
	}
	src, err := bearerauth.NewStaticKeys(pubs...)
	return embeddedVerifier(t, src, err, now)
}

// embeddedVerifier verifies the embedded server's tokens with the key
// source src (whose construction returned err).
func embeddedVerifier(t *testing.T, src bearerauth.KeySource, err error, now func() time.Time) bearerauth.Verifier {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{Keys: src, Issuer: testIssuer, Audience: testIssuer, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// jwksVerifierOf verifies through the server's JWKS, served over HTTP as
// the embedded server's GET does, or read from a file.
func jwksVerifierOf(t *testing.T, now func() time.Time, s *oauthserver.Server, fromURL bool) bearerauth.Verifier {
	t.Helper()
	var src bearerauth.KeySource
	var err error
	if fromURL {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(s.JWKS()) }))
		t.Cleanup(srv.Close)
		src, err = bearerauth.NewJWKS(t.Context(), bearerauth.JWKSConfig{URL: srv.URL})
	} else {
		src, err = bearerauth.NewJWKSFromJSON(s.JWKS())
	}
	return embeddedVerifier(t, src, err, now)
}

// TestSigningKeyRotation walks the documented rotation — add the new key
// second everywhere, move it first, drop the old one a token lifetime
// later — with verifiers configured by PEM files, a JWKS URL and a JWKS
// file, and checks that no valid token is refused at any step.
func TestSigningKeyRotation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	gen := func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }
	oldK, newK := gen(), gen()
	steps := []struct {
		name string
		keys []ed25519.PrivateKey
	}{
		{"1 old", []ed25519.PrivateKey{oldK}},
		{"2 old,new", []ed25519.PrivateKey{oldK, newK}},
		{"3 new,old", []ed25519.PrivateKey{newK, oldK}},
		{"4 new", []ed25519.PrivateKey{newK}},
	}
	var live []string // tokens issued so far and still within their lifetime
	var prevKeys []ed25519.PrivateKey
	for i, step := range steps {
		s := embedded(t, clock, step.keys...)
		verifiers := map[string]bearerauth.Verifier{
			"pem": pemVerifier(t, clock, step.keys...), "jwks_url": jwksVerifierOf(t, clock, s, true), "jwks_file": jwksVerifierOf(t, clock, s, false),
		}
		if prevKeys != nil {
			// During the reload some verifiers still run the previous
			// step's keys: they must accept the new step's tokens too.
			verifiers["previous step"] = pemVerifier(t, clock, prevKeys...)
		}
		tok := issue(t, s)
		if i < 3 {
			live = append(live, tok)
		} else {
			live = []string{tok}
		}
		for name, v := range verifiers {
			for j, lt := range live {
				if _, err := v.Verify(t.Context(), lt); err != nil {
					t.Errorf("step %s, %s verifier: token %d refused: %v", step.name, name, j, err)
				}
			}
		}
		prevKeys = step.keys
		now = now.Add(oauthserver.DefaultTokenLifetime / 4)
	}
	// Step 4 dropped the old key once its tokens had had a lifetime: a
	// token it signed (one issued at step 2) is refused, with a reason.
	oldTok := issue(t, embedded(t, clock, oldK))
	for name, v := range map[string]bearerauth.Verifier{
		"pem":      pemVerifier(t, clock, newK),
		"jwks_url": jwksVerifierOf(t, clock, embedded(t, clock, newK), true),
	} {
		r, _ := verifyReason(t, v, oldTok)
		// One PEM key: kid is not compared, so the signature is what fails.
		want := map[string]bearerauth.Reason{"pem": bearerauth.ReasonSignature, "jwks_url": bearerauth.ReasonUnknownKey}[name]
		if r != want {
			t.Errorf("%s verifier with the new key only: old-key token %q, want %q", name, r, want)
		}
	}
	// Had the new key been put first straight away, a verifier not yet
	// reloaded would refuse the new tokens: the reason for step 2.
	if r, _ := verifyReason(t, pemVerifier(t, clock, oldK), issue(t, embedded(t, clock, newK, oldK))); r == "" {
		t.Error("a verifier with the old key only accepted a new-key token")
	}
}

func TestJWTSeveralIssuersAndAudiences(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := astest.NewKey("k", "EdDSA")
	src, _ := bearerauth.NewStaticKey(key.Public())
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{
		Keys: src, Issuers: []string{"https://a.example", "https://b.example"},
		Audiences: []string{"aud-1", "aud-2"}, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(iss string, aud any) string {
		c := goodClaims(now)
		c["iss"], c["aud"] = iss, aud
		return astest.MintWith(key, c, nil)
	}
	for name, tc := range map[string]struct {
		tok  string
		want bearerauth.Reason
	}{
		"first issuer":        {tok("https://a.example", "aud-2"), ""},
		"second issuer":       {tok("https://b.example", []string{"x", "aud-1"}), ""},
		"other issuer":        {tok("https://c.example", "aud-1"), bearerauth.ReasonIssuer},
		"other audience":      {tok("https://a.example", []string{"x", "y"}), bearerauth.ReasonAudience},
		"no issuer":           {tok("", "aud-1"), bearerauth.ReasonMissingClaim},
		"empty audience list": {tok("https://a.example", []string{}), bearerauth.ReasonMissingClaim},
	} {
		if r, _ := verifyReason(t, v, tc.tok); r != tc.want {
			t.Errorf("%s: %q, want %q", name, r, tc.want)
		}
	}
}

func TestIntrospectionSeveralIssuersAndAudiences(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) {
		cfg.Issuers = []string{"https://other.example"}
		cfg.Audiences = []string{"aud-2"}
	})
	for name, tc := range map[string]struct {
		iss, aud string
		want     bearerauth.Reason
	}{
		"configured":     {as.Issuer(), testAudience, ""},
		"further pair":   {"https://other.example", "aud-2", ""},
		"other issuer":   {"https://c.example", "aud-2", bearerauth.ReasonIssuer},
		"other audience": {as.Issuer(), "aud-3", bearerauth.ReasonAudience},
	} {
		info := goodInfo(as, c.Now())
		info["iss"], info["aud"] = tc.iss, tc.aud
		if r, _ := verifyReason(t, v, as.IssueOpaque(info)); r != tc.want {
			t.Errorf("%s: %q, want %q", name, r, tc.want)
		}
	}
}

// TestIntrospectionFloodBounded: 300 forged opaque tokens, each sent
// twice, cost at most the call burst on the AS; a good token cached before
// the flood still passes during it, and a new good one once the bound
// allows again.
func TestIntrospectionFloodBounded(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, nil)
	good := as.IssueOpaque(goodInfo(as, c.Now()))
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	var throttled, inactive atomic.Int64
	for round := range 2 {
		for i := range 300 {
			_, err := v.Verify(t.Context(), fmt.Sprintf("forged-%d", i))
			switch r := bearerauth.ReasonOf(err); r {
			case bearerauth.ReasonIntrospectionThrottled:
				throttled.Add(1)
				if !bearerauth.Temporary(err) {
					t.Fatal("throttled is not Temporary")
				}
			case bearerauth.ReasonInactive:
				inactive.Add(1)
			default:
				t.Fatalf("round %d, forged token %d: %q", round, i, r)
			}
		}
		if _, err := v.Verify(t.Context(), good); err != nil {
			t.Fatalf("round %d: the cached good token refused during the flood: %v", round, err)
		}
	}
	calls := as.IntrospectionCalls()
	t.Logf("600 forged tokens: %d introspection calls (1 for the good token), %d refused as inactive (%d of them from the negative cache), %d throttled",
		calls, inactive.Load(), inactive.Load()-int64(calls-1), throttled.Load())
	if calls > 1+bearerauth.DefaultIntrospectionBurst {
		t.Errorf("%d introspection calls, want at most %d", calls, 1+bearerauth.DefaultIntrospectionBurst)
	}
	// Each forged token introspected once is answered from the negative
	// cache the second time.
	if inactive.Load() != 2*int64(calls-1) {
		t.Errorf("%d inactive refusals for %d forged tokens introspected: the negative cache did not answer", inactive.Load(), calls-1)
	}
	fresh := as.IssueOpaque(goodInfo(as, c.Now()))
	if _, err := v.Verify(t.Context(), fresh); bearerauth.ReasonOf(err) != bearerauth.ReasonIntrospectionThrottled {
		t.Errorf("a new token while the bound is used up: %v, want throttled", err)
	}
	c.Advance(time.Second)
	if _, err := v.Verify(t.Context(), fresh); err != nil {
		t.Errorf("a new good token a second later: %v", err)
	}
}

func TestIntrospectionNegativeCacheTTL(t *testing.T) {
	as := newAS(t)
	c := testclock.New(time.Now())
	v := introspector(t, as, c, nil)
	info := goodInfo(as, c.Now())
	info["aud"] = "someone-else"
	tok := as.IssueOpaque(info)
	for range 3 {
		if r, _ := verifyReason(t, v, tok); r != bearerauth.ReasonAudience {
			t.Fatalf("%q, want bad_audience", r)
		}
	}
	if n := as.IntrospectionCalls(); n != 1 {
		t.Errorf("%d calls for three uses within the negative TTL, want 1", n)
	}
	c.Advance(bearerauth.DefaultNegativeCacheTTL)
	_, _ = verifyReason(t, v, tok)
	if n := as.IntrospectionCalls(); n != 2 {
		t.Errorf("%d calls after the negative TTL, want 2", n)
	}
	// An endpoint failure is not cached.
	off := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) { cfg.ClientSecret = "wrong" })
	_, _ = verifyReason(t, off, tok)
	_, _ = verifyReason(t, off, tok)
	if n := as.IntrospectionCalls(); n != 4 {
		t.Errorf("%d calls, want 4: a failed call must not be cached", n)
	}
}
