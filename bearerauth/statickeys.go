package bearerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// StaticKeys is a KeySource of several fixed public keys — what several
// `public_key` files configure, e.g. the embedded Authorization Server's
// keys during a rotation. Each key's kid is its RFC 7638 thumbprint, the
// kid the embedded server puts in its tokens. A token must name its key by
// kid (ReasonMissingKID otherwise): trying every key would let a key meant
// for one algorithm verify a token of another. With exactly one key, as
// with StaticKey, a token need not name it.
type StaticKeys struct {
	byKID map[string]crypto.PublicKey
	only  crypto.PublicKey // the key when there is exactly one
}

// NewStaticKeys accepts the keys NewStaticKey accepts, at least one, none
// twice.
func NewStaticKeys(pubs ...crypto.PublicKey) (*StaticKeys, error) {
	if len(pubs) == 0 {
		return nil, errors.New("no public key")
	}
	s := &StaticKeys{byKID: make(map[string]crypto.PublicKey, len(pubs))}
	for i, pub := range pubs {
		if _, err := NewStaticKey(pub); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		kid, err := Thumbprint(pub)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if _, dup := s.byKID[kid]; dup {
			return nil, fmt.Errorf("key %d (kid %s) is given twice", i+1, kid)
		}
		s.byKID[kid] = pub
	}
	if len(pubs) == 1 {
		s.only = pubs[0]
	}
	return s, nil
}

// KeyIDs are the kids of the keys.
func (s *StaticKeys) KeyIDs() []string {
	out := make([]string, 0, len(s.byKID))
	for kid := range s.byKID {
		out = append(out, kid)
	}
	return out
}

// KeyfuncCtx implements KeySource. Every error is an *Error.
func (s *StaticKeys) KeyfuncCtx(context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if s.only != nil {
			return s.only, nil
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, reject(ReasonMissingKID, "no kid header (or not a string): with several public keys the token must name its signing key")
		}
		key, ok := s.byKID[kid]
		if !ok {
			return nil, reject(ReasonUnknownKey, "no public key has kid "+quote.Text(kid, maxQuoted))
		}
		if alg, _ := t.Header["alg"].(string); !keyFitsAlg(key, alg) {
			return nil, reject(ReasonAlgorithm, fmt.Sprintf("alg %s does not fit the type of key %s", quote.Text(alg, maxQuoted), quote.Text(kid, maxQuoted)))
		}
		return key, nil
	}
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of an
// RSA, ECDSA P-256 or Ed25519 public key: the members each key type
// requires, in lexicographic order.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		canonical = `{"e":"` + b64(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + b64(k.N.Bytes()) + `"}`
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		canonical = `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + b64(k.X.FillBytes(make([]byte, size))) +
			`","y":"` + b64(k.Y.FillBytes(make([]byte, size))) + `"}`
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(k) + `"}`
	default:
		return "", fmt.Errorf("no thumbprint for key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:]), nil
}

// ParsePublicKeysPEM reads every PEM block of data as ParsePublicKeyPEM
// reads the first, so one file may hold several keys.
func ParsePublicKeysPEM(data []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		pub, err := ParsePublicKeyPEM(pem.EncodeToMemory(block))
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", len(out)+1, err)
		}
		out = append(out, pub)
		data = rest
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return out, nil
}

// NewJWKSFromJSON is a KeySource of a JWK Set read from a file (RFC 7517
// §5), checked as NewJWKS checks a fetched one: a token must name its key
// by kid, whose use, key_ops and alg must allow it. A key without kid gets
// its RFC 7638 thumbprint. An RSA key under 2048 bits, or one that cannot
// be read, is an error: a file is the operator's own, so it is fixed rather
// than skipped.
func NewJWKSFromJSON(data []byte) (KeySource, error) {
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the JWK Set holds no key")
	}
	store := newCheckedSet(nil)
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	seen := make(map[string]bool, len(set.Keys))
	for i, m := range set.Keys {
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		key := publicOf(jwk.Key())
		if why := weakKey(key); why != "" {
			return nil, fmt.Errorf("key %d: %s", i+1, why)
		}
		if m.KID == "" {
			if m.KID, err = Thumbprint(key); err != nil {
				return nil, fmt.Errorf("key %d: %w", i+1, err)
			}
			if jwk, err = jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{}); err != nil {
				return nil, fmt.Errorf("key %d: %w", i+1, err)
			}
		}
		if seen[m.KID] {
			return nil, fmt.Errorf("key %d: kid %s is used twice", i+1, quote.Text(m.KID, maxQuoted))
		}
		seen[m.KID] = true
		keys = append(keys, jwk)
	}
	if err := store.KeyReplaceAll(context.Background(), keys); err != nil {
		return nil, err
	}
	return &jwksKeys{storage: store}, nil
}
