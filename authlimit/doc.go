// Package authlimit limits guessing at a client-secret check (the embedded
// Authorization Server's token endpoint) without ever locking the real
// client out because someone else guessed.
//
// Failed client authentications are counted per source address and per
// client_id, each in a token bucket (GCRA): Burst failures at once, then
// one more per Interval. After LockoutAfter failures in a row (no success
// between them), every further failure pauses the key for Lockout. A key
// is forgotten Forget after its last failure. The defaults (DefaultPolicy):
// burst 10, one per second, a 5-minute pause after 100 failures in a row,
// forgotten after 15 minutes.
//
// A request is refused (Allow says no, and no secret is compared) when
//
//   - its source address is over its own limit, or
//   - its client_id is over its limit AND this source address has itself
//     failed since its last success (within Forget).
//
// So guesses spread over many addresses against one client_id slow every
// guessing address down to its first guess, while an address that has not
// been failing — Sinch's — is never refused because of them. A success
// clears the address's failure streak (it is no longer "failing", and its
// long pause count starts again) but does not refill its bucket: a caller
// holding one valid client's secret cannot interleave successes to guess
// another client's secret faster than the bucket allows. A success does not
// touch the client_id's counters either: the guesser's failures there stay.
//
// Unknown client ids: the caller should pass "" as clientID for any id that
// is no configured client (oauthserver does), so that a spray of random ids
// is counted in one client key (and in the address's key) rather than
// creating one key per id.
//
// Addresses: pass AddrKey(remoteAddr) or the client IP the proxy layer
// trusts. AddrKey drops the port and keys IPv6 by its /64, since one host
// usually holds a whole /64.
//
// Implementations: Memory here (bounded: at most MaxKeys keys, the least
// recently failing one evicted first), and redisstore.Limiter, shared by
// every instance through Redis, which falls back to a Memory limiter when
// Redis cannot answer. The limittest package holds the behaviour tests both
// pass.
package authlimit
