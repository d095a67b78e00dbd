package endpoint

import (
	"errors"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// pool holds the state that must outlive one config: upstream token caches
// with their refreshers and status, and Redis clients. During a reload the
// old and the new handler overlap; both hold the same entries, and an entry
// is destroyed only when the last config using it is cleaned up.
var pool = caddy.NewUsagePool()

// Holds are the pool entries a provisioned handler uses; Cleanup releases
// them.
type Holds struct{ keys []string }

func (h *Holds) add(key string) { h.keys = append(h.keys, key) }

// Release lets go of every entry; the last holder of one destroys it.
func (h *Holds) Release() error {
	var errs []error
	for _, key := range h.keys {
		if _, err := pool.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	h.keys = nil
	return errors.Join(errs...)
}

// processNonces is the replay memory of the whole process. It is never
// destroyed: a reload to a config without sinch_hms and back, a switch of
// replay_store between memory and redis, a changed key_prefix, or two
// handlers on different stores cannot open a replay window, since every
// handler's store consults it first (see sinchauth.GuardedReplayStore).
// Memory follows the live nonces: each is forgotten once its assertion has
// expired.
var processNonces = sinchauth.NewMemoryReplayStore(testhook.Now)

// ProcessNonceCount is how many nonces the process remembers (for tests
// and the soak's figures).
func ProcessNonceCount() int { return processNonces.Len() }

// pooledValue is a value of the pool with nothing to destroy.
type pooledValue struct{ v any }

func (pooledValue) Destruct() error { return nil }

// Pooled returns the value the pool holds under key, made by mk if no
// config holds one yet, and holds it in holds. A reload does not remake it:
// the old and the new config overlap, so the value lives on until the last
// config using key is cleaned up. Keys are namespaced by their caller
// (e.g. "sinch_oauth_server.limiter/...").
func Pooled[T any](holds *Holds, key string, mk func() (T, error)) (T, error) {
	val, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		v, err := mk()
		if err != nil {
			return nil, err
		}
		return pooledValue{v}, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	holds.add(key)
	return val.(pooledValue).v.(T), nil
}
