package sinchauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
	"sync/atomic"
)

// cacheWindowDays bounds the derived-key cache to days within this distance of
// today. Before the signature is verified the kid is attacker-chosen, so an
// unbounded cache keyed by kid would let anyone grow it; keys for days outside
// the window are derived on demand (one HMAC) and not kept.
const cacheWindowDays = 2

// application is one configured Sinch application with its secrets and a
// cache of per-day derived keys, so that a request costs no re-derivation.
type application struct {
	key     string
	issuer  string // issuerPrefix + key: the only accepted iss
	secrets [][]byte

	mu   sync.Mutex                  // serialises cache writers
	keys atomic.Pointer[dayKeyCache] // read lock-free; replaced, never mutated
}

// dayKeyCache maps an epoch day to the keys derived for it, one per secret
// (same order as application.secrets). A published map is immutable.
type dayKeyCache map[int64][]*signingKey

// signingKey is one derived key with a pool of HMAC states keyed with it:
// keying an HMAC hashes the key into its inner and outer pads and costs a
// handful of allocations, which a cached key need not pay per request.
type signingKey struct {
	key  []byte
	macs sync.Pool // of *macState keyed with key
}

// macState is a keyed HMAC with a scratch buffer: the signing input is a
// string, and copying it through the buffer in pieces costs no allocation,
// where []byte(signingInput) would allocate its length.
type macState struct {
	mac     hash.Hash
	scratch [512]byte
	sum     [sha256.Size]byte // where the MAC is written: a local array would escape through the interface
}

func newSigningKey(key []byte) *signingKey { return &signingKey{key: key} }

// verifies reports whether sig is the HMAC-SHA256 of signingInput under
// the key, comparing in constant time.
func (k *signingKey) verifies(signingInput string, sig []byte) bool {
	if len(k.key) == 0 || len(sig) != sha256.Size {
		return false // never verify with an empty key
	}
	m, _ := k.macs.Get().(*macState)
	if m == nil {
		m = &macState{mac: hmac.New(sha256.New, k.key)}
	}
	for rest := signingInput; rest != ""; {
		n := copy(m.scratch[:], rest)
		m.mac.Write(m.scratch[:n])
		rest = rest[n:]
	}
	ok := hmac.Equal(m.mac.Sum(m.sum[:0]), sig)
	m.mac.Reset()
	k.macs.Put(m)
	return ok
}

// signingKeys returns the keys derived from each secret for kid's day.
// today is the validator's current epoch day.
func (a *application) signingKeys(kid keyID, today int64) []*signingKey {
	if c := a.keys.Load(); c != nil {
		if ks, ok := (*c)[kid.date]; ok {
			return ks
		}
	}
	ks := a.derive(kid.day)
	if abs64(kid.date-today) <= cacheWindowDays {
		a.remember(kid.date, ks, today)
	}
	return ks
}

// derive computes one key per secret for day.
func (a *application) derive(day string) []*signingKey {
	ks := make([]*signingKey, len(a.secrets))
	for i, s := range a.secrets {
		ks[i] = newSigningKey(DeriveSigningKey(s, day))
	}
	return ks
}

// remember publishes a copy of the cache with date added and every day that
// has left the window dropped (copy-on-write keeps readers lock-free).
func (a *application) remember(date int64, ks []*signingKey, today int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := dayKeyCache{date: ks}
	if old := a.keys.Load(); old != nil {
		for d, v := range *old {
			if d != date && abs64(d-today) <= cacheWindowDays {
				next[d] = v
			}
		}
	}
	a.keys.Store(&next)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
