package tokencache

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrorKind classifies an upstream failure by what the caller should answer.
type ErrorKind int

const (
	// KindUnavailable: network error, timeout, 5xx, 429/503 throttling or a
	// malformed answer. The upstream may work again later; the caller answers
	// 503 (with Retry-After when known).
	KindUnavailable ErrorKind = iota + 1
	// KindRejected: the upstream refused our credentials (or the request in a
	// way a retry will not fix); the caller answers 502.
	KindRejected
)

// String returns "unavailable", "rejected" or "ErrorKind(n)".
func (k ErrorKind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindRejected:
		return "rejected"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// UpstreamError is the error an upstream client returns. None of its fields,
// nor its Error string, ever holds a secret or an access token.
type UpstreamError struct {
	Kind        ErrorKind
	StatusCode  int           // HTTP status from upstream, 0 if none
	Code        string        // upstream error code(s), e.g. "1101/20173"; never a secret
	Description string        // upstream's error_description, truncated to 200 chars
	RetryAfter  time.Duration // from Retry-After, if any
	Err         error
}

// Error describes the failure for logs.
func (e *UpstreamError) Error() string {
	var b strings.Builder
	b.WriteString("upstream ")
	b.WriteString(e.Kind.String())
	if e.StatusCode != 0 {
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Code != "" {
		b.WriteString(": error ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Description))
	}
	if e.RetryAfter > 0 {
		b.WriteString(": retry after ")
		b.WriteString(e.RetryAfter.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *UpstreamError) Unwrap() error { return e.Err }

// KindOf classifies err. An *UpstreamError (anywhere in the chain) gives its
// Kind; any other non-nil error (a context deadline, a network error)
// counts as KindUnavailable. KindOf(nil) is 0.
func KindOf(err error) ErrorKind {
	if err == nil {
		return 0
	}
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.Kind != 0 {
		return ue.Kind
	}
	return KindUnavailable
}

// RetryAfterOf returns the Retry-After carried by an *UpstreamError in err's
// chain, or 0.
func RetryAfterOf(err error) time.Duration {
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		return ue.RetryAfter
	}
	return 0
}
