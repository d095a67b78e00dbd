package sinchauth

import (
	"encoding/json"
)

// payload holds, still as raw JSON, the claims the checks read. Keeping
// each value raw leaves the type checks to the claim rules, so a claim of
// the wrong type is reported as that claim's problem rather than as a
// malformed payload. Names match exactly and a repeated name keeps its last
// value, as in a map (and unlike encoding/json's case-insensitive struct
// fields).
//
// The claims are trusted only once the signature has verified (see
// Validator.verify), so what the checks read comes from a holder of the
// secret; an unverified payload is decoded only to name a refusal's reason.
type payload struct {
	Iss, Sub, Aud, Scope, AppKey json.RawMessage
	Iat, Exp, Nbf, Nonce         json.RawMessage
}

// claim returns where the claim called name goes, nil for claims no check
// reads.
func (p *payload) claim(name string) *json.RawMessage {
	switch name {
	case "iss":
		return &p.Iss
	case "sub":
		return &p.Sub
	case "aud":
		return &p.Aud
	case "scope":
		return &p.Scope
	case claimAppKey:
		return &p.AppKey
	case "iat":
		return &p.Iat
	case "exp":
		return &p.Exp
	case "nbf":
		return &p.Nbf
	case "nonce":
		return &p.Nonce
	}
	return nil
}

// decodePayload decodes a payload segment into p (strict base64url, golang-jwt's
// strict decoding). Sinch's payloads are flat objects of plain strings and
// numbers, which scanFlatObject reads in one pass; anything else goes
// through encoding/json. A JSON null gives a payload with every claim
// absent, as it gave an empty map.
func (v *Validator) decodePayload(seg string, p *payload) *Error {
	raw, err := v.parser.DecodeSegment(seg)
	if err != nil {
		return reject(ReasonMalformed, "payload is not strictly encoded base64url")
	}
	if scanFlatObject(raw, p) {
		return nil
	}
	if err := decodePayloadJSON(raw, p); err != nil {
		return reject(ReasonMalformed, "payload is not a JSON object")
	}
	return nil
}

// decodePayloadJSON is the general decoding: through a map, so names match
// exactly and the last of repeated names wins.
func decodePayloadJSON(raw []byte, p *payload) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return err
	}
	for name, value := range members {
		if dst := p.claim(name); dst != nil {
			*dst = value
		}
	}
	return nil
}

// jsonString returns the value of a raw JSON string; ok is false when raw
// is absent or another JSON type. The common case, printable ASCII with no
// escapes, is sliced without a second decoding.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if isPlainJSONText(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// isPlainJSONText reports whether the inside of a valid JSON string needs no
// unescaping: no backslash and nothing outside ASCII (encoding/json replaces
// invalid UTF-8, so such text takes the slow path to be read the same way).
func isPlainJSONText(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// stringIs reports whether raw is the JSON string want. A plain string is
// compared in place, without the copy jsonString makes.
func stringIs(raw json.RawMessage, want string) bool {
	if len(raw) >= 2 && raw[0] == '"' && isPlainJSONText(raw[1:len(raw)-1]) {
		return string(raw[1:len(raw)-1]) == want
	}
	s, ok := jsonString(raw)
	return ok && s == want
}

// singleStringIs reports whether raw is want as a string or a one-element
// array (see singleString).
func singleStringIs(raw json.RawMessage, want string) bool {
	if len(raw) > 0 && raw[0] == '"' {
		return stringIs(raw, want)
	}
	s, ok := singleString(raw)
	return ok && s == want
}

// singleString accepts a string or a one-element array holding a string: the
// two spellings RFC 7519 allows for a single aud value (and that Sinch's scope
// may use). Several values are refused on purpose: a token naming several
// audiences invites audience-injection confusion.
func singleString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		return jsonString(raw)
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil || len(elems) != 1 {
			return "", false
		}
		return jsonString(elems[0])
	}
	return "", false
}
