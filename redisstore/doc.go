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
//
// # Connections: Options
//
// Options hold one store's `redis { }` block (the one-line `redis <url>`
// form is Options{URL: url}): exactly one target, URL (standalone),
// Sentinel (addresses, master name, the sentinels' own username and
// password) or Cluster (seed addresses); Username and Password for the
// data nodes (any bytes, never in a URL); DB; TLS (ca_file, server_name,
// cert_file + key_file, insecure_skip_verify); and the store's own
// MinReplicasAcked and KeyPrefix. A caller (the Caddy glue) does:
//
//	if err := o.Validate(); err != nil { ... }       // at provision; no I/O
//	key, err := o.PoolKey()                           // reads the TLS files
//	c, err := o.NewClient(logger)                     // once per key, in a caddy.UsagePool
//	replay := o.NewReplayStore(c, logger)             // Prefix, MinReplicasAcked, WaitTimeout
//	tokens := &SharedFetcher{Client: c, Key: TokenKey(prefix, appID, tokenURL), ...}
//
// NewClient uses go-redis's own clients (NewClient, NewFailoverClient,
// NewClusterClient) with this package's short timeouts; it does not
// connect. PoolKey is `redisstore/<mode>/<hex>`: an HMAC, under a key
// random to the process, of everything that shapes the connection
// (passwords and the TLS files' bytes included, so a changed password or
// a rotated certificate makes a new client), and of nothing per store, so
// both stores and every handler naming one target share one client
// across reloads. No error, log line, Describe or PoolKey holds any byte
// of a password.
//
// # Failing closed, in every mode
//
// A claim that Redis cannot answer in time (down, failing over, TLS
// refused, a slot moving) is an error, and the caller answers 503 +
// Retry-After: never "replayed", never accepted. The nonce a failed claim
// may have left is released (compare-and-delete on its claim id), so
// that the retry of the same assertion is fresh.
//
// # What min_replicas_acked promises
//
//   - 0 (the default): Redis replicates asynchronously; a failover can
//     forget the last claims, and an assertion accepted just before its
//     primary died can be accepted once more after the failover.
//   - N >= 1: a claim is fresh only once WAIT (on the claim's own
//     connection, on the primary owning the key) confirms N replicas
//     hold it within WaitTimeout (default 500ms, below the read
//     timeout). An accepted assertion is then refused after its primary
//     fails over to one of those replicas. With fewer replicas
//     acknowledging, the claim is an error wrapping ErrTooFewReplicas
//     (503) and its nonce is released at once, so the retry is fresh once
//     the replicas are back. Left open: the release is itself replicated
//     asynchronously, so a failover in the instant between a replica
//     receiving the claim and receiving its release leaves the nonce
//     taken, and the retry of that (refused) assertion is then refused as
//     a replay until it expires.
package redisstore
