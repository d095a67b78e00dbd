package bearerauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// ByShape sends a token that looks like a JWT (a compact JWS whose header
// names an alg) to JWT and any other token to Opaque. Either may be nil:
// with only Opaque, every token is introspected (some servers issue JWTs
// and expect them introspected); with only JWT, an opaque token is refused.
type ByShape struct {
	JWT    Verifier
	Opaque Verifier
}

// Verify implements Verifier.
func (b ByShape) Verify(ctx context.Context, token string) (*Principal, error) {
	if b.JWT != nil && (b.Opaque == nil || looksLikeJWT(token)) {
		return b.JWT.Verify(ctx, token)
	}
	if b.Opaque != nil {
		return b.Opaque.Verify(ctx, token)
	}
	return nil, reject(ReasonMalformed, "no verifier configured")
}

// looksLikeJWT reports whether token has three parts and a JSON header
// with an alg: only a shape test, nothing is trusted from it.
func looksLikeJWT(token string) bool {
	head, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 || len(token) > MaxTokenBytes {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && h.Alg != ""
}
