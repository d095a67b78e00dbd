package sinchauth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintParams describes one client assertion as Sinch would send it.
type MintParams struct {
	ApplicationKey   string
	Secret           []byte // decoded Application Secret (see DecodeSecret)
	HMSApplicationID string
	Audience         string
	IssuedAt         time.Time     // zero = now
	Lifetime         time.Duration // exp - iat; must be > 0
	Nonce            string        // "" = random UUIDv4-like from crypto/rand
}

// mintHeader and mintPayload fix the member order to Sinch's, so that minting
// the reference data reproduces Sinch's reference assertion byte for byte.
type mintHeader struct {
	Alg    string `json:"alg"`
	Typ    string `json:"typ"`
	Kid    string `json:"kid"`
	AppKey string `json:"sinch:rtc:application_key"`
}

type mintPayload struct {
	Aud    string `json:"aud"`
	Exp    int64  `json:"exp"`
	Iat    int64  `json:"iat"`
	Iss    string `json:"iss"`
	Nonce  string `json:"nonce"`
	Scope  string `json:"scope"`
	AppKey string `json:"sinch:rtc:application_key"`
	Sub    string `json:"sub"`
}

// Mint signs a client assertion exactly as Sinch does: header {alg HS256, typ
// JWT, kid hkdfv1-<UTC day of IssuedAt>, sinch:rtc:application_key}; payload
// iss //rtc.sinch.com/applications/<key>, sub, aud (string), scope
// HuaweiPushScope, sinch:rtc:application_key, iat, exp, nonce. The signing
// key is DeriveSigningKey(Secret, day of the kid). Used by the CLI and tests.
func Mint(p MintParams) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	nonce := p.Nonce
	if nonce == "" {
		var err error
		if nonce, err = randomNonce(); err != nil {
			return "", err
		}
	}
	kid := KeyID(iat)
	head, err := encodeSegment(mintHeader{Alg: algorithm, Typ: "JWT", Kid: kid, AppKey: p.ApplicationKey})
	if err != nil {
		return "", err
	}
	body, err := encodeSegment(mintPayload{
		Aud: p.Audience, Exp: iat.Add(p.Lifetime).Unix(), Iat: iat.Unix(),
		Iss: issuerPrefix + p.ApplicationKey, Nonce: nonce, Scope: HuaweiPushScope,
		AppKey: p.ApplicationKey, Sub: p.HMSApplicationID,
	})
	if err != nil {
		return "", err
	}
	signingInput := head + "." + body
	key := DeriveSigningKey(p.Secret, kid[len(keyIDPrefix):])
	sig, err := jwt.SigningMethodHS256.Sign(signingInput, key)
	if err != nil {
		return "", err
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// check refuses parameters that could only produce an assertion every
// validator rejects.
func (p MintParams) check() error {
	switch {
	case p.ApplicationKey == "":
		return errors.New("sinchauth: mint: application key is required")
	case len(p.Secret) == 0:
		return errors.New("sinchauth: mint: secret is required")
	case p.HMSApplicationID == "":
		return errors.New("sinchauth: mint: HMS application ID is required")
	case p.Audience == "":
		return errors.New("sinchauth: mint: audience is required")
	case p.Lifetime <= 0:
		return errors.New("sinchauth: mint: lifetime must be positive")
	}
	return nil
}

// encodeSegment is base64url(JSON) without HTML escaping, as other JWT
// libraries (and Sinch's) write it.
func encodeSegment(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// randomNonce returns a random UUIDv4 string (122 random bits).
func randomNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:]), nil
}
