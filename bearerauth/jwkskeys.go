package bearerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// jwksKeys is the KeySource of a JWKS. The token's kid names exactly one
// key, and that key's "use", "key_ops" and "alg" must allow verifying this
// token: a token without kid is refused rather than tried against every key,
// which would let an encryption key, or a key bound to another algorithm,
// verify it.
type jwksKeys struct {
	// storage reads a key by kid, refreshing the set (rate-limited) when
	// the kid is not known.
	storage jwkset.Storage
}

// KeyfuncCtx implements KeySource. Every error is an *Error.
func (k *jwksKeys) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, reject(ReasonMissingKID, "no kid header (or not a string): with a JWKS the token must name its signing key")
		}
		jwk, err := k.storage.KeyRead(ctx, kid)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, e
			}
			return nil, &Error{Reason: ReasonUnknownKey, Detail: "no key for kid " + quote.Text(kid, maxQuoted), cause: err}
		}
		alg, _ := t.Header["alg"].(string)
		return usableKey(jwk, kid, alg)
	}
}

// usableKey returns the public key of jwk if it may verify a token of alg.
func usableKey(jwk jwkset.JWK, kid, alg string) (any, error) {
	m := jwk.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, reject(ReasonUnknownKey, fmt.Sprintf("key %s is for use %s, not sig", quote.Text(kid, maxQuoted), quote.Text(string(m.USE), maxQuoted)))
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, reject(ReasonUnknownKey, fmt.Sprintf("key %s does not allow the verify operation", quote.Text(kid, maxQuoted)))
	}
	if m.ALG != "" && string(m.ALG) != alg {
		return nil, reject(ReasonAlgorithm, fmt.Sprintf("alg %s is not the alg %s of key %s", quote.Text(alg, maxQuoted), quote.Text(string(m.ALG), maxQuoted), quote.Text(kid, maxQuoted)))
	}
	key := publicOf(jwk.Key())
	if why := weakKey(key); why != "" {
		return nil, reject(ReasonUnknownKey, fmt.Sprintf("key %s is not used: %s", quote.Text(kid, maxQuoted), why))
	}
	if !keyFitsAlg(key, alg) {
		return nil, reject(ReasonAlgorithm, fmt.Sprintf("alg %s does not fit the type of key %s", quote.Text(alg, maxQuoted), quote.Text(kid, maxQuoted)))
	}
	return key, nil
}

// publicOf returns the public half of a key a JWKS (wrongly) published
// with its private part.
func publicOf(key any) any {
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return pk.Public()
	}
	return key
}

// weakKey says why key is too weak to trust, or "" if it is not.
func weakKey(key any) string {
	if k, ok := key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return fmt.Sprintf("RSA key of %d bits, at least %d needed", k.N.BitLen(), minRSABits)
	}
	return ""
}

// keyFitsAlg reports whether key is of the type alg signs with (and, for
// ES256, on P-256).
func keyFitsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// checkedSet stores the keys of the fetched JWKS, leaving out those too
// weak to trust (an RSA key under 2048 bits, which `public_key` refuses
// too) with a warning, so one bad key does not cost the rest of the set.
// A kid of a left-out key reads as an *Error, not as "not found", so it
// neither verifies anything nor makes the set be fetched again.
type checkedSet struct {
	*jwkset.MemoryJWKSet
	onSkip func(error)

	mu      sync.RWMutex
	skipped map[string]string // kid -> why it was left out
}

func newCheckedSet(onSkip func(error)) *checkedSet {
	return &checkedSet{MemoryJWKSet: jwkset.NewMemoryStorage(), onSkip: onSkip}
}

// KeyReplaceAll stores a freshly fetched set, minus its weak keys.
func (s *checkedSet) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	kept := make([]jwkset.JWK, 0, len(given))
	skipped := make(map[string]string)
	for _, j := range given {
		kid := j.Marshal().KID
		if why := weakKey(publicOf(j.Key())); why != "" {
			skipped[kid] = why
			if s.onSkip != nil {
				s.onSkip(fmt.Errorf("JWKS key %s left out: %s", quote.Text(kid, maxQuoted), why))
			}
			continue
		}
		kept = append(kept, j)
	}
	for _, j := range kept {
		delete(skipped, j.Marshal().KID) // a usable key of the same kid
	}
	s.mu.Lock()
	s.skipped = skipped
	s.mu.Unlock()
	return s.MemoryJWKSet.KeyReplaceAll(ctx, kept)
}

// KeyRead finds the key of kid.
func (s *checkedSet) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	s.mu.RLock()
	why, skipped := s.skipped[kid]
	s.mu.RUnlock()
	if skipped {
		return jwkset.JWK{}, reject(ReasonUnknownKey, fmt.Sprintf("key %s was left out of the JWKS: %s", quote.Text(kid, maxQuoted), why))
	}
	return s.MemoryJWKSet.KeyRead(ctx, kid)
}
