package bearerauth

import (
	"errors"
)

// Reason names why a bearer token was rejected. The set is small and fixed
// on purpose: it is used as a log field and a metric label, so it must
// never carry request-controlled text (that goes into Error.Detail).
type Reason string

// The rejection reasons. Their string values are part of the module's
// observable behaviour (logs, metrics) and must not change.
const (
	ReasonMalformed     Reason = "malformed"                 // not a compact JWS, bad base64/JSON, oversize, empty
	ReasonAlgorithm     Reason = "bad_algorithm"             // alg not one of RS256, PS256, ES256, EdDSA (HS*, none refused)
	ReasonType          Reason = "bad_type"                  // typ header other than at+jwt / JWT, or a crit header
	ReasonMissingKID    Reason = "missing_kid"               // no kid header while the keys come from a JWKS
	ReasonUnknownKey    Reason = "unknown_key"               // no usable key with the token's kid, even after a (rate-limited) JWKS refresh
	ReasonSignature     Reason = "bad_signature"             // the signature does not verify with the key
	ReasonIssuer        Reason = "bad_issuer"                // iss missing or not the configured issuer
	ReasonAudience      Reason = "bad_audience"              // aud missing or without the configured audience
	ReasonExpired       Reason = "expired"                   // exp missing or past (beyond the clock skew)
	ReasonNotYetValid   Reason = "not_yet_valid"             // nbf or iat in the future (beyond the clock skew)
	ReasonMissingClaim  Reason = "missing_claim"             // a required claim is missing or of the wrong type
	ReasonScope         Reason = "insufficient_scope"        // a required scope is not granted
	ReasonInactive      Reason = "inactive"                  // introspection says active=false
	ReasonIntrospection Reason = "introspection_unavailable" // the introspection endpoint failed: not the caller's fault
	// ReasonIntrospectionThrottled: the token was not checked because the
	// introspection call bound was reached (a flood of unknown opaque
	// tokens); not the caller's fault either.
	ReasonIntrospectionThrottled Reason = "introspection_throttled"
)

// Reasons returns every Reason, e.g. to pre-register metric label values.
func Reasons() []Reason {
	return []Reason{
		ReasonMalformed, ReasonAlgorithm, ReasonType, ReasonMissingKID, ReasonUnknownKey,
		ReasonSignature, ReasonIssuer, ReasonAudience, ReasonExpired,
		ReasonNotYetValid, ReasonMissingClaim, ReasonScope, ReasonInactive,
		ReasonIntrospection, ReasonIntrospectionThrottled,
	}
}

// Temporary reports whether err refuses a token that was not actually
// checked (the introspection endpoint failed, or the call bound was
// reached): the caller should answer 503 temporarily_unavailable with
// Retry-After rather than 401 invalid_token, for the token may be good.
func Temporary(err error) bool {
	switch ReasonOf(err) {
	case ReasonIntrospection, ReasonIntrospectionThrottled:
		return true
	}
	return false
}

// Error is the only error type a Verifier returns. Detail is written for an
// operator: it may name a claim and non-secret values (iss, aud, kid, alg,
// scope), but never the token, its signature or a client secret.
type Error struct {
	Reason Reason
	Detail string
	cause  error // e.g. the introspection endpoint's transport error
}

// Error implements error.
func (e *Error) Error() string {
	s := "bearer token rejected: " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap exposes the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// ReasonOf returns the Reason of err if err is (or wraps) an *Error, and ""
// otherwise.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func reject(r Reason, detail string) *Error { return &Error{Reason: r, Detail: detail} }

// maxQuoted bounds how much of an attacker-chosen value reaches a log line.
const maxQuoted = 64
