package sinchauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsValidAssertion(t *testing.T) {
	f := newFixture(t)
	a := f.expectOK(f.valid(nil))
	if a.ApplicationKey != testAppKey || a.HMSApplicationID != testHMSApp || a.Nonce != "nonce-"+t.Name() {
		t.Errorf("assertion = %+v", a)
	}
	if !a.IssuedAt.Equal(f.now) || !a.ExpiresAt.Equal(f.now.Add(10*time.Minute)) {
		t.Errorf("times = %v, %v", a.IssuedAt, a.ExpiresAt)
	}
	if f.store.Len() != 1 {
		t.Errorf("store Len = %d, want 1", f.store.Len())
	}
}

func TestValidateAcceptsWithoutTyp(t *testing.T) {
	f := newFixture(t)
	f.expectOK(f.valid(func(h, _ map[string]any) { delete(h, "typ") }))
}

// --- structure -------------------------------------------------------------

func TestRejectsOversize(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["pad"] = strings.Repeat("x", MaxAssertionSize) }), ReasonMalformed)
}

func TestRejectsWrongPartCount(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	for _, s := range []string{"", "abc", tok[:strings.LastIndexByte(tok, '.')], tok + ".x", tok + "."} {
		f.expectReason(s, ReasonMalformed)
	}
}

func TestRejectsHeaderNotObject(t *testing.T) {
	f := newFixture(t)
	for _, h := range []string{"null", "[]", `"HS256"`, "{"} {
		tok := base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + segment(t, f.claims()) + ".AAAA"
		f.expectReason(tok, ReasonMalformed)
	}
}

func TestRejectsNonCanonicalSignatureBits(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if len(sig) != 43 {
		t.Fatalf("signature is %d chars", len(sig))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[42])
	variant := sig[:42] + string(alphabet[last^1]) // flip one of the 2 unused bits
	lenient, err := base64.RawURLEncoding.DecodeString(variant)
	canonical, _ := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || string(lenient) != string(canonical) {
		t.Fatalf("variant does not decode to the same bytes leniently (err %v)", err)
	}
	f.expectReason(tok[:len(tok)-43]+variant, ReasonMalformed)
	f.expectOK(tok) // the canonical spelling still works, and was not burnt
}

func TestRejectsPadding(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(nil)+"=", ReasonMalformed)
}

func TestRejectsWhitespaceInSegments(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	// Go's strict base64 still skips CR/LF; the alphabet check must not.
	f.expectReason(tok[:len(tok)-10]+"\n"+tok[len(tok)-10:], ReasonMalformed)
	f.expectReason(tok+"\r\n", ReasonMalformed)
}

func TestRejectsBadPayloadJSON(t *testing.T) {
	f := newFixture(t)
	h := segment(t, f.header())
	tok := h + "." + base64.RawURLEncoding.EncodeToString([]byte("{not json")) + ".AAAA"
	f.expectReason(tok, ReasonMalformed)
}

// --- alg and crit -----------------------------------------------------------

func TestRejectsAlgNone(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	h["alg"] = "none"
	f.expectReason(segment(t, h)+"."+segment(t, f.claims())+".", ReasonAlgorithm)
}

func TestRejectsAlgHS512(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	h["alg"] = "HS512"
	in := segment(t, h) + "." + segment(t, f.claims())
	m := hmac.New(sha512.New, DeriveSigningKey(testSecret, f.now.Format(dayLayout)))
	m.Write([]byte(in))
	f.expectReason(in+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), ReasonAlgorithm)
}

func TestRejectsAlgHS384(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	h["alg"] = "HS384"
	in := segment(t, h) + "." + segment(t, f.claims())
	m := hmac.New(sha512.New384, DeriveSigningKey(testSecret, f.now.Format(dayLayout)))
	m.Write([]byte(in))
	f.expectReason(in+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), ReasonAlgorithm)
}

func TestRejectsAlgRS256(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	h["alg"] = "RS256"
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 256))
	f.expectReason(segment(t, h)+"."+segment(t, f.claims())+"."+sig, ReasonAlgorithm)
}

