package bearerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// KeySource finds the key that should have signed a token. It may look at
// the token's header (kid, alg) but must not trust it: the JWT verifier
// checks the algorithm against its allow-list and the key type against
// the algorithm on its own. NewJWKS's source requires a kid and honours the
// chosen key's use and alg; a StaticKey needs no kid. An *Error it returns
// reaches the caller as is.
type KeySource interface {
	KeyfuncCtx(ctx context.Context) jwt.Keyfunc
}

// minRSABits is the smallest RSA modulus accepted for a fixed public key.
const minRSABits = 2048

// StaticKey is a KeySource of one fixed public key: no network hop, no kid
// matching. It is what `public_key` configures, e.g. for the embedded
// Authorization Server whose signing key the operator holds.
type StaticKey struct{ key crypto.PublicKey }

// NewStaticKey accepts an RSA (at least 2048 bits), ECDSA P-256 or Ed25519
// public key: the key types of the algorithms the verifier allows.
func NewStaticKey(pub crypto.PublicKey) (*StaticKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: at least %d needed", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA key on %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T: want RSA, ECDSA P-256 or Ed25519", pub)
	}
	return &StaticKey{key: pub}, nil
}

// KeyfuncCtx implements KeySource.
func (s *StaticKey) KeyfuncCtx(context.Context) jwt.Keyfunc {
	return func(*jwt.Token) (any, error) { return s.key, nil }
}

// ParsePublicKeyPEM reads the first PEM block of data as a PKIX
// ("PUBLIC KEY") public key, or takes the public key of a certificate.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKIX public key: %w", err)
		}
		return pub, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block of type %q: want PUBLIC KEY (a private key does not belong here)", block.Type)
}
