package sinchauth

import (
	"strconv"

	"github.com/golang-jwt/jwt/v5"
)

// Header and payload names Sinch uses for the application key.
const (
	headerAlg    = "alg"
	headerCrit   = "crit"
	headerKeyID  = "kid"
	claimAppKey  = "sinch:rtc:application_key"
	algorithm    = "HS256"
	maxKidDayGap = 1 // |kid date - UTC date of iat|, in days
)

// verificationKeys runs the header checks that must precede signature
// verification (they choose the key) and returns the candidate keys: one per
// configured secret of the named application, derived for kid's day.
//
// It reads iat from the not-yet-verified payload only to compare it with the
// kid's date; a lie there is caught by the signature check that follows, and
// an absent or garbled iat is a rejection either way.
func (v *Validator) verificationKeys(t *jwt.Token, claims map[string]any, today int64) (*application, [][]byte, *Error) {
	h := t.Header
	if h == nil {
		return nil, nil, reject(ReasonMalformed, "JOSE header is not a JSON object")
	}
	// golang-jwt's WithValidMethods already enforced this; repeating it keeps
	// the rule visible where the key is chosen.
	if alg, _ := h[headerAlg].(string); alg != algorithm {
		return nil, nil, reject(ReasonAlgorithm, "alg must be HS256")
	}
	// golang-jwt ignores crit; RFC 7515 says a recipient that does not
	// understand a listed extension must reject, and we understand none.
	if _, ok := h[headerCrit]; ok {
		return nil, nil, reject(ReasonCritHeader, "crit header is not supported")
	}
	app, rej := v.headerApplication(h)
	if rej != nil {
		return nil, nil, rej
	}
	kid, rej := headerKeyIDFor(h, claims)
	if rej != nil {
		return nil, nil, rej
	}
	return app, app.signingKeys(kid, today), nil
}

// headerApplication resolves the header's sinch:rtc:application_key to a
// configured application.
func (v *Validator) headerApplication(h map[string]any) (*application, *Error) {
	key, ok := h[claimAppKey].(string)
	if !ok {
		return nil, reject(ReasonUnknownApp, "header sinch:rtc:application_key is missing or not a string")
	}
	app, ok := v.apps[key]
	if !ok {
		return nil, reject(ReasonUnknownApp, "application key "+quote(key)+" is not configured")
	}
	return app, nil
}

// headerKeyIDFor parses kid and checks its date against iat's UTC date: a
// key derived for another day is refused even if it verifies, so a derived
// key that leaks stops being useful after a day.
func headerKeyIDFor(h map[string]any, claims map[string]any) (keyID, *Error) {
	raw, _ := h[headerKeyID].(string)
	kid, ok := parseKeyID(raw)
	if !ok {
		return keyID{}, reject(ReasonKeyID, "kid "+quote(raw)+" is not hkdfv1-YYYYMMDD")
	}
	iat, _, ok := numericDate(claims, "iat")
	if !ok {
		return keyID{}, reject(ReasonMissingClaim, "iat is missing or not a NumericDate")
	}
	if gap := abs64(kid.date - epochDay(iat)); gap > maxKidDayGap {
		return keyID{}, reject(ReasonKeyID, "kid "+quote(raw)+" is "+strconv.FormatInt(gap, 10)+
			" days from iat's UTC date "+iat.Format(dayLayout))
	}
	return kid, nil
}