func TestRejectsAlgVariants(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []any{"hs256", "HS256 ", "ES256", "", nil, 256} {
		f.expectReason(f.valid(func(h, _ map[string]any) { h["alg"] = alg }), ReasonAlgorithm)
	}
	f.expectReason(f.valid(func(h, _ map[string]any) { delete(h, "alg") }), ReasonAlgorithm)
}

func TestRejectsCritHeader(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(h, _ map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), ReasonCritHeader)
}

// --- application key and kid ------------------------------------------------

func TestRejectsUnknownApplicationKey(t *testing.T) {
	f := newFixture(t)
	e := f.expectReason(f.valid(func(h, p map[string]any) {
		h[claimAppKey] = "someone-else"
		p[claimAppKey] = "someone-else"
		p["iss"] = issuerPrefix + "someone-else"
	}), ReasonUnknownApp)
	if !strings.Contains(e.Detail, "someone-else") {
		t.Errorf("detail should name the key: %q", e.Detail)
	}
}

func TestRejectsMissingHeaderApplicationKey(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(h, _ map[string]any) { delete(h, claimAppKey) }), ReasonUnknownApp)
	f.expectReason(f.valid(func(h, _ map[string]any) { h[claimAppKey] = 42 }), ReasonUnknownApp)
}

func TestRejectsMalformedKid(t *testing.T) {
	f := newFixture(t)
	for _, kid := range []any{"", "hkdfv1-2024031", "hkdfv1-202403100", "hkdfv2-20240310", "HKDFV1-20240310",
		"hkdfv1-2024-3-1", "hkdfv1-20240231", "hkdfv1-20241310", "hkdfv1-+2024031", " hkdfv1-20240310", 20240310} {
		f.expectReason(f.valid(func(h, _ map[string]any) { h["kid"] = kid }), ReasonKeyID)
	}
	f.expectReason(f.valid(func(h, _ map[string]any) { delete(h, "kid") }), ReasonKeyID)
}

func TestRejectsStaleKid(t *testing.T) {
	f := newFixture(t)
	for _, days := range []int{-2, 2, -30} {
		// Signed with the key of the kid's day, so only the date rule fails.
		f.expectReason(f.valid(func(h, _ map[string]any) { h["kid"] = KeyID(f.now.AddDate(0, 0, days)) }), ReasonKeyID)
	}
}

func TestAcceptsKidWithinOneDay(t *testing.T) {
	f := newFixture(t)
	for i, days := range []int{-1, 1} {
		f.expectOK(f.valid(func(h, p map[string]any) {
			h["kid"] = KeyID(f.now.AddDate(0, 0, days))
			p["nonce"] = string(rune('a' + i))
		}))
	}
}

func TestRejectsMissingIatBeforeSignature(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "iat") }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["iat"] = "1710072000" }), ReasonMissingClaim)
}

// --- signature --------------------------------------------------------------

func TestRejectsWrongSignature(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.token(f.header(), f.claims(), otherSecret), ReasonSignature)
}

func TestRejectsSignatureOfOtherDayKey(t *testing.T) {
	f := newFixture(t)
	h := f.header()
	// kid says today, key derived for yesterday.
	tok := signHS256(t, h, f.claims(), DeriveSigningKey(testSecret, f.now.AddDate(0, 0, -1).Format(dayLayout)))
	f.expectReason(tok, ReasonSignature)
}

func TestRejectsTruncatedSignature(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	f.expectReason(tok[:len(tok)-3], ReasonSignature)
	f.expectReason(tok[:strings.LastIndexByte(tok, '.')+1], ReasonSignature)
}

func TestAcceptsRotatedSecrets(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Applications[testAppKey] = [][]byte{testSecret, testSecret2} })
	f.expectOK(f.valid(nil))
	h, p := f.header(), f.claims()
	p["nonce"] = "second"
	f.expectOK(f.token(h, p, testSecret2))
	p["nonce"] = "third"
	f.expectReason(f.token(h, p, otherSecret), ReasonSignature)
}

// --- claims -------------------------------------------------------------------

func TestRejectsWrongIssuer(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["iss"] = "//rtc.sinch.com/applications/other" }), ReasonIssuer)
	f.expectReason(f.valid(func(_, p map[string]any) { p["iss"] = "https://rtc.sinch.com/applications/" + testAppKey }), ReasonIssuer)
}

