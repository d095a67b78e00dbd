package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// upstreamStatus remembers how the last Huawei fetches of one HMS
// application went, for the admin API. It lives in statePool beside the
// token cache it describes, so a reload keeps it.
type upstreamStatus struct {
	mu          sync.Mutex
	lastSuccess time.Time
	lastError   *upstreamFailure
}

// upstreamFailure is a failed fetch as the admin API shows it: Huawei's
// codes and description, never a secret (hmsupstream redacts them).
type upstreamFailure struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`
	HTTPStatus  int       `json:"http_status,omitempty"`
	Code        string    `json:"code,omitempty"`
	Description string    `json:"description,omitempty"`
}

func (pooledStatus) Destruct() error { return nil }

type pooledStatus struct{ *upstreamStatus }

func (s *upstreamStatus) record(at time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastSuccess = at
		return
	}
	f := &upstreamFailure{At: at, Kind: tokencache.KindOf(err).String()}
	var ue *tokencache.UpstreamError
	if errors.As(err, &ue) {
		f.HTTPStatus, f.Code, f.Description = ue.StatusCode, ue.Code, ue.Description
	}
	if f.Description == "" && f.HTTPStatus == 0 {
		f.Description = failureText(err)
	}
	s.lastError = f
}

// failureText names a failure that has no Huawei answer (a timeout, a
// refused connection) in a few words, without the underlying error's text.
func failureText(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "no answer from Huawei (network error)"
}

func (s *upstreamStatus) snapshot() (time.Time, *upstreamFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastError == nil {
		return s.lastSuccess, nil
	}
	f := *s.lastError
	return s.lastSuccess, &f
}

// loadStatus returns the pooled status of the token cache named cacheKey.
func (h *Handler) loadStatus(cacheKey string) (*upstreamStatus, error) {
	key := "sinch_hms.status/" + cacheKey
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledStatus{&upstreamStatus{}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sinch_hms: status: %w", err)
	}
	h.pooled = append(h.pooled, key)
	return val.(pooledStatus).upstreamStatus, nil
}

// instrumentedFetcher wraps the Huawei fetcher of one HMS application: it
// times each fetch, counts it, logs it at info (failures at warn) and
// records its outcome for the admin API.
type instrumentedFetcher struct {
	h      *Handler
	appID  string
	next   tokencache.Fetcher
	status *upstreamStatus
}

// instrument wraps next for appID, whose token cache is cacheKey.
func (h *Handler) instrument(appID, cacheKey string, next tokencache.Fetcher) (tokencache.Fetcher, error) {
	st, err := h.loadStatus(cacheKey)
	if err != nil {
		return nil, err
	}
	return &instrumentedFetcher{h: h, appID: appID, next: next, status: st}, nil
}

func (f *instrumentedFetcher) Fetch(ctx context.Context) (tokencache.Token, error) {
	start := time.Now()
	tok, err := f.next.Fetch(ctx)
	took := time.Since(start)
	f.status.record(f.h.now(), err)
	outcome := fetchSuccess
	switch tokencache.KindOf(err) {
	case tokencache.KindRejected:
		outcome = fetchRejected
	case tokencache.KindUnavailable:
		outcome = fetchUnavailable
	}
	if !f.h.DisableMetrics {
		countFetch(f.appID, outcome, took)
	}
	f.log(tok, err, outcome, took)
	return tok, err
}

// log writes the fetch's line: never the token, only its lifetime. The
// error text comes from hmsupstream, which redacts the App secret.
func (f *instrumentedFetcher) log(tok tokencache.Token, err error, outcome string, took time.Duration) {
	fields := []zap.Field{
		zap.String("hms_application_id", f.appID),
		zap.String("outcome", outcome),
		zap.Duration("duration", took),
	}
	if err == nil {
		fields = append(fields, zap.Int64("expires_in", int64(tok.ExpiresAt.Sub(f.h.now())/time.Second)))
		f.h.logger.Info("huawei token fetched", fields...)
		return
	}
	f.h.logger.Warn("huawei token fetch failed", append(fields, zap.Error(err))...)
}

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
		st := &upstreamStatus{}
		if f, ok := a.fetcher.(*instrumentedFetcher); ok {
			st = f.status
		}
		apps = append(apps, &liveApp{app: a, status: st, now: h.now, metrics: !h.DisableMetrics, seq: live.seq})
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
