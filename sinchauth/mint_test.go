package sinchauth

import (
	"regexp"
	"testing"
	"time"
)

func TestMintRoundTrip(t *testing.T) {
	f := newFixture(t)
	tok, err := Mint(MintParams{
		ApplicationKey: testAppKey, Secret: testSecret, HMSApplicationID: testHMSApp,
		Audience: testAudience, IssuedAt: f.now, Lifetime: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	a := f.expectOK(tok)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(a.Nonce) {
		t.Errorf("nonce %q is not a UUIDv4", a.Nonce)
	}
	if !a.ExpiresAt.Equal(f.now.Add(5*time.Minute)) || a.HMSApplicationID != testHMSApp {
		t.Errorf("assertion = %+v", a)
	}
	f.expectReason(tok, ReasonReplay)
}

func TestMintRandomNoncesDiffer(t *testing.T) {
	p := MintParams{ApplicationKey: "k", Secret: testSecret, HMSApplicationID: "h", Audience: "a", Lifetime: time.Minute}
	a, _ := Mint(p)
	b, _ := Mint(p)
	if a == b {
		t.Error("two mints with random nonces are equal")
	}
}

func TestMintRejectsBadParams(t *testing.T) {
	good := MintParams{ApplicationKey: "k", Secret: testSecret, HMSApplicationID: "h", Audience: "a", Lifetime: time.Minute}
	for name, mod := range map[string]func(*MintParams){
		"no key":      func(p *MintParams) { p.ApplicationKey = "" },
		"no secret":   func(p *MintParams) { p.Secret = nil },
		"no hms":      func(p *MintParams) { p.HMSApplicationID = "" },
		"no audience": func(p *MintParams) { p.Audience = "" },
		"no lifetime": func(p *MintParams) { p.Lifetime = 0 },
	} {
		p := good
		mod(&p)
		if _, err := Mint(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
