package oauthserver

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
)

// JWK is an RFC 8037 OKP public key as published in the JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is an RFC 7517 §5 JWK Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes pub as a signing key for EdDSA.
func PublicJWK(pub ed25519.PublicKey) JWK {
	return JWK{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(pub),
		Kid: Thumbprint(pub),
		Use: "sig",
		Alg: "EdDSA",
	}
}

// JWKSJSON returns the encoded key set of the given public keys, in order.
func JWKSJSON(pubs ...ed25519.PublicKey) []byte {
	set := JWKS{Keys: make([]JWK, 0, len(pubs))}
	for _, p := range pubs {
		set.Keys = append(set.Keys, PublicJWK(p))
	}
	b, _ := json.Marshal(set) // strings only: cannot fail
	return b
}
