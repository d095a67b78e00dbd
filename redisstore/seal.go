package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// keyInfo separates this key from any other use of the HMS App secret.
const keyInfo = "caddy-sinch-hms token-store v1"

// sealVersion is the first byte of a sealed value, so the format can change.
const sealVersion = 1

// DeriveKey returns the AES-256 key that seals an HMS application's token in
// Redis: HMAC-SHA256(key = App secret, message = a fixed label). Every
// instance configured with the same App secret derives the same key; a
// reader of Redis alone cannot, and a changed secret makes the old entry
// unreadable (it is then fetched anew).
func DeriveKey(hmsAppSecret string) []byte {
	m := hmac.New(sha256.New, []byte(hmsAppSecret))
	m.Write([]byte(keyInfo))
	return m.Sum(nil)
}

// sealedToken is what is encrypted.
type sealedToken struct {
	AccessToken string `json:"t"`
	ExpiresAt   int64  `json:"e"` // Unix milliseconds
	FetchedAt   int64  `json:"f"` // Unix milliseconds
}

// seal encrypts tok with AES-256-GCM: version byte, 12-byte random nonce,
// ciphertext and tag. aad (the Redis key) binds the value to its key, so a
// value copied under another application's key does not open.
func seal(key []byte, aad string, tok tokencache.Token) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(sealedToken{
		AccessToken: tok.AccessToken,
		ExpiresAt:   tok.ExpiresAt.UnixMilli(),
		FetchedAt:   tok.FetchedAt.UnixMilli(),
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], plain, []byte(aad)), nil
}

// errUnreadable: the value is not one this key sealed for this Redis key
// (tampered, another secret, another format).
var errUnreadable = errors.New("sealed token cannot be opened")

// open decrypts a value made by seal.
func open(key []byte, aad string, sealed []byte) (tokencache.Token, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return tokencache.Token{}, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return tokencache.Token{}, errUnreadable
	}
	nonce, box := sealed[1:1+aead.NonceSize()], sealed[1+aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, box, []byte(aad))
	if err != nil {
		return tokencache.Token{}, errUnreadable
	}
	var st sealedToken
	if err := json.Unmarshal(plain, &st); err != nil || st.AccessToken == "" {
		return tokencache.Token{}, errUnreadable
	}
	return tokencache.Token{
		AccessToken: st.AccessToken,
		ExpiresAt:   time.UnixMilli(st.ExpiresAt),
		FetchedAt:   time.UnixMilli(st.FetchedAt),
	}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("redisstore: token key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
