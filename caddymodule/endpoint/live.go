package endpoint

import (
	"slices"
	"strings"
	"sync"
)

// live lists the upstreams of every provisioned handler, for the admin API
// and the seconds-left gauge. Old and new configs overlap during a reload;
// for each application the entry of the most recently provisioned handler
// is the one shown.
var live = struct {
	sync.Mutex
	seq     uint64
	byOwner map[any][]liveEntry
}{byOwner: make(map[any][]liveEntry)}

type liveEntry struct {
	u   *Upstream
	seq uint64 // registration order: the newest config wins
}

// Publish makes the upstreams of owner (a provisioned handler) visible to
// the admin API and the gauge, until Unpublish.
func Publish(owner any, ups ...*Upstream) {
	live.Lock()
	defer live.Unlock()
	var entries []liveEntry
	for _, u := range ups {
		live.seq++
		entries = append(entries, liveEntry{u: u, seq: live.seq})
	}
	live.byOwner[owner] = entries
}

// Unpublish removes owner's upstreams, and the metric series of any
// application that no live handler has any more.
func Unpublish(owner any) {
	live.Lock()
	gone := live.byOwner[owner]
	delete(live.byOwner, owner)
	type app struct {
		kind *Kind
		id   string
	}
	still := make(map[app]bool)
	for _, entries := range live.byOwner {
		for _, e := range entries {
			still[app{e.u.kind, e.u.id}] = true
		}
	}
	live.Unlock()
	for _, e := range gone {
		if !still[app{e.u.kind, e.u.id}] {
			e.u.kind.forget(e.u.id)
		}
	}
}

// Live returns the newest upstream of each live application of kind k,
// sorted by ID.
func Live(k *Kind) []*Upstream {
	live.Lock()
	newest := make(map[string]liveEntry)
	for _, entries := range live.byOwner {
		for _, e := range entries {
			if cur, ok := newest[e.u.id]; e.u.kind == k && (!ok || e.seq > cur.seq) {
				newest[e.u.id] = e
			}
		}
	}
	live.Unlock()
	out := make([]*Upstream, 0, len(newest))
	for _, e := range newest {
		out = append(out, e.u)
	}
	slices.SortFunc(out, func(a, b *Upstream) int { return strings.Compare(a.id, b.id) })
	return out
}

// FindLive returns the live upstream of kind k with the given ID, or nil.
func FindLive(k *Kind, id string) *Upstream {
	for _, u := range Live(k) {
		if u.id == id {
			return u
		}
	}
	return nil
}
