package bearerauth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// MaxTokenBytes bounds the size of a bearer token. Real access tokens are a
// few KiB at most; the bound keeps a hostile header cheap to refuse.
const MaxTokenBytes = 8 << 10

// Verifier checks a bearer access token and says who it was issued to.
// Implementations are safe for concurrent use.
type Verifier interface {
	// Verify returns the token's principal, or an *Error saying why the
	// token is refused.
	Verify(ctx context.Context, token string) (*Principal, error)
}

// Principal is what a verified token says about its holder.
type Principal struct {
	Subject   string    // sub
	ClientID  string    // client_id (or azp), else sub: the OAuth client the token was issued to
	Issuer    string    // iss
	Scopes    []string  // granted scopes
	ExpiresAt time.Time // exp; zero when the AS gave none (introspection only)
}

// parseScopes reads a scope claim as RFC 9068 (a space-separated string)
// or as the arrays some servers emit (`scp`, or `scope` as an array). ok is
// false when the claim has another type.
func parseScopes(v any) (scopes []string, ok bool) {
	switch s := v.(type) {
	case nil:
		return nil, true
	case string:
		return strings.Fields(s), true
	case []any:
		for _, e := range s {
			str, isStr := e.(string)
			if !isStr {
				return nil, false
			}
			scopes = append(scopes, strings.Fields(str)...)
		}
		return scopes, true
	case []string:
		return s, true
	}
	return nil, false
}

// checkScopes refuses a token that lacks one of the required scopes.
func checkScopes(granted, required []string) error {
	for _, r := range required {
		if !slices.Contains(granted, r) {
			return reject(ReasonScope, fmt.Sprintf("the token lacks the required scope %s", quote.Text(r, maxQuoted)))
		}
	}
	return nil
}

// stringClaim returns v if it is a string, "" otherwise.
func stringClaim(v any) string {
	s, _ := v.(string)
	return s
}
