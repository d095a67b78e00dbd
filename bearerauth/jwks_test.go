package bearerauth_test

import (
	"context"
	"fmt"
	"strings"
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

// verifyReason verifies tok and returns the rejection reason ("" if the
// token was accepted).
func verifyReason(t *testing.T, v bearerauth.Verifier, tok string) (bearerauth.Reason, error) {
	t.Helper()
	_, err := v.Verify(t.Context(), tok)
	if err != nil && bearerauth.ReasonOf(err) == "" {
		t.Fatalf("error without a reason: %v", err)
	}
	return bearerauth.ReasonOf(err), err
}

// noKID is the header override that drops the kid.
var noKID = map[string]any{"kid": nil}

// TestJWKSTokenWithoutKIDRefused: with a JWKS, a token must name its key;
// trying every key of the set would bypass the use and alg of each.
func TestJWKSTokenWithoutKIDRefused(t *testing.T) {
	as := newAS(t)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	claims := as.Claims(testAudience, testScope, time.Hour)
	for name, header := range map[string]map[string]any{
		"no kid":    noKID,
		"empty kid": {"kid": ""},
		"kid 42":    {"kid": 42},
	} {
		if r, err := verifyReason(t, v, astest.MintWith(as.SigningKey(), claims, header)); r != bearerauth.ReasonMissingKID {
			t.Errorf("%s: reason %q (%v), want missing_kid", name, r, err)
		}
	}
	// The same key with its kid is fine.
	if r, err := verifyReason(t, v, astest.MintWith(as.SigningKey(), claims, nil)); r != "" {
		t.Errorf("good token refused: %v", err)
	}
}

// TestJWKSEncryptionKeyNotUsable: a key published with "use": "enc"
// verifies no signature, named by kid or not; "sig" or no use is fine.
func TestJWKSEncryptionKeyNotUsable(t *testing.T) {
	as := newAS(t)
	enc := astest.NewKey("enc-1", "RS256")
	enc.Use = "enc"
	noUse := astest.NewKey("no-use", "ES256")
	noUse.Use = astest.Omit
	as.AddKey(enc)
	as.AddKey(noUse)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	claims := as.Claims(testAudience, testScope, time.Hour)
	if r, err := verifyReason(t, v, astest.MintWith(enc, claims, nil)); r != bearerauth.ReasonUnknownKey {
		t.Errorf("token of an encryption key: reason %q (%v), want unknown_key", r, err)
	}
	if r, _ := verifyReason(t, v, astest.MintWith(enc, claims, noKID)); r == "" {
		t.Error("token of an encryption key, without kid, accepted")
	}
	if r, err := verifyReason(t, v, astest.MintWith(noUse, claims, nil)); r != "" {
		t.Errorf("token of a key without use refused: %v", err)
	}
	if n := as.JWKSFetches(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (a known but unusable kid is no reason to refetch)", n)
	}
}

// TestJWKSKeyAlgIsHonoured: a JWK's "alg" binds the key to that algorithm;
// a key without one takes any allowed algorithm of its type.
func TestJWKSKeyAlgIsHonoured(t *testing.T) {
	as := newAS(t)
	ps := astest.NewKey("ps-only", "PS256")
	anyRSA := astest.NewKey("any-rsa", "RS256")
	anyRSA.JWKAlg = astest.Omit
	as.AddKey(ps)
	as.AddKey(anyRSA)
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{})
	claims := as.Claims(testAudience, testScope, time.Hour)
	asRS256 := &astest.Key{KID: ps.KID, Alg: "RS256", Private: ps.Private}

	if r, err := verifyReason(t, v, astest.MintWith(ps, claims, nil)); r != "" {
		t.Errorf("PS256 token of the PS256 key refused: %v", err)
	}
	if r, err := verifyReason(t, v, astest.MintWith(asRS256, claims, nil)); r != bearerauth.ReasonAlgorithm {
		t.Errorf("RS256 token of a PS256-only key: reason %q (%v), want bad_algorithm", r, err)
	}
	if r, _ := verifyReason(t, v, astest.MintWith(asRS256, claims, noKID)); r == "" {
		t.Error("RS256 token of a PS256-only key, without kid, accepted")
	}
	for _, alg := range []string{"RS256", "PS256"} {
		k := &astest.Key{KID: anyRSA.KID, Alg: alg, Private: anyRSA.Private}
		if r, err := verifyReason(t, v, astest.MintWith(k, claims, nil)); r != "" {
			t.Errorf("%s token of an RSA key without alg refused: %v", alg, err)
		}
	}
}

// TestJWKSShortRSAKeySkipped: an RSA key under 2048 bits is left out of
// the set with a warning, as public_key refuses one; the rest of the set
// still works.
func TestJWKSShortRSAKeySkipped(t *testing.T) {
	as := newAS(t)
	first := as.SigningKey()
	weak := astest.NewRSAKey("weak", "RS256", 1024)
	good := astest.NewKey("good", "RS256")
	as.AddKey(weak)
	as.AddKey(good)
	var mu sync.Mutex
	var warnings []string
	v := jwksVerifier(t, t.Context(), as, bearerauth.JWKSConfig{OnKeySkipped: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		warnings = append(warnings, err.Error())
	}})
	claims := as.Claims(testAudience, testScope, time.Hour)
	if r, err := verifyReason(t, v, astest.MintWith(weak, claims, nil)); r != bearerauth.ReasonUnknownKey {
		t.Errorf("token of a 1024-bit key: reason %q (%v), want unknown_key", r, err)
	}
	if r, _ := verifyReason(t, v, astest.MintWith(weak, claims, noKID)); r == "" {
		t.Error("token of a 1024-bit key, without kid, accepted")
	}
	for _, k := range []*astest.Key{good, first} {
		if r, err := verifyReason(t, v, astest.MintWith(k, claims, nil)); r != "" {
			t.Errorf("token of %s refused beside a skipped key: %v", k.KID, err)
		}
	}
	if n := as.JWKSFetches(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (a skipped kid is no reason to refetch)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"weak"`) || !strings.Contains(warnings[0], "1024") {
		t.Errorf("warnings = %q, want one naming the kid and its size", warnings)
	}
}
