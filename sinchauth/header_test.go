package sinchauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

func cachedHeaders(v *Validator) int {
	if m := v.headers.headers.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// TestHeaderCachedOnlyAfterVerifiedSignature: a header enters the cache
// only with an assertion whose signature verified, and a cached header
// never stands in for the signature check.
func TestHeaderCachedOnlyAfterVerifiedSignature(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.token(f.header(), f.claims(), otherSecret), ReasonSignature)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = "https://elsewhere" }), ReasonAudience)
	if n := cachedHeaders(f.v); n != 1 {
		// The aud rejection came after the signature: its header may stay.
		t.Fatalf("cache holds %d headers after one verified signature, want 1", n)
	}
	forged := f.token(f.header(), f.claims(), otherSecret)
	if n := cachedHeaders(f.v); n != 1 {
		t.Fatalf("cache holds %d headers", n)
	}
	f.expectReason(forged, ReasonSignature) // header from the cache, signature still checked
	f.expectOK(f.valid(nil))
}

func TestHeaderCacheHoldsNoForgedHeaders(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		h := f.header()
		h["typ"] = "JWT-" + strconv.Itoa(i)
		f.expectReason(f.token(h, f.claims(), otherSecret), ReasonSignature)
	}
	if n := cachedHeaders(f.v); n != 0 {
		t.Fatalf("forged assertions left %d headers in the cache", n)
	}
}

func TestHeaderCacheIsBounded(t *testing.T) {
	f := newFixture(t)
	for i := range 3 * maxCachedHeaders {
		f.expectOK(f.valid(func(h, p map[string]any) {
			h["typ"] = "JWT-" + strconv.Itoa(i)
			p["nonce"] = "bounded-" + strconv.Itoa(i)
		}))
		if n := cachedHeaders(f.v); n > maxCachedHeaders {
			t.Fatalf("cache holds %d headers, more than %d", n, maxCachedHeaders)
		}
	}
}

// TestCachedHeaderStillChecksKidAgainstIat: the kid-vs-iat rule reads the
// payload, so a cached header cannot skip it.
func TestCachedHeaderStillChecksKidAgainstIat(t *testing.T) {
	f := newFixture(t)
	f.expectOK(f.valid(nil))
	f.expectReason(f.valid(func(_, p map[string]any) {
		p["iat"] = f.now.AddDate(0, 0, -2).Unix()
		p["exp"] = f.now.AddDate(0, 0, -2).Add(10 * 60e9).Unix()
	}), ReasonKeyID)
}

// TestReasonsOfUnverifiedAssertions: when the signature does not verify,
// the reason still names a payload that is not JSON, a missing iat or a kid
// far from iat before blaming the signature.
func TestReasonsOfUnverifiedAssertions(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	badSig := "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	head := segment(t, h)
	f.expectReason(head+"."+base64.RawURLEncoding.EncodeToString([]byte("{not json"))+badSig, ReasonMalformed)
	noIat := f.claims()
	delete(noIat, "iat")
	f.expectReason(head+"."+segment(t, noIat)+badSig, ReasonMissingClaim)
	far := f.claims()
	far["iat"] = f.now.AddDate(0, 0, 5).Unix()
	f.expectReason(head+"."+segment(t, far)+badSig, ReasonKeyID)
	f.expectReason(head+"."+segment(t, f.claims())+badSig, ReasonSignature)
}

// TestRejectsSignedNonJSONPayload: a payload that is not JSON is refused
// even when it is correctly signed.
func TestRejectsSignedNonJSONPayload(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{"{not json", "[]", `"x"`, `{"iss":"a"}trailing`} {
		in := segment(t, f.header()) + "." + base64.RawURLEncoding.EncodeToString([]byte(body))
		sig := hmacB64(DeriveSigningKey(testSecret, f.now.Format(dayLayout)), in)
		f.expectReason(in+"."+sig, ReasonMalformed)
	}
}

// TestRejectsExtraDots: three dots are not a compact JWS, even when the
// first three segments would verify.
func TestRejectsExtraDots(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	f.expectReason(tok+".x", ReasonMalformed)
	f.expectReason(strings.Replace(tok, ".", "..", 1), ReasonMalformed)
}

// hmacB64 is the base64url HMAC-SHA256 of in under key.
func hmacB64(key []byte, in string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestConcurrentValidationSharesCachesSafely runs many validations at
// once, over several headers and two rotated secrets, so that the race
// detector sees the header cache, the key cache and the HMAC pools shared.
func TestConcurrentValidationSharesCachesSafely(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Applications[testAppKey] = [][]byte{testSecret, testSecret2} })
	const n = 200
	toks := make([]string, n)
	for i := range toks {
		h, p := f.header(), f.claims()
		h["typ"] = "JWT-" + strconv.Itoa(i%5)
		p["nonce"] = "concurrent-" + strconv.Itoa(i)
		secret := testSecret
		if i%2 == 1 {
			secret = testSecret2
		}
		toks[i] = f.token(h, p, secret)
	}
	errs := make(chan error, n)
	for _, tok := range toks {
		go func() {
			_, err := f.v.Validate(context.Background(), tok, []string{testAudience})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := f.store.Len(); got != n {
		t.Errorf("replay store holds %d nonces, want %d", got, n)
	}
}