func TestRejectsMissingIssuer(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "iss") }), ReasonMissingClaim)
}

func TestRejectsApplicationKeyMismatch(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p[claimAppKey] = "other" }), ReasonAppKeyMismatch)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, claimAppKey) }), ReasonAppKeyMismatch)
}

func TestRejectsWrongAudience(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = testAudience + "/" }), ReasonAudience)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "aud") }), ReasonAudience)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = []string{} }), ReasonAudience)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = 1 }), ReasonAudience)
}

func TestRejectsSeveralAudiences(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = []string{testAudience, "https://evil.example"} }), ReasonAudience)
	f.expectReason(f.valid(func(_, p map[string]any) { p["aud"] = []string{testAudience, testAudience} }), ReasonAudience)
}

func TestRejectsEverythingWithNoAudiences(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	f.expectReason(tok, ReasonAudience, []string{}...)
}

func TestAcceptsOneElementAudienceArray(t *testing.T) {
	f := newFixture(t)
	f.expectOK(f.valid(func(_, p map[string]any) { p["aud"] = []string{testAudience} }))
}

func TestAcceptsAnyConfiguredAudience(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	if _, err := f.v.Validate(context.Background(), tok, []string{"https://other", testAudience}); err != nil {
		t.Fatal(err)
	}
}

func TestRejectsWrongScope(t *testing.T) {
	f := newFixture(t)
	for _, s := range []any{"https://push-api.cloud.huawei.com/", "", 1, []string{HuaweiPushScope, "x"}, []string{}} {
		f.expectReason(f.valid(func(_, p map[string]any) { p["scope"] = s }), ReasonScope)
	}
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "scope") }), ReasonScope)
}

func TestAcceptsOneElementScopeArray(t *testing.T) {
	f := newFixture(t)
	f.expectOK(f.valid(func(_, p map[string]any) { p["scope"] = []string{HuaweiPushScope} }))
}

func TestRejectsUnknownHMSApplication(t *testing.T) {
	f := newFixture(t)
	e := f.expectReason(f.valid(func(_, p map[string]any) { p["sub"] = "999" }), ReasonUnknownHMSApp)
	if !strings.Contains(e.Detail, `"999"`) {
		t.Errorf("detail should name sub: %q", e.Detail)
	}
}

func TestRejectsMissingSubject(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "sub") }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["sub"] = 101234567 }), ReasonMissingClaim)
}

func TestIssuedInFuture(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) {
		p["iat"] = f.now.Add(testSkew + time.Second).Unix()
		p["exp"] = f.now.Add(30 * time.Minute).Unix()
	}), ReasonIssuedInFuture)
	f.expectOK(f.valid(func(_, p map[string]any) {
		p["iat"] = f.now.Add(testSkew - time.Second).Unix()
		p["exp"] = f.now.Add(30 * time.Minute).Unix()
	}))
}

func TestExpired(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) {
		p["exp"] = f.now.Add(-testSkew - time.Second).Unix()
		p["iat"] = f.now.Add(-30 * time.Minute).Unix()
	}), ReasonExpired)
	f.expectReason(f.valid(func(_, p map[string]any) {
		p["exp"] = f.now.Add(-testSkew).Unix() // exp must be strictly after now-skew
		p["iat"] = f.now.Add(-30 * time.Minute).Unix()
	}), ReasonExpired)
	f.expectOK(f.valid(func(_, p map[string]any) {
		p["exp"] = f.now.Add(-testSkew + time.Second).Unix()
		p["iat"] = f.now.Add(-30 * time.Minute).Unix()
	}))
}

func TestExpiredWithoutSkew(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ClockSkew = 0 })
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = f.now.Unix() }), ReasonExpired)
}

func TestRejectsLifetimeTooLong(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = f.now.Add(testLifetime + time.Second).Unix() }), ReasonLifetime)
	f.expectOK(f.valid(func(_, p map[string]any) { p["exp"] = f.now.Add(testLifetime).Unix() }))
}

func TestRejectsExpNotAfterIat(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) {
		p["iat"] = f.now.Add(30 * time.Second).Unix()
		p["exp"] = f.now.Add(30 * time.Second).Unix()
	}), ReasonLifetime)
}

