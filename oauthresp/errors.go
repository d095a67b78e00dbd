package oauthresp

import (
	"fmt"
	"net/http"
	"time"
)

// Error codes of RFC 6749 §5.2 and RFC 6750 §3.1.
const (
	ErrInvalidRequest         = "invalid_request"
	ErrInvalidClient          = "invalid_client"
	ErrInvalidGrant           = "invalid_grant"
	ErrUnauthorizedClient     = "unauthorized_client"
	ErrUnsupportedGrantType   = "unsupported_grant_type"
	ErrInvalidScope           = "invalid_scope"
	ErrInvalidToken           = "invalid_token"
	ErrInsufficientScope      = "insufficient_scope"
	ErrServerError            = "server_error"
	ErrTemporarilyUnavailable = "temporarily_unavailable"
)

// Error is an OAuth 2.0 error answer. Description is shown to the caller, so
// it must never hold a secret, a token or an assertion.
type Error struct {
	Status      int    // HTTP status
	Code        string // RFC 6749 error code
	Description string // for the operator; no secrets

	// Header holds extra response headers (Allow, WWW-Authenticate).
	Header http.Header
	// RetryAfter, when positive, becomes a Retry-After header in seconds.
	RetryAfter time.Duration

	// Reason is a short, bounded label for logs and metrics (such as
	// "bad_signature"); it is not sent to the caller.
	Reason string
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// NewError builds an Error with a formatted description.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// WithHeader returns e with header key set to value.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = make(http.Header)
	}
	e.Header.Set(key, value)
	return e
}

// BearerChallenge returns the RFC 6750 §3 WWW-Authenticate value for code
// and description. Quotes and backslashes are dropped from the description
// so the header stays a well-formed quoted-string.
func BearerChallenge(code, description string) string {
	v := `Bearer error="` + code + `"`
	if description != "" {
		v += `, error_description="` + quotable(description) + `"`
	}
	return v
}

// quotable keeps the printable ASCII characters RFC 6750 allows inside
// error_description (%x20-21 / %x23-5B / %x5D-7E).
func quotable(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}
