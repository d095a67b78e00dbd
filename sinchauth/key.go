package sinchauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HuaweiPushScope is the only scope Sinch asks for and the value of the
// assertion's scope claim.
const HuaweiPushScope = "https://push-api.cloud.huawei.com"

// keyIDPrefix names Sinch's key-derivation scheme. Despite "hkdf" in the
// name, the scheme is a single HMAC-SHA256 (see DeriveSigningKey).
const keyIDPrefix = "hkdfv1-"

// dayLayout is the kid's date format, YYYYMMDD.
const dayLayout = "20060102"

// DecodeSecret decodes a Sinch Application Secret: standard base64 (+/),
// padding optional. Empty or undecodable -> error (message must not contain
// the secret).
//
// Decoding is deliberately lenient about non-zero trailing bits: Sinch's own
// (Java) decoder is, and both sides must derive the same key. Surrounding
// whitespace is trimmed because secrets often come from files or environment
// variables with a trailing newline.
func DecodeSecret(secretBase64 string) ([]byte, error) {
	s := strings.TrimSpace(secretBase64)
	if s == "" {
		return nil, errors.New("sinch application secret is empty")
	}
	enc := base64.RawStdEncoding
	if strings.HasSuffix(s, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			// The position is useful and reveals nothing of the secret.
			return nil, fmt.Errorf("sinch application secret is not standard base64 (problem at byte %d of %d)", int64(ce), len(s))
		}
		return nil, errors.New("sinch application secret is not standard base64")
	}
	if len(b) == 0 {
		return nil, errors.New("sinch application secret decodes to nothing")
	}
	return b, nil
}

// DeriveSigningKey returns HMAC-SHA256(key=secret, msg=UTF8(day)), day =
// "YYYYMMDD". This is Sinch's "hkdfv1" derivation: a key that is only good
// for one day, so a leaked derived key is useless soon after.
func DeriveSigningKey(secret []byte, day string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(day))
	return m.Sum(nil)
}

// KeyID returns "hkdfv1-YYYYMMDD" for t in UTC.
func KeyID(t time.Time) string {
	return keyIDPrefix + t.UTC().Format(dayLayout)
}

// keyID is a parsed, well-formed kid.
type keyID struct {
	day  string // the kid's "YYYYMMDD", the exact HMAC message for derivation
	date int64  // days since the Unix epoch, for window comparisons
}

// parseKeyID accepts exactly ^hkdfv1-\d{8}$ naming a real calendar date.
func parseKeyID(kid string) (keyID, bool) {
	day, ok := strings.CutPrefix(kid, keyIDPrefix)
	if !ok || len(day) != len(dayLayout) {
		return keyID{}, false
	}
	for i := 0; i < len(day); i++ {
		if day[i] < '0' || day[i] > '9' {
			return keyID{}, false
		}
	}
	t, err := time.Parse(dayLayout, day) // rejects month 13, Feb 30, ...
	if err != nil {
		return keyID{}, false
	}
	return keyID{day: day, date: epochDay(t)}, true
}

// epochDay returns the number of whole UTC days between the Unix epoch and t.
func epochDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d-- // floor, not truncate, for dates before 1970
	}
	return d
}
