package sinchauth

import (
	"strings"
	"testing"
)

// A refusal carries who the assertion claims to be, as far as the
// validator decoded it, so that the glue never decodes an assertion again.
func TestRefusalCarriesTheClaimedIdentity(t *testing.T) {
	f := newFixture(t)
	nonce := "nonce-" + t.Name()
	full := Unverified{ApplicationKey: testAppKey, HMSApplicationID: testHMSApp, NonceSHA256: NonceHash(nonce)}
	for _, tc := range []struct {
		name string
		tok  func() string
		want Reason
		who  Unverified
	}{
		{"wrong secret: the whole payload", func() string {
			return f.token(f.header(), f.claims(), []byte("not the configured secret"))
		}, ReasonSignature, full},
		{"a claim check", func() string {
			return f.valid(func(_, p map[string]any) { p["aud"] = "https://elsewhere.example" })
		}, ReasonAudience, full},
		{"replayed: the verified values", func() string { return f.valid(nil) }, ReasonReplay, full},
		{"header refused: only the header's key", func() string {
			return f.valid(func(h, _ map[string]any) { h["alg"] = "HS384" })
		}, ReasonAlgorithm, Unverified{ApplicationKey: testAppKey}},
		{"unknown application: the claimed key", func() string {
			return f.valid(func(h, _ map[string]any) { h[claimAppKey] = "other-key" })
		}, ReasonUnknownApp, Unverified{ApplicationKey: "other-key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok()
			if tc.want == ReasonReplay {
				f.expectOK(tok)
			}
			e := f.expectReason(tok, tc.want)
			if e.Claimed != tc.who {
				t.Errorf("Claimed = %+v, want %+v", e.Claimed, tc.who)
			}
		})
	}
}

func TestClaimedValuesAreBoundedAndStripped(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(func(h, p map[string]any) {
		p["sub"] = "sub\nwith\x1bcontrols" + strings.Repeat("x", 200)
	})
	e := f.expectReason(tok, ReasonUnknownHMSApp)
	u := e.Claimed
	if strings.ContainsAny(u.HMSApplicationID, "\n\x1b") || len(u.HMSApplicationID) > maxPeeked || !strings.HasPrefix(u.HMSApplicationID, "subwith") {
		t.Errorf("HMSApplicationID = %q, want printable and at most %d bytes", u.HMSApplicationID, maxPeeked)
	}
	e = f.expectReason(f.valid(func(_, p map[string]any) { p["sub"] = 12345; delete(p, "nonce") }), ReasonMissingClaim)
	if e.Claimed.HMSApplicationID != "" || e.Claimed.NonceSHA256 != "" {
		t.Errorf("Claimed = %+v, want empty sub and nonce hash", e.Claimed)
	}
}

func TestMalformedAssertionClaimsNothing(t *testing.T) {
	f := newFixture(t)
	for s, want := range map[string]Reason{"a.b": ReasonMalformed, "not a jwt": ReasonMalformed, "e30.e30.": ReasonAlgorithm,
		strings.Repeat("A", MaxAssertionSize+1): ReasonMalformed} {
		e := f.expectReason(s, want)
		if e.Claimed != (Unverified{}) {
			t.Errorf("Claimed of %.20q = %+v, want empty", s, e.Claimed)
		}
	}
}
