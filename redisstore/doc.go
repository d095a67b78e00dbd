// Package redisstore keeps the state that several Caddy instances behind one
// load balancer must share, in Redis (through github.com/redis/go-redis/v9):
//
//   - ReplayStore, a sinchauth.ReplayStore: a nonce is claimed with one
//     atomic script (`SET key <claim id> NX PX <ttl>`, or fresh if the key
//     holds this claim's own id: a go-redis retry after a late reply), so
//     an assertion accepted by one instance is a replay on every other and
//     a fresh one is never called a replay. When Redis cannot answer, Claim
//     returns the error and the caller fails closed: a replay is never
//     accepted because Redis was down.
//   - SharedFetcher, a tokencache.Fetcher wrapper: the Huawei token is kept
//     in Redis, encrypted with AES-256-GCM under a key derived from the HMS
//     App secret, and a short Redis lock makes one instance fetch while the
//     others wait for its result. When Redis cannot answer, it falls back to
//     a local fetch: a token is not a security boundary, a nonce is.
//
// It knows nothing of Caddy; the in-memory tokencache stays in front of
// SharedFetcher, so a warm instance does not call Redis on every request.
package redisstore