func TestRejectsNotYetValid(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["nbf"] = f.now.Add(testSkew + time.Second).Unix() }), ReasonNotYetValid)
	f.expectOK(f.valid(func(_, p map[string]any) { p["nbf"] = f.now.Add(testSkew).Unix() }))
}

func TestRejectsNonNumericNbf(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { p["nbf"] = "soon" }), ReasonMissingClaim)
}

func TestRejectsMissingExp(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "exp") }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = "1710072600" }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = 1e300 }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = -1 }), ReasonMissingClaim)
}

func TestAcceptsFractionalDates(t *testing.T) {
	f := newFixture(t)
	a := f.expectOK(f.valid(func(_, p map[string]any) {
		p["iat"] = float64(f.now.Unix()) + 0.25
		p["exp"] = float64(f.now.Add(5*time.Minute).Unix()) + 0.5
	}))
	if want := f.now.Add(5*time.Minute + 500*time.Millisecond); !a.ExpiresAt.Equal(want) {
		t.Errorf("exp = %v, want %v", a.ExpiresAt, want)
	}
}

func TestRejectsMissingNonce(t *testing.T) {
	f := newFixture(t)
	f.expectReason(f.valid(func(_, p map[string]any) { delete(p, "nonce") }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["nonce"] = "" }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["nonce"] = 12345 }), ReasonMissingClaim)
	f.expectReason(f.valid(func(_, p map[string]any) { p["nonce"] = strings.Repeat("n", maxNonceLen+1) }), ReasonMissingClaim)
	f.expectOK(f.valid(func(_, p map[string]any) { p["nonce"] = strings.Repeat("n", maxNonceLen) }))
}

// --- replay -------------------------------------------------------------------

func TestRejectsReplayedNonce(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	f.expectOK(tok)
	f.expectReason(tok, ReasonReplay)
	// Another token with the same nonce is a replay too.
	f.expectReason(f.valid(func(_, p map[string]any) { p["exp"] = f.now.Add(20 * time.Minute).Unix() }), ReasonReplay)
}

func TestNonceClaimedUntilExpPlusSkew(t *testing.T) {
	f := newFixture(t)
	var got time.Time
	f.v.replay = replayFunc(func(_ context.Context, _, _ string, until time.Time) (bool, error) {
		got = until
		return true, nil
	})
	a := f.expectOK(f.valid(nil))
	if want := a.ExpiresAt.Add(testSkew); !got.Equal(want) {
		t.Errorf("until = %v, want %v", got, want)
	}
}

type replayFunc func(ctx context.Context, appKey, nonce string, until time.Time) (bool, error)

func (f replayFunc) Claim(ctx context.Context, appKey, nonce string, until time.Time) (bool, error) {
	return f(ctx, appKey, nonce, until)
}

func TestReplayStoreErrorFailsClosed(t *testing.T) {
	f := newFixture(t)
	storeErr := errors.New("redis: connection refused")
	f.v.replay = replayFunc(func(context.Context, string, string, time.Time) (bool, error) { return true, storeErr })
	e := f.expectReason(f.valid(nil), ReasonReplayStore)
	if !errors.Is(e, storeErr) {
		t.Errorf("the store error should be reachable with errors.Is")
	}
}

func TestRejectedAssertionsRecordNoNonce(t *testing.T) {
	f := newFixture(t)
	nonce := func(_, p map[string]any) { p["nonce"] = "shared" }
	f.expectReason(f.token(f.header(), f.claims(), otherSecret), ReasonSignature)
	f.expectReason(f.valid(func(h, p map[string]any) { nonce(h, p); p["aud"] = "x" }), ReasonAudience)
	f.expectReason(f.valid(func(h, p map[string]any) { nonce(h, p); p["sub"] = "x" }), ReasonUnknownHMSApp)
	f.expectReason(f.valid(func(h, p map[string]any) { nonce(h, p); p["exp"] = f.now.Add(-time.Hour).Unix() }), ReasonExpired)
	if n := f.store.Len(); n != 0 {
		t.Fatalf("store Len = %d after rejections, want 0", n)
	}
	f.expectOK(f.valid(nonce)) // the nonce was not burnt
}

