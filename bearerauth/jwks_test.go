package bearerauth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
)

// jwksVerifier verifies the tokens of as through its JWKS.
func jwksVerifier(t testing.TB, ctx context.Context, as *astest.Server, cfg bearerauth.JWKSConfig) bearerauth.Verifier {
	t.Helper()
	cfg.URL = as.JWKSURL()
	keys, err := bearerauth.NewJWKS(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{
		Keys: keys, Issuer: as.Issuer(), Audience: testAudience,
		RequiredScopes: []string{testScope}, ClockSkew: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newAS(t testing.TB) *astest.Server {
	as := astest.NewServer()
	t.Cleanup(as.Close)
	return as
}

func TestJWKSKeyRotation(t *testing.T) {
	as := newAS(t)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	if n := as.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", n)
	}
	old := as.Mint(as.Claims(testAudience, testScope, time.Hour))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("good token refused: %v", err)
	}

	// The AS rotates to an RSA key: the first token with the new kid makes
	// one JWKS fetch, and the old key (still published) keeps working.
	as.AddKey(astest.NewKey("k2", "PS256"))
	rotated := as.Mint(as.Claims(testAudience, testScope, time.Hour))
	if _, err := v.Verify(t.Context(), rotated); err != nil {
		t.Fatalf("token of the rotated key refused: %v", err)
	}
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("token of the old, still published key refused: %v", err)
	}
	if n := as.JWKSFetches(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (start + one for the new kid)", n)
	}
}

func TestJWKSRemovedKeyIsRefusedAfterRefresh(t *testing.T) {
	as := newAS(t)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	old := as.Mint(as.Claims(testAudience, testScope, time.Hour))
	as.AddKey(astest.NewKey("k2", "ES256"))
	as.RemoveKey("k1")
	// The new kid triggers a refresh, which drops k1 from the cache.
	if _, err := v.Verify(t.Context(), as.Mint(as.Claims(testAudience, testScope, time.Hour))); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(t.Context(), old)
	if got := bearerauth.ReasonOf(err); got != bearerauth.ReasonUnknownKey {
		t.Errorf("token of a withdrawn key: reason %q (%v), want unknown_key", got, err)
	}
}

func TestJWKSRefreshStormIsBounded(t *testing.T) {
	as := newAS(t)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{UnknownKIDInterval: time.Hour})
	const forged = 200
	var wg sync.WaitGroup
	reasons := make([]bearerauth.Reason, forged)
	for i := range forged {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := astest.NewKey(fmt.Sprintf("forged-%d", i), "EdDSA")
			_, err := v.Verify(t.Context(), astest.MintWith(k, as.Claims(testAudience, testScope, time.Hour), nil))
			reasons[i] = bearerauth.ReasonOf(err)
		}()
	}
	wg.Wait()
	for i, r := range reasons {
		if r != bearerauth.ReasonUnknownKey {
			t.Fatalf("forged token %d: reason %q, want unknown_key", i, r)
		}
	}
	if n := as.JWKSFetches(); n > 2 {
		t.Errorf("%d forged kids caused %d JWKS fetches, want at most 2 (start + one refresh)", forged, n)
	}
}

func TestJWKSDownAtStartDoesNotFail(t *testing.T) {
	as := newAS(t)
	as.SetJWKSDown(true)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	tok := as.Mint(as.Claims(testAudience, testScope, time.Hour))
	as.SetJWKSDown(false)
	// Every kid is unknown after a failed start: the first token fetches.
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("token refused once the AS is back: %v", err)
	}
}

func TestJWKSNotFetchedForRefusedAlgorithm(t *testing.T) {
	as := newAS(t)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	k := as.SigningKey()
	tok := hs256WithPublicKey(t, k, as.Claims(testAudience, testScope, time.Hour))
	for range 5 {
		if _, err := v.Verify(t.Context(), tok); bearerauth.ReasonOf(err) != bearerauth.ReasonAlgorithm {
			t.Fatalf("HS256 token: %v, want bad_algorithm", err)
		}
	}
	if n := as.JWKSFetches(); n != 1 {
		t.Errorf("refused-alg tokens caused JWKS fetches (%d)", n)
	}
}

// TestJWKSBackgroundRefreshStopsWithContext checks the periodic refresh
// runs, and that it ends with the context it was started on (a Caddy
// config being unloaded).
func TestJWKSBackgroundRefreshStopsWithContext(t *testing.T) {
	as := newAS(t)
	ctx, cancel := context.WithCancel(t.Context())
	jwksVerifier(t, ctx, as, bearerauth.JWKSConfig{RefreshInterval: 20 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for as.JWKSFetches() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("no periodic refresh: %d fetches", as.JWKSFetches())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	time.Sleep(40 * time.Millisecond) // let an in-flight refresh finish
	stopped := as.JWKSFetches()
	time.Sleep(200 * time.Millisecond) // ten intervals
	if n := as.JWKSFetches(); n != stopped {
		t.Errorf("refresh went on after the context ended: %d -> %d fetches", stopped, n)
	}
}
