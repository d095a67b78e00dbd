package oauthserver

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 8037 Appendix A.2/A.3: the example Ed25519 public key and its RFC 7638
// thumbprint.
func TestThumbprintRFC8037Vector(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Thumbprint(ed25519.PublicKey(x)), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
}

func TestPrivateKeyRoundTrip(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pemBytes, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Error("round trip changed the key")
	}
	pubPEM, err := MarshalPublicKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// What a verifier's public_key option reads back (golang-jwt's parser).
	pub, err := jwt.ParseEdPublicKeyFromPEM(pubPEM)
	if err != nil || !pub.(ed25519.PublicKey).Equal(priv.Public()) {
		t.Errorf("public key PEM does not parse back: %v", err)
	}
}

func TestParsePrivateKeyRefusesOthers(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecSEC1, _ := x509.MarshalECPrivateKey(ec)
	for name, in := range map[string][]byte{
		"not PEM":       []byte("hello"),
		"EC in PKCS#8":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"EC SEC1":       pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC1}),
		"garbage PKCS8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := ParsePrivateKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestJWKSVerifiesIssuedToken reads the published JWKS the way an outside
// verifier would and checks an issued token with the key it names.
func TestJWKSVerifiesIssuedToken(t *testing.T) {
	s, pub := newTestServer(t)
	var set JWKS
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	k := set.Keys[0]
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Use != "sig" || k.Alg != "EdDSA" || k.Kid != s.KeyID() {
		t.Errorf("jwk %+v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || !ed25519.PublicKey(x).Equal(pub) {
		t.Fatalf("jwk x is not the public key")
	}
	iss, oerr := s.Exchange(form("grant_type", "client_credentials", "client_id", testClientID, "client_secret", testSecret), "", testIssuer, testAud)
	if oerr != nil {
		t.Fatal(oerr)
	}
	verify(t, iss.AccessToken, ed25519.PublicKey(x))
}