func TestReplayIsPerApplication(t *testing.T) {
	const other = "second-app"
	f := newFixture(t, func(c *Config) { c.Applications[other] = [][]byte{testSecret2} })
	f.expectOK(f.valid(nil))
	h, p := f.header(), f.claims()
	h[claimAppKey], p[claimAppKey], p["iss"] = other, other, issuerPrefix+other
	f.expectOK(f.token(h, p, testSecret2))
}

// --- configuration and errors ------------------------------------------------

func TestNewValidatorRejectsBadConfig(t *testing.T) {
	store := NewMemoryReplayStore(nil)
	good := func() Config {
		return Config{
			Applications:    map[string][][]byte{"k": {testSecret}},
			HMSApplications: map[string]bool{"h": true},
			MaxLifetime:     time.Hour,
			Replay:          store,
		}
	}
	if _, err := NewValidator(good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := map[string]func(*Config){
		"no applications": func(c *Config) { c.Applications = nil },
		"no secret":       func(c *Config) { c.Applications["k"] = nil },
		"empty secret":    func(c *Config) { c.Applications["k"] = [][]byte{testSecret, {}} },
		"empty app key":   func(c *Config) { c.Applications[""] = [][]byte{testSecret} },
		"nil replay":      func(c *Config) { c.Replay = nil },
		"zero lifetime":   func(c *Config) { c.MaxLifetime = 0 },
		"negative skew":   func(c *Config) { c.ClockSkew = -time.Second },
	}
	for name, mod := range cases {
		cfg := good()
		mod(&cfg)
		_, err := NewValidator(cfg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), string(testSecret)) {
			t.Errorf("%s: error leaks the secret", name)
		}
	}
}

func TestValidatorCopiesConfig(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	f := newFixture(t, func(c *Config) { c.Applications[testAppKey] = [][]byte{secret} })
	secret[0] ^= 0xff
	f.expectOK(f.valid(nil))
}

func TestReasonOf(t *testing.T) {
	if r := ReasonOf(errors.New("x")); r != "" {
		t.Errorf("ReasonOf(plain) = %q", r)
	}
	if r := ReasonOf(nil); r != "" {
		t.Errorf("ReasonOf(nil) = %q", r)
	}
	wrapped := errors.Join(errors.New("ctx"), &Error{Reason: ReasonExpired})
	if r := ReasonOf(wrapped); r != ReasonExpired {
		t.Errorf("ReasonOf(wrapped) = %q", r)
	}
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" {
			t.Errorf("duplicate or empty reason %q", r)
		}
		seen[r] = true
	}
	if len(seen) != 18 {
		t.Errorf("Reasons() has %d entries, want 18", len(seen))
	}
}

func TestDetailQuotesUntrustedValues(t *testing.T) {
	f := newFixture(t)
	e := f.expectReason(f.valid(func(h, _ map[string]any) { h[claimAppKey] = "a\nb" + strings.Repeat("x", 500) }), ReasonUnknownApp)
	if strings.Contains(e.Detail, "\n") || len(e.Detail) > 200 {
		t.Errorf("detail not sanitised: %q", e.Detail)
	}
}

// TestRejectsAnyByteOutsideTheAlphabet: a byte that is not base64url in
// any segment is refused as malformed, also when the header is already in
// the cache. checkShape looks for line breaks only; strict decoding refuses
// the rest, and this pins that every segment is decoded or matched exactly.
func TestRejectsAnyByteOutsideTheAlphabet(t *testing.T) {
	f := newFixture(t)
	f.expectOK(f.valid(nil)) // its header is now cached
	tok := f.valid(func(_, p map[string]any) { p["nonce"] = "alphabet" })
	first, last := strings.IndexByte(tok, '.'), strings.LastIndexByte(tok, '.')
	for _, at := range []int{first / 2, (first + last) / 2, (last + len(tok)) / 2} {
		for _, b := range []byte{' ', '\t', '\r', '\n', '=', '+', '/', '%', '"', 0x00, 0x7f, 0x80, 0xff} {
			bad := tok[:at] + string([]byte{b}) + tok[at:]
			f.expectReason(bad, ReasonMalformed)
		}
	}
	f.expectOK(tok)
}
