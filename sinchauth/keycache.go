package sinchauth

import (
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
	secrets [][]byte

	mu   sync.Mutex                  // serialises cache writers
	keys atomic.Pointer[dayKeyCache] // read lock-free; replaced, never mutated
}

// dayKeyCache maps an epoch day to the keys derived for it, one per secret
// (same order as application.secrets). A published map is immutable.
type dayKeyCache map[int64][][]byte

// signingKeys returns the keys derived from each secret for kid's day.
// today is the validator's current epoch day.
func (a *application) signingKeys(kid keyID, today int64) [][]byte {
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
func (a *application) derive(day string) [][]byte {
	ks := make([][]byte, len(a.secrets))
	for i, s := range a.secrets {
		ks[i] = DeriveSigningKey(s, day)
	}
	return ks
}

// remember publishes a copy of the cache with date added and every day that
// has left the window dropped (copy-on-write keeps readers lock-free).
func (a *application) remember(date int64, ks [][]byte, today int64) {
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
