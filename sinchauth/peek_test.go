package sinchauth

import (
	"strings"
	"testing"
	"time"
)

func TestPeekUnverifiedReadsClaimsOfAnyAssertion(t *testing.T) {
	tok, err := Mint(MintParams{
		ApplicationKey: testAppKey, Secret: []byte("not the configured secret"), HMSApplicationID: testHMSApp,
		Audience: testAudience, IssuedAt: time.Now(), Lifetime: time.Minute, Nonce: "the-nonce",
	})
	if err != nil {
		t.Fatal(err)
	}
	u := PeekUnverified(tok)
	if u.ApplicationKey != testAppKey || u.HMSApplicationID != testHMSApp {
		t.Errorf("peeked %+v, want the claimed key and sub even with a wrong signature", u)
	}
	if u.NonceSHA256 != NonceHash("the-nonce") || len(u.NonceSHA256) != 16 || strings.Contains(u.NonceSHA256, "nonce") {
		t.Errorf("NonceSHA256 = %q, want 16 hex digits of SHA-256(nonce)", u.NonceSHA256)
	}
}

func TestPeekUnverifiedBoundsAndStripsValues(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(func(h, p map[string]any) {
		h[claimAppKey] = "key\nwith\x1bcontrols" + strings.Repeat("x", 200)
		p["sub"] = 12345 // not a string
		delete(p, "nonce")
	})
	u := PeekUnverified(tok)
	if strings.ContainsAny(u.ApplicationKey, "\n\x1b") || len(u.ApplicationKey) > maxPeeked || !strings.HasPrefix(u.ApplicationKey, "keywith") {
		t.Errorf("ApplicationKey = %q, want printable and at most %d bytes", u.ApplicationKey, maxPeeked)
	}
	if u.HMSApplicationID != "" || u.NonceSHA256 != "" {
		t.Errorf("peeked %+v, want empty sub and nonce hash", u)
	}
}

func TestPeekUnverifiedNeverFails(t *testing.T) {
	for _, s := range []string{"", "a.b", "not a jwt", "e30.e30.", strings.Repeat("A", MaxAssertionSize+1)} {
		if u := PeekUnverified(s); u != (Unverified{}) {
			t.Errorf("PeekUnverified(%.20q) = %+v, want empty", s, u)
		}
	}
}
