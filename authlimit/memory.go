package authlimit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys bounds a Memory limiter's keys (addresses and client ids
// together): about 100 bytes each.
const DefaultMaxKeys = 50_000

// Memory is a Limiter in this process's memory. Only a failure creates a
// key; Allow and Succeeded never do, so asking costs no memory. When
// MaxKeys keys exist, the one whose last failure is oldest is dropped.
type Memory struct {
	policy Policy
	max    int
	now    func() time.Time

	mu    sync.Mutex
	keys  map[string]*list.Element
	order *list.List // of *memEntry, most recent failure first
}

type memEntry struct {
	key string
	s   State
}

// MemoryConfig configures a Memory limiter.
type MemoryConfig struct {
	Policy  Policy           // zero fields: defaults
	MaxKeys int              // 0 = DefaultMaxKeys
	Now     func() time.Time // nil = time.Now
}

// NewMemory returns a Memory limiter.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	p := cfg.Policy.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := &Memory{policy: p, max: cfg.MaxKeys, now: cfg.Now, keys: make(map[string]*list.Element), order: list.New()}
	if m.max <= 0 {
		m.max = DefaultMaxKeys
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// Policy is the limiter's policy, defaults applied.
func (m *Memory) Policy() Policy { return m.policy }

// Key names of the two kinds of keys; a NUL cannot occur in either.
func addrKey(addr string) string     { return "a\x00" + addr }
func clientKey(client string) string { return "c\x00" + client }

func (m *Memory) state(key string) State {
	if e, ok := m.keys[key]; ok {
		return e.Value.(*memEntry).s
	}
	return State{}
}

// Allow implements Limiter.
func (m *Memory) Allow(_ context.Context, clientID, addr string) (time.Duration, bool) {
	now := m.now().UnixMilli()
	m.mu.Lock()
	wait := m.policy.Decide(m.state(addrKey(addr)), m.state(clientKey(clientID)), now)
	m.mu.Unlock()
	if wait > 0 {
		return ToRetryAfter(wait), false
	}
	return 0, true
}

// Failed implements Limiter.
func (m *Memory) Failed(_ context.Context, clientID, addr string) {
	now := m.now().UnixMilli()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range [2]string{addrKey(addr), clientKey(clientID)} {
		m.set(k, m.policy.Fail(m.state(k), now))
	}
}

// Succeeded implements Limiter: the address's streak ends.
func (m *Memory) Succeeded(_ context.Context, _, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.keys[addrKey(addr)]; ok {
		e.Value.(*memEntry).s.Streak = 0
	}
}

// set stores s under key as the most recent failure, dropping the oldest
// key when full.
func (m *Memory) set(key string, s State) {
	if e, ok := m.keys[key]; ok {
		e.Value.(*memEntry).s = s
		m.order.MoveToFront(e)
		return
	}
	// Forgotten keys go first: they hold nothing any more.
	for back := m.order.Back(); back != nil && !m.policy.fresh(back.Value.(*memEntry).s, s.Last); back = m.order.Back() {
		m.order.Remove(back)
		delete(m.keys, back.Value.(*memEntry).key)
	}
	for len(m.keys) >= m.max {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.keys, oldest.Value.(*memEntry).key)
	}
	m.keys[key] = m.order.PushFront(&memEntry{key: key, s: s})
}

// Len is the number of keys held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// Unlimited is a Limiter that allows everything: for tests and for
// measuring what the limit saves.
type Unlimited struct{}

// Allow implements Limiter.
func (Unlimited) Allow(context.Context, string, string) (time.Duration, bool) { return 0, true }

// Failed implements Limiter.
func (Unlimited) Failed(context.Context, string, string) {}

// Succeeded implements Limiter.
func (Unlimited) Succeeded(context.Context, string, string) {}

// Interface guards
var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = Unlimited{}
)
