package sinchauth

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// maxNonceLen bounds the nonce so that a (validly signed) assertion cannot
// make the replay store or a log line carry an arbitrarily large value.
const maxNonceLen = 256

// maxNumericDate is 9999-12-31T23:59:59Z. Larger values are refused so that
// time arithmetic can never overflow.
const maxNumericDate = 253402300799

// numericDate reads an RFC 7519 NumericDate. Integers and fractional seconds
// are both legal JSON numbers there, so both are accepted; anything that is
// not a number (a string, a bool, ...) or is out of range is refused.
// present reports whether the claim exists at all.
func numericDate(raw json.RawMessage) (t time.Time, present, ok bool) {
	if len(raw) == 0 {
		return time.Time{}, false, false
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return time.Time{}, true, false // a string, a bool, null...
	}
	n := json.Number(raw)
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, true, false
		}
		return time.Unix(i, 0).UTC(), true, true
	}
	f, err := n.Float64()
	if err != nil {
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
func (v *Validator) checkClaims(app *application, p *payload, iat time.Time, audiences []string, now time.Time) (*Assertion, *Error) {
	if rej := checkIdentity(app, p); rej != nil {
		return nil, rej
	}
	if rej := checkAudience(p, audiences); rej != nil {
		return nil, rej
	}
	if rej := checkScope(p); rej != nil {
		return nil, rej
	}
	exp, rej := v.checkTimes(p, iat, now)
	if rej != nil {
		return nil, rej
	}
	nonce, rej := checkNonce(p)
	if rej != nil {
		return nil, rej
	}
	sub, rej := v.checkSubject(p)
	if rej != nil {
		return nil, rej
	}
	return &Assertion{ApplicationKey: app.key, HMSApplicationID: sub, Nonce: nonce, IssuedAt: iat, ExpiresAt: exp}, nil
}

// checkIdentity binds the payload to the header's application key, both
// through iss and through the payload's own sinch:rtc:application_key.
func checkIdentity(app *application, p *payload) *Error {
	if !stringIs(p.Iss, app.issuer) {
		iss, ok := jsonString(p.Iss)
		if !ok {
			return reject(ReasonMissingClaim, "iss is missing or not a string")
		}
		return reject(ReasonIssuer, "iss is "+quote.Text(iss, maxQuoted)+", expected "+quote.Text(app.issuer, maxQuoted))
	}
	if !stringIs(p.AppKey, app.key) {
		k, _ := jsonString(p.AppKey)
		return reject(ReasonAppKeyMismatch, "payload sinch:rtc:application_key "+quote.Text(k, maxQuoted)+
			" does not match the header's "+quote.Text(app.key, maxQuoted))
	}
	return nil
}

// checkAudience requires exactly one aud value equal to one of audiences.
// An empty audiences list accepts nothing.
func checkAudience(p *payload, audiences []string) *Error {
	if len(p.Aud) == 0 {
		return reject(ReasonAudience, "aud is missing")
	}
	for _, a := range audiences {
		if singleStringIs(p.Aud, a) {
			return nil
		}
	}
	aud, ok := singleString(p.Aud)
	if !ok {
		return reject(ReasonAudience, "aud must be a single string (or a one-element array)")
	}
	accepted := make([]string, len(audiences))
	for i, a := range audiences {
		accepted[i] = quote.Text(a, maxQuoted)
	}
	return reject(ReasonAudience, "aud "+quote.Text(aud, maxQuoted)+" is not an accepted audience (accepted: "+strings.Join(accepted, ", ")+")")
}

// checkScope requires the Huawei push scope, as a string or a one-element
// array.
func checkScope(p *payload) *Error {
	if !singleStringIs(p.Scope, HuaweiPushScope) {
		return reject(ReasonScope, "scope must be "+quote.Text(HuaweiPushScope, maxQuoted))
	}
	return nil
}

// checkTimes applies iat, exp, lifetime and nbf rules with one clock
// reading. iat was read, and found a NumericDate, by checkKeyDay.
func (v *Validator) checkTimes(p *payload, iat, now time.Time) (exp time.Time, rej *Error) {
	exp, _, ok := numericDate(p.Exp)
	if !ok {
		return exp, reject(ReasonMissingClaim, "exp is missing or not a NumericDate")
	}
	if iat.After(now.Add(v.skew)) {
		return exp, reject(ReasonIssuedInFuture, "iat "+iat.Format(time.RFC3339)+" is after now "+now.UTC().Format(time.RFC3339)+" + clock skew")
	}
	if !exp.After(now.Add(-v.skew)) {
		return exp, reject(ReasonExpired, "exp "+exp.Format(time.RFC3339)+" is not after now "+now.UTC().Format(time.RFC3339)+" - clock skew")
	}
	if !exp.After(iat) {
		return exp, reject(ReasonLifetime, "exp is not after iat")
	}
	if life := exp.Sub(iat); life > v.maxLifetime {
		return exp, reject(ReasonLifetime, "exp - iat is "+life.String()+", more than "+v.maxLifetime.String())
	}
	nbf, present, ok := numericDate(p.Nbf)
	if present && !ok {
		return exp, reject(ReasonMissingClaim, "nbf is not a NumericDate")
	}
	if present && nbf.After(now.Add(v.skew)) {
		return exp, reject(ReasonNotYetValid, "nbf "+nbf.Format(time.RFC3339)+" is after now + clock skew")
	}
	return exp, nil
}

// checkNonce requires a non-empty, bounded string nonce.
func checkNonce(p *payload) (string, *Error) {
	n, ok := jsonString(p.Nonce)
	if !ok || n == "" {
		return "", reject(ReasonMissingClaim, "nonce is missing, empty or not a string")
	}
	if len(n) > maxNonceLen {
		return "", reject(ReasonMissingClaim, "nonce is longer than 256 bytes")
	}
	return n, nil
}

// checkSubject requires sub to name a configured HMS application.
func (v *Validator) checkSubject(p *payload) (string, *Error) {
	sub, ok := jsonString(p.Sub)
	if !ok {
		return "", reject(ReasonMissingClaim, "sub is missing or not a string")
	}
	if _, ok := v.hms[sub]; !ok {
		return "", reject(ReasonUnknownHMSApp, "sub (HMS App ID) "+quote.Text(sub, maxQuoted)+" is not a configured HMS application")
	}
	return sub, nil
}
