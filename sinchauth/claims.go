package sinchauth

import (
	"encoding/json"
	"math"
	"time"
)

// maxNonceLen bounds the nonce so that a (validly signed) assertion cannot
// make the replay store or a log line carry an arbitrarily large value.
const maxNonceLen = 256

// maxNumericDate is 9999-12-31T23:59:59Z. Larger values are refused so that
// time arithmetic can never overflow.
const maxNumericDate = 253402300799

// stringClaim returns the named claim when it is a JSON string; ok is false
// when it is absent or of another type.
func stringClaim(c map[string]any, name string) (string, bool) {
	s, ok := c[name].(string)
	return s, ok
}

// singleString accepts a string or a one-element array holding a string: the
// two spellings RFC 7519 allows for a single aud value (and that Sinch's scope
// may use). Several values are refused on purpose: a token naming several
// audiences invites audience-injection confusion.
func singleString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case []any:
		if len(t) == 1 {
			s, ok := t[0].(string)
			return s, ok
		}
	}
	return "", false
}

// numericDate reads an RFC 7519 NumericDate. Integers and fractional seconds
// are both legal JSON numbers there, so both are accepted; anything that is
// not a number (a string, a bool, ...) or is out of range is refused.
// present reports whether the claim exists at all.
func numericDate(c map[string]any, name string) (t time.Time, present, ok bool) {
	v, present := c[name]
	if !present {
		return time.Time{}, false, false
	}
	var f float64
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			if i < 0 || i > maxNumericDate {
				return time.Time{}, true, false
			}
			return time.Unix(i, 0).UTC(), true, true
		}
		var err error
		if f, err = n.Float64(); err != nil {
			return time.Time{}, true, false
		}
	case float64: // if claims were ever decoded without UseNumber
		f = n
	default:
		return time.Time{}, true, false
	}
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, true, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, true
}

// issuerPrefix + application key is the only accepted iss.
const issuerPrefix = "//rtc.sinch.com/applications/"

// checkClaims runs every payload check on a signature-verified payload and
// returns what the assertion establishes. sub is checked last among the
// claims: an unknown HMS application gets a distinct OAuth error
// (unauthorized_client), which should only be said of an otherwise valid
// assertion.
func (v *Validator) checkClaims(app *application, c map[string]any, audiences []string, now time.Time) (*Assertion, *Error) {
	if rej := checkIdentity(app.key, c); rej != nil {
		return nil, rej
	}
	if rej := checkAudience(c, audiences); rej != nil {
		return nil, rej
	}
	if rej := checkScope(c); rej != nil {
		return nil, rej
	}
	iat, exp, rej := v.checkTimes(c, now)
	if rej != nil {
		return nil, rej
	}
	nonce, rej := checkNonce(c)
	if rej != nil {
		return nil, rej
	}
	sub, rej := v.checkSubject(c)
	if rej != nil {
		return nil, rej
	}
	return &Assertion{ApplicationKey: app.key, HMSApplicationID: sub, Nonce: nonce, IssuedAt: iat, ExpiresAt: exp}, nil
}

// checkIdentity binds the payload to the header's application key, both
// through iss and through the payload's own sinch:rtc:application_key.
func checkIdentity(appKey string, c map[string]any) *Error {
	iss, ok := stringClaim(c, "iss")
	if !ok {
		return reject(ReasonMissingClaim, "iss is missing or not a string")
	}
	if want := issuerPrefix + appKey; iss != want {
		return reject(ReasonIssuer, "iss is "+quote(iss)+", expected "+quote(want))
	}
	if k, ok := stringClaim(c, claimAppKey); !ok || k != appKey {
		return reject(ReasonAppKeyMismatch, "payload sinch:rtc:application_key "+quote(k)+
			" does not match the header's "+quote(appKey))
	}
	return nil
}

// checkAudience requires exactly one aud value equal to one of audiences.
// An empty audiences list accepts nothing.
func checkAudience(c map[string]any, audiences []string) *Error {
	raw, present := c["aud"]
	if !present {
		return reject(ReasonAudience, "aud is missing")
	}
	aud, ok := singleString(raw)
	if !ok {
		return reject(ReasonAudience, "aud must be a single string (or a one-element array)")
	}
	for _, a := range audiences {
		if aud == a {
			return nil
		}
	}
	return reject(ReasonAudience, "aud "+quote(aud)+" is not an accepted audience")
}

// checkScope requires the Huawei push scope, as a string or a one-element
// array.
func checkScope(c map[string]any) *Error {
	if s, ok := singleString(c["scope"]); !ok || s != HuaweiPushScope {
		return reject(ReasonScope, "scope must be "+quote(HuaweiPushScope))
	}
	return nil
}

// checkTimes applies iat, exp, lifetime and nbf rules with one clock reading.
func (v *Validator) checkTimes(c map[string]any, now time.Time) (iat, exp time.Time, rej *Error) {
	iat, _, ok := numericDate(c, "iat")
	if !ok {
		return iat, exp, reject(ReasonMissingClaim, "iat is missing or not a NumericDate")
	}
	exp, _, ok = numericDate(c, "exp")
	if !ok {
		return iat, exp, reject(ReasonMissingClaim, "exp is missing or not a NumericDate")
	}
	if iat.After(now.Add(v.skew)) {
		return iat, exp, reject(ReasonIssuedInFuture, "iat "+iat.Format(time.RFC3339)+" is after now "+now.UTC().Format(time.RFC3339)+" + clock skew")
	}
	if !exp.After(now.Add(-v.skew)) {
		return iat, exp, reject(ReasonExpired, "exp "+exp.Format(time.RFC3339)+" is not after now "+now.UTC().Format(time.RFC3339)+" - clock skew")
	}
	if !exp.After(iat) {
		return iat, exp, reject(ReasonLifetime, "exp is not after iat")
	}
	if life := exp.Sub(iat); life > v.maxLifetime {
		return iat, exp, reject(ReasonLifetime, "exp - iat is "+life.String()+", more than "+v.maxLifetime.String())
	}
	nbf, present, ok := numericDate(c, "nbf")
	if present && !ok {
		return iat, exp, reject(ReasonMissingClaim, "nbf is not a NumericDate")
	}
	if present && nbf.After(now.Add(v.skew)) {
		return iat, exp, reject(ReasonNotYetValid, "nbf "+nbf.Format(time.RFC3339)+" is after now + clock skew")
	}
	return iat, exp, nil
}

// checkNonce requires a non-empty, bounded string nonce.
func checkNonce(c map[string]any) (string, *Error) {
	n, ok := stringClaim(c, "nonce")
	if !ok || n == "" {
		return "", reject(ReasonMissingClaim, "nonce is missing, empty or not a string")
	}
	if len(n) > maxNonceLen {
		return "", reject(ReasonMissingClaim, "nonce is longer than 256 bytes")
	}
	return n, nil
}

// checkSubject requires sub to name a configured HMS application.
func (v *Validator) checkSubject(c map[string]any) (string, *Error) {
	sub, ok := stringClaim(c, "sub")
	if !ok {
		return "", reject(ReasonMissingClaim, "sub is missing or not a string")
	}
	if _, ok := v.hms[sub]; !ok {
		return "", reject(ReasonUnknownHMSApp, "sub (HMS App ID) "+quote(sub)+" is not a configured HMS application")
	}
	return sub, nil
}
