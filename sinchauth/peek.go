package sinchauth

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// Unverified holds what a refused client assertion CLAIMS about itself, as
// far as the validator had decoded it when it refused: the header's
// application key once the header was decoded, the payload's sub and nonce
// once the payload was. Nothing in it was verified. It exists for one
// purpose: to say in a refusal's log line who the refused caller pretended
// to be. It must never decide anything.
type Unverified struct {
	ApplicationKey   string // header sinch:rtc:application_key (else the payload's)
	HMSApplicationID string // sub
	NonceSHA256      string // NonceHash of the nonce; the nonce itself is not kept
}

// maxPeeked bounds each claimed value: it is attacker-chosen text on its
// way into a log line.
const maxPeeked = 64

// claimedBy completes e.Claimed from the decoded (maybe unverified)
// claims p and returns e.
func (e *Error) claimedBy(p *payload) *Error {
	if e.Claimed.ApplicationKey == "" {
		e.Claimed.ApplicationKey = printableCut(jsonValue(p.AppKey))
	}
	e.Claimed.HMSApplicationID = printableCut(jsonValue(p.Sub))
	if nonce, ok := jsonString(p.Nonce); ok && nonce != "" {
		e.Claimed.NonceSHA256 = NonceHash(nonce)
	}
	return e
}

// jsonValue is raw as a string if it is a JSON string, else nil.
func jsonValue(raw []byte) any {
	if s, ok := jsonString(raw); ok {
		return s
	}
	return nil
}

// NonceHash is the first 16 hex digits of SHA-256(nonce): enough to follow
// one nonce through the logs (a replay shows the same hash twice), useless
// for sending it again.
func NonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:8])
}

// printableCut is v if it is a string, cleaned and cut to maxPeeked runes
// (see quote.Clean); else "".
func printableCut(v any) string {
	s, _ := v.(string)
	return quote.Clean(s, maxPeeked)
}
