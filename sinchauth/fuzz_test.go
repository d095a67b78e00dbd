package sinchauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzValidate feeds arbitrary assertions to a validator configured with the
// reference application and a second one. Properties: Validate never panics;
// every failure is an *Error with a known Reason; and every accepted
// assertion carries, in its canonical spelling, the HMAC-SHA256 over
// header.payload with the key derived (recomputed here independently) from a
// configured secret for the kid's day.
func FuzzValidate(f *testing.F) {
	r := loadReference(f)
	refSecret, err := DecodeSecret(r.ApplicationSecretBase64)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(r.NowUnix, 0)
	secrets := map[string][][]byte{
		r.ApplicationKey: {refSecret},
		testAppKey:       {testSecret, testSecret2},
	}
	audience := r.HMSClientAssertion.Audience

	for _, seed := range fuzzSeeds(f, r, refSecret, now) {
		f.Add(seed)
	}
	known := map[Reason]bool{}
	for _, reason := range Reasons() {
		known[reason] = true
	}

	// The replay store always answers "new", so a seed stays valid on every
	// run and one validator serves all iterations.
	v, err := NewValidator(Config{
		Applications:    secrets,
		HMSApplications: map[string]bool{r.HMSApplicationID: true, testHMSApp: true},
		ClockSkew:       testSkew,
		MaxLifetime:     testLifetime,
		Replay:          replayFunc(func(context.Context, string, string, time.Time) (bool, error) { return true, nil }),
		Now:             func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, assertion string) {
		a, err := v.Validate(context.Background(), assertion, []string{audience})
		if err != nil {
			if !known[ReasonOf(err)] {
				t.Fatalf("unknown reason for %v", err)
			}
			return
		}
		if a == nil {
			t.Fatal("nil assertion without error")
		}
		if !independentlySigned(assertion, secrets) {
			t.Fatalf("accepted an assertion whose signature does not independently verify: %q", assertion)
		}
	})
}

// independentlySigned re-derives the key with crypto/hmac only and requires
// the signature segment to be the canonical base64url of the expected MAC.
func independentlySigned(assertion string, secrets map[string][][]byte) bool {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Kid    string `json:"kid"`
		AppKey string `json:"sinch:rtc:application_key"`
	}
	if json.Unmarshal(hb, &h) != nil || len(h.Kid) != len("hkdfv1-YYYYMMDD") {
		return false
	}
	for _, secret := range secrets[h.AppKey] {
		dk := hmac.New(sha256.New, secret)
		dk.Write([]byte(h.Kid[len("hkdfv1-"):]))
		m := hmac.New(sha256.New, dk.Sum(nil))
		m.Write([]byte(parts[0] + "." + parts[1]))
		if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) == parts[2] {
			return true
		}
	}
	return false
}

// fuzzSeeds returns the reference vector, valid minted assertions and the
// malformed spellings the unit tests cover.
func fuzzSeeds(f *testing.F, r referenceVector, refSecret []byte, now time.Time) []string {
	ref := r.HMSClientAssertion.JWT
	minted := func(key string, secret []byte, hms string, iat time.Time) string {
		tok, err := Mint(MintParams{ApplicationKey: key, Secret: secret, HMSApplicationID: hms,
			Audience: r.HMSClientAssertion.Audience, IssuedAt: iat, Lifetime: 10 * time.Minute, Nonce: "seed"})
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	refParts := strings.Split(ref, ".")
	lastFlipped := ref[:len(ref)-1] + string(ref[len(ref)-1]^1)
	return []string{
		ref,
		r.ObsoleteHMSClientAssertion.JWT,
		minted(r.ApplicationKey, refSecret, r.HMSApplicationID, now),
		minted(testAppKey, testSecret2, testHMSApp, now.Add(-time.Minute)),
		minted(testAppKey, otherSecret, testHMSApp, now),
		minted(r.ApplicationKey, refSecret, "unknown", now),
		ref + "=",
		ref + "\n",
		lastFlipped,
		refParts[0] + "." + refParts[1],
		refParts[0] + "." + refParts[1] + ".",
		seg(map[string]any{"alg": "none", "kid": r.Kid, claimAppKey: r.ApplicationKey}) + "." + refParts[1] + ".",
		seg(map[string]any{"alg": "HS512", "kid": r.Kid, claimAppKey: r.ApplicationKey}) + "." + refParts[1] + "." + refParts[2],
		seg(map[string]any{"alg": "HS256", "crit": []string{"b64"}, "kid": r.Kid, claimAppKey: r.ApplicationKey}) + "." + refParts[1] + "." + refParts[2],
		"bnVsbA." + refParts[1] + "." + refParts[2],
		"",
		"..",
		"e30.e30.",
	}
}
