package sinchauth

import (
	"errors"
)

// Reason names why an assertion was rejected. The set is fixed and small on
// purpose: it is used as a Prometheus label value and as a log field, so it
// must never carry request-controlled text (that goes into Error.Detail).
type Reason string

// The rejection reasons. Their string values are part of the module's
// observable behaviour (metrics, logs) and must not change.
const (
	ReasonMalformed      Reason = "malformed"                // not a compact JWS, bad base64/JSON, non-strict encoding, oversize
	ReasonAlgorithm      Reason = "bad_algorithm"            // alg not exactly HS256
	ReasonCritHeader     Reason = "crit_header"              // a crit header is present
	ReasonUnknownApp     Reason = "unknown_application"      // header sinch:rtc:application_key missing or not configured
	ReasonKeyID          Reason = "bad_kid"                  // malformed kid, or its date not within one day of iat's UTC date
	ReasonSignature      Reason = "bad_signature"            // no configured secret of the application verifies it
	ReasonIssuer         Reason = "bad_issuer"               // iss is not //rtc.sinch.com/applications/<key>
	ReasonAppKeyMismatch Reason = "application_key_mismatch" // payload key != header key (or missing)
	ReasonAudience       Reason = "bad_audience"             // wrong, missing, or several audiences
	ReasonScope          Reason = "bad_scope"                // scope claim missing or not the Huawei push scope
	ReasonUnknownHMSApp  Reason = "unknown_hms_application"  // sub not configured: the glue answers unauthorized_client
	ReasonIssuedInFuture Reason = "iat_in_future"            // iat after now + clock skew
	ReasonExpired        Reason = "expired"                  // exp not after now - clock skew
	ReasonLifetime       Reason = "lifetime_too_long"        // exp - iat not in (0, MaxLifetime]
	ReasonNotYetValid    Reason = "not_yet_valid"            // nbf after now + clock skew
	ReasonMissingClaim   Reason = "missing_claim"            // iat/exp/iss/sub/nonce (or nbf) missing or of the wrong type
	ReasonReplay         Reason = "replayed_nonce"           // nonce already recorded for this application
	ReasonReplayStore    Reason = "replay_store_unavailable" // ReplayStore failed: the glue answers 503
)

// Reasons returns every Reason, e.g. to pre-register metric label values so
// that a counter exists (at zero) before the first rejection of its kind.
func Reasons() []Reason {
	return []Reason{
		ReasonMalformed, ReasonAlgorithm, ReasonCritHeader, ReasonUnknownApp,
		ReasonKeyID, ReasonSignature, ReasonIssuer, ReasonAppKeyMismatch,
		ReasonAudience, ReasonScope, ReasonUnknownHMSApp, ReasonIssuedInFuture,
		ReasonExpired, ReasonLifetime, ReasonNotYetValid, ReasonMissingClaim,
		ReasonReplay, ReasonReplayStore,
	}
}

// Error is the only error type Validate returns. Detail is written for an
// operator reading logs: it may name a claim and the expected and received
// values of non-secret claims (iss, aud, sub, kid, application key), but it
// never contains a secret, a derived key, the assertion or its signature.
type Error struct {
	Reason Reason
	Detail string
	// Claimed is who the refused assertion claims to come from, unverified:
	// for the log line only.
	Claimed Unverified
	cause   error // e.g. the ReplayStore's error; reachable through Unwrap
}

// Error implements error.
func (e *Error) Error() string {
	s := "sinch client assertion rejected: " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap exposes the underlying cause (only set for ReasonReplayStore), so
// callers can errors.Is it against, e.g., context.DeadlineExceeded.
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

// reject builds an *Error; it exists so that call sites stay one line.
func reject(r Reason, detail string) *Error {
	return &Error{Reason: r, Detail: detail}
}

// maxQuoted bounds how much of an attacker-chosen value reaches a log line.
const maxQuoted = 96
