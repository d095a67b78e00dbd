package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
)

// Keys use a Redis Cluster hash tag ({...}) on the application, so that one
// application's keys live on one shard and a lock and its token stay
// together.

// NonceKey is the key recording nonce for a Sinch application. The nonce is
// hashed: it is chosen by the caller, and a hash keeps keys short, of one
// shape, and free of anything odd the nonce may contain.
func NonceKey(prefix, appKey, nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return prefix + "nonce:{" + appKey + "}:" + hex.EncodeToString(sum[:])
}

// TokenKey is the key holding the shared token of an HMS application at a
// token endpoint: a test or staging endpoint never shares tokens with the
// real one.
func TokenKey(prefix, hmsAppID, tokenURL string) string {
	sum := sha256.Sum256([]byte(tokenURL))
	return prefix + "token:{" + hmsAppID + "}:" + hex.EncodeToString(sum[:8])
}

// lockKey is the fetch lock beside a token key.
func lockKey(tokenKey string) string { return tokenKey + ":lock" }
