package caddymodule

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// liveApp is one HMS application of a provisioned handler, as the admin API
// and the seconds-left gauge see it.
type liveApp struct {
	app     *hmsApp
	status  *upstreamStatus
	now     func() time.Time
	metrics bool
	seq     uint64 // registration order: the newest config wins
}

// live lists the HMS applications of every provisioned handler. Old and
// new configs overlap during a reload; for each HMS App ID the entry of the
// most recently provisioned handler is the one shown.
var live = struct {
	sync.Mutex
	seq       uint64
	byHandler map[*Handler][]*liveApp
}{byHandler: make(map[*Handler][]*liveApp)}

// registerLive makes the handler's HMS applications visible to the admin
// API and the gauge.
func (h *Handler) registerLive() {
	live.Lock()
	defer live.Unlock()
	var apps []*liveApp
	for _, a := range h.hmsApps {
		live.seq++
		apps = append(apps, &liveApp{app: a, status: a.status, now: h.now, metrics: !h.DisableMetrics, seq: live.seq})
	}
	live.byHandler[h] = apps
}

// unregisterLive removes the handler's applications, and the metric series
// of any HMS App ID that no live handler has any more.
func (h *Handler) unregisterLive() {
	live.Lock()
	gone := live.byHandler[h]
	delete(live.byHandler, h)
	still := make(map[string]bool)
	for _, apps := range live.byHandler {
		for _, a := range apps {
			still[a.app.id] = true
		}
	}
	live.Unlock()
	for _, a := range gone {
		if !still[a.app.id] {
			forgetAppMetrics(a.app.id)
		}
	}
}

// liveApps returns the newest entry of each live HMS App ID, sorted by ID.
func liveApps() []*liveApp {
	live.Lock()
	newest := make(map[string]*liveApp)
	for _, apps := range live.byHandler {
		for _, a := range apps {
			if cur := newest[a.app.id]; cur == nil || a.seq > cur.seq {
				newest[a.app.id] = a
			}
		}
	}
	live.Unlock()
	out := make([]*liveApp, 0, len(newest))
	for _, a := range newest {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *liveApp) int { return strings.Compare(a.app.id, b.app.id) })
	return out
}
