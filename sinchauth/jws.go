package sinchauth

import "strings"

// compactJWS is an assertion split at its two dots (RFC 7515 §7.1).
type compactJWS struct {
	header, payload, signature string
	signingInput               string // header "." payload: what the HMAC covers
}

// splitCompact splits s into exactly three segments; ok is false for any
// other number of dots.
func splitCompact(s string) (jws compactJWS, ok bool) {
	first := strings.IndexByte(s, '.')
	last := strings.LastIndexByte(s, '.')
	if first < 0 || first == last || strings.IndexByte(s[first+1:last], '.') >= 0 {
		return compactJWS{}, false
	}
	return compactJWS{
		header:       s[:first],
		payload:      s[first+1 : last],
		signature:    s[last+1:],
		signingInput: s[:last],
	}, true
}

// anyVerifies reports whether one of keys (one per configured secret of the
// application, during rotation) verifies sig over signingInput.
func anyVerifies(keys []*signingKey, signingInput string, sig []byte) bool {
	for _, k := range keys {
		if k.verifies(signingInput, sig) {
			return true
		}
	}
	return false
}
