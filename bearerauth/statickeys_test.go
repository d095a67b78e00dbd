package bearerauth_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/bearerauth/astest"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// RFC 7638 §3.1: the example RSA key and its thumbprint.
func TestThumbprintRFC7638Vector(t *testing.T) {
	n, _ := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got, err := bearerauth.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("thumbprint %s, %v", got, err)
	}
	// The embedded server's kid is the same computation.
	k := astest.NewKey("x", "EdDSA")
	pub := k.Public().(ed25519.PublicKey)
	if got, _ := bearerauth.Thumbprint(pub); got != oauthserver.Thumbprint(pub) {
		t.Errorf("Ed25519 thumbprint %s, oauthserver's %s", got, oauthserver.Thumbprint(pub))
	}
}

func staticKeysVerifier(t testing.TB, now time.Time, keys ...*astest.Key) *bearerauth.JWTVerifier {
	t.Helper()
	pubs := make([]crypto.PublicKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.Public()
	}
	src, err := bearerauth.NewStaticKeys(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{Keys: src, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// withThumbprintKID is k with its RFC 7638 thumbprint as kid.
func withThumbprintKID(t testing.TB, k *astest.Key) *astest.Key {
	t.Helper()
	kid, err := bearerauth.Thumbprint(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	k.KID = kid
	return k
}

func TestStaticKeysChooseByKID(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ec := withThumbprintKID(t, astest.NewKey("", "ES256"))
	ed := withThumbprintKID(t, astest.NewKey("", "EdDSA"))
	rs := withThumbprintKID(t, astest.NewKey("", "RS256"))
	v := staticKeysVerifier(t, now, ec, ed, rs)
	for _, k := range []*astest.Key{ec, ed, rs} {
		if _, err := v.Verify(t.Context(), astest.MintWith(k, goodClaims(now), nil)); err != nil {
			t.Errorf("%s token refused: %v", k.Alg, err)
		}
	}
	for name, tc := range map[string]struct {
		tok  string
		want bearerauth.Reason
	}{
		"no kid":        {astest.MintWith(ed, goodClaims(now), map[string]any{"kid": nil}), bearerauth.ReasonMissingKID},
		"unknown kid":   {astest.MintWith(ed, goodClaims(now), map[string]any{"kid": "nope"}), bearerauth.ReasonUnknownKey},
		"other's kid":   {astest.MintWith(ed, goodClaims(now), map[string]any{"kid": ec.KID}), bearerauth.ReasonAlgorithm},
		"unlisted key":  {astest.MintWith(withThumbprintKID(t, astest.NewKey("", "EdDSA")), goodClaims(now), nil), bearerauth.ReasonUnknownKey},
		"forged by kid": {astest.MintWith(&astest.Key{KID: ed.KID, Alg: "EdDSA", Private: astest.NewKey("", "EdDSA").Private}, goodClaims(now), nil), bearerauth.ReasonSignature},
	} {
		if r, _ := verifyReason(t, v, tc.tok); r != tc.want {
			t.Errorf("%s: %q, want %q", name, r, tc.want)
		}
	}
	if _, err := bearerauth.NewStaticKeys(ed.Public(), ec.Public(), ed.Public()); err == nil {
		t.Error("a key given twice accepted")
	}
	if _, err := bearerauth.NewStaticKeys(); err == nil {
		t.Error("no key accepted")
	}
}

func TestParsePublicKeysPEM(t *testing.T) {
	a, b := astest.NewKey("a", "EdDSA"), astest.NewKey("b", "ES256")
	keys, err := bearerauth.ParsePublicKeysPEM(append(a.PublicPEM(), b.PublicPEM()...))
	if err != nil || len(keys) != 2 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
	if _, err := bearerauth.ParsePublicKeysPEM([]byte("nothing")); err == nil {
		t.Error("no PEM accepted")
	}
}

func TestJWKSFromJSON(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	oldK, newK := astest.NewKey("", "EdDSA"), astest.NewKey("", "EdDSA")
	set := oauthserver.JWKSJSON(oldK.Public().(ed25519.PublicKey), newK.Public().(ed25519.PublicKey))
	src, err := bearerauth.NewJWKSFromJSON(set)
	if err != nil {
		t.Fatal(err)
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{Keys: src, Issuer: testIssuer, Audience: testAudience, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*astest.Key{withThumbprintKID(t, oldK), withThumbprintKID(t, newK)} {
		if _, err := v.Verify(t.Context(), astest.MintWith(k, goodClaims(now), nil)); err != nil {
			t.Errorf("token of a key in the file refused: %v", err)
		}
	}
	if r, _ := verifyReason(t, v, astest.MintWith(oldK, goodClaims(now), map[string]any{"kid": nil})); r != bearerauth.ReasonMissingKID {
		t.Errorf("no kid: %q, want missing_kid", r)
	}
	for name, bad := range map[string]string{
		"not JSON":  "{",
		"empty set": `{"keys":[]}`,
		"bad key":   `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"!!"}]}`,
		"short RSA": string(mustJWKS(t, astest.NewRSAKey("s", "RS256", 1024))),
	} {
		if _, err := bearerauth.NewJWKSFromJSON([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// mustJWKS is the JWK Set of k as astest serves it.
func mustJWKS(t testing.TB, k *astest.Key) []byte {
	t.Helper()
	as := astest.NewServer()
	defer as.Close()
	as.RemoveKey("k1")
	as.AddKey(k)
	resp, err := as.Client().Get(as.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
