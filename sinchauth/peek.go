package sinchauth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Unverified holds what a client assertion CLAIMS about itself, read
// without checking its signature or any other rule. It exists for one
// purpose: to say in a rejection's log line who the rejected caller
// pretended to be. It must never decide anything.
type Unverified struct {
	ApplicationKey   string // header sinch:rtc:application_key (else the payload's)
	HMSApplicationID string // sub
	NonceSHA256      string // NonceHash of the nonce; the nonce itself is not kept
}

// maxPeeked bounds each peeked value: it is attacker-chosen text on its way
// into a log line.
const maxPeeked = 64

// PeekUnverified reads the claimed application key, HMS App ID and nonce
// hash of an assertion without verifying it. Anything it cannot read stays
// empty; it never fails. Values are cut to 64 bytes and stripped of
// characters outside printable ASCII.
func PeekUnverified(assertion string) Unverified {
	var u Unverified
	if checkShape(assertion) != nil {
		return u
	}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, claims)
	if err != nil || tok == nil {
		return u
	}
	u.ApplicationKey = peekString(tok.Header[claimAppKey])
	if u.ApplicationKey == "" {
		u.ApplicationKey = peekString(claims[claimAppKey])
	}
	u.HMSApplicationID = peekString(claims["sub"])
	if nonce, ok := claims["nonce"].(string); ok && nonce != "" {
		u.NonceSHA256 = NonceHash(nonce)
	}
	return u
}

// NonceHash is the first 16 hex digits of SHA-256(nonce): enough to follow
// one nonce through the logs (a replay shows the same hash twice), useless
// for sending it again.
func NonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:8])
}

func peekString(v any) string {
	s, _ := v.(string)
	if len(s) > maxPeeked {
		s = s[:maxPeeked]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}
