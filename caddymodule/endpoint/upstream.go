package endpoint

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Bounds of every upstream token cache. Sinch waits only a few seconds for
// an answer, so a caller that holds a still-valid token waits at most
// staleWait for a refresh before it gets that token; after BreakerThreshold
// failed fetches in a row the upstream is left alone for BreakerPause and
// requests are answered from memory (the still-valid token, or 503 with the
// time left). The pause is short on purpose: Sinch itself gets the
// upstream's full Retry-After; the pause only keeps a crowd of callers from
// hammering a failing upstream.
const (
	UpstreamFetchTimeout = 5 * time.Second // the cache's outer bound on one fetch, retries included
	staleWait            = time.Second
	BreakerThreshold     = 3
	BreakerPause         = 10 * time.Second
	breakerMaxPause      = 10 * time.Second
	// ForcedRefreshPause is the least time between two upstream calls
	// forced through POST /sinch_hms/refresh for one application. Each
	// costs a token, and Huawei allows 1,000 per 5 minutes per app: a
	// script posting in a loop must not spend them. Inside the pause a
	// forced refresh answers 429 with Retry-After and calls nothing;
	// concurrent ones share one call. Kept in the pooled state, so a reload
	// does not reset it.
	ForcedRefreshPause = 30 * time.Second
)

// Kind is one upstream token service (Huawei or Google) as the glue
// shows, counts and explains it. Each module declares its kind once, with
// NewKind.
type Kind struct {
	Name        string  // "Huawei", "Google"
	Noun        string  // what an ID names: "HMS application", "Firebase project"
	IDDesc      string  // the ID in metric help: "HMS App ID", "Firebase project number"
	IDLabel     string  // metric label of the ID: hms_app, fcm_project
	IDField     string  // log and status field of the ID: hms_application_id, fcm_project_number
	StatusKey   string  // the admin status list: hms_applications, fcm_projects
	QueryParam  string  // the admin refresh parameter: hms_app, fcm_project
	Credentials string  // what the upstream checks: "credentials", "service-account key"
	Fix         string  // what to check when it refuses them
	Rejected    Refusal // the upstream refused the credentials (502)
	Unavailable Refusal // no token right now (503)

	key         string // Name in lower case: log messages and status keys
	fetches     *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	lookups     *prometheus.CounterVec
	secondsLeft *secondsLeftCollector
}

var (
	kindsMu sync.Mutex
	kinds   []*Kind
)

// NewKind completes k with its metrics, caddy_<subsystem>_<fetch>_fetches_total,
// _<fetch>_fetch_duration_seconds, _cache_requests_total and
// _token_seconds_left, and lists it for the admin API.
func NewKind(k Kind, subsystem, fetch string) *Kind {
	k.key = strings.ToLower(k.Name)
	byID := func(more ...string) []string { return append([]string{k.IDLabel}, more...) }
	k.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: subsystem, Name: fetch + "_fetches_total",
		Help: "Token fetches from " + k.Name + " by " + k.IDDesc + " and outcome (success, rejected, unavailable).",
	}, byID("outcome"))
	k.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: subsystem, Name: fetch + "_fetch_duration_seconds",
		Help:    "Duration of token fetches from " + k.Name + ", by " + k.IDDesc + " and outcome.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
	}, byID("outcome"))
	k.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: subsystem, Name: "cache_requests_total",
		Help: k.Name + " token cache look-ups by " + k.IDDesc + " and result (hit, miss, stale: the refresh failed and the old token was served).",
	}, byID("result"))
	kp := &k
	kp.secondsLeft = &secondsLeftCollector{kind: kp, desc: prometheus.NewDesc(
		prometheus.BuildFQName(metricsNamespace, subsystem, "token_seconds_left"),
		"Seconds of life left on the cached "+k.Name+" token of each "+k.IDDesc+" (0: none cached).",
		[]string{k.IDLabel}, nil)}
	kindsMu.Lock()
	kinds = append(kinds, kp)
	kindsMu.Unlock()
	return kp
}

// Key is the kind's name in lower case ("huawei"), as log messages and the
// admin status's keys (last_huawei_error) spell it.
func (k *Kind) Key() string { return k.key }

// Kinds are the kinds the modules declared, in order of declaration.
func Kinds() []*Kind {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	return append([]*Kind(nil), kinds...)
}

// Register registers the kind's collectors in this config's registry.
func (k *Kind) Register(ctx caddy.Context) error {
	return RegisterCollectors(ctx, k.fetches, k.durations, k.lookups, k.secondsLeft)
}

// Fetch outcomes and cache results, as label values.
const (
	fetchSuccess     = "success"
	fetchRejected    = "rejected"
	fetchUnavailable = "unavailable"
	cacheHit         = "hit"
	cacheMiss        = "miss"
	cacheStale       = "stale"
)

func fetchOutcome(err error) string {
	switch tokencache.KindOf(err) {
	case tokencache.KindRejected:
		return fetchRejected
	case tokencache.KindUnavailable:
		return fetchUnavailable
	}
	return fetchSuccess
}

// zeroSeries creates the series of one ID at zero.
func (k *Kind) zeroSeries(id string) {
	for _, o := range []string{fetchSuccess, fetchRejected, fetchUnavailable} {
		k.fetches.WithLabelValues(id, o)
	}
	for _, r := range []string{cacheHit, cacheMiss, cacheStale} {
		k.lookups.WithLabelValues(id, r)
	}
}

// forget drops the series of an ID no live config has any more, so the
// label stays the configured set.
func (k *Kind) forget(id string) {
	l := prometheus.Labels{k.IDLabel: id}
	k.fetches.DeletePartialMatch(l)
	k.durations.DeletePartialMatch(l)
	k.lookups.DeletePartialMatch(l)
}

// UpstreamConfig says how to build the pooled state of one application.
type UpstreamConfig struct {
	Kind *Kind
	ID   string
	// PoolKey names the state: the same application with the same
	// credentials, token URL and refresh window keeps its token, status and
	// pacing across a reload; changed credentials start afresh. It must not
	// hold a secret (hash it).
	PoolKey string
	// Host is host[:port] of the token URL, for the status.
	Host string
	// NewSource builds the bare upstream client; it is called once, when
	// the state is created, and may log through u.Logger.
	NewSource     func(u *Upstream) tokencache.Fetcher
	RefreshBefore time.Duration
	Now           func() time.Time
	Logger        *zap.Logger
}

// Upstream is the pooled state of one upstream application (an HMS app or
// an FCM project): its token cache bound to its fetcher, as x/oauth2's
// ReuseTokenSource binds its source, the status of its last fetches, and
// the background refresher that keeps its token fresh. They are created
// together when a config first names the application and destroyed together
// when the last config naming it is cleaned up, so no goroutine outlives
// the configs that use it.
type Upstream struct {
	kind    *Kind
	id      string
	now     func() time.Time
	cache   *tokencache.Cache
	source  tokencache.Fetcher                 // the bare upstream client
	chain   atomic.Pointer[tokencache.Fetcher] // the newest config's fetch chain around Instrumented
	logger  atomic.Pointer[zap.Logger]         // of the newest config using it
	metrics atomic.Bool                        // the newest config counts
	status  status
	stop    context.CancelFunc
	done    chan struct{}
}

// LoadUpstream returns the pooled state cfg names, creating it (and
// starting its refresher) on first use; holds keeps it until Release. The
// newest config's logger takes over its logs.
func LoadUpstream(cfg UpstreamConfig, holds *Holds) (*Upstream, error) {
	val, _, err := pool.LoadOrNew(cfg.PoolKey, func() (caddy.Destructor, error) { return newUpstream(cfg), nil })
	if err != nil {
		return nil, err
	}
	holds.add(cfg.PoolKey)
	u := val.(*Upstream)
	u.logger.Store(cfg.Logger)
	return u, nil
}

func newUpstream(cfg UpstreamConfig) *Upstream {
	u := &Upstream{kind: cfg.Kind, id: cfg.ID, now: cfg.Now, status: status{host: cfg.Host}, done: make(chan struct{})}
	u.logger.Store(cfg.Logger)
	u.source = cfg.NewSource(u)
	u.cache = tokencache.New(tokencache.Config{
		RefreshBefore:    cfg.RefreshBefore,
		Now:              cfg.Now,
		FetchTimeout:     UpstreamFetchTimeout,
		StaleWait:        staleWait,
		BreakerThreshold: BreakerThreshold,
		BreakerCooldown:  BreakerPause,
		BreakerMaxPause:  breakerMaxPause,
		RefreshPause:     ForcedRefreshPause,
		OnFetch:          u.logPause,
	})
	ctx, cancel := context.WithCancel(context.Background())
	u.stop = cancel
	go func() {
		defer close(u.done)
		u.cache.KeepFresh(ctx, u.id, u)
	}()
	return u
}

// Destruct stops the refresher and waits until it has returned.
func (u *Upstream) Destruct() error {
	u.stop()
	<-u.done
	return nil
}

// ID is the application's ID.
func (u *Upstream) ID() string { return u.id }

// Logger is the logger of the newest config using u.
func (u *Upstream) Logger() *zap.Logger { return u.logger.Load() }

// Instrumented is the bare upstream client, timed, counted, logged and
// recorded in the status: the innermost link of a config's chain, so only
// real upstream calls are counted.
func (u *Upstream) Instrumented() tokencache.Fetcher { return tokencache.FetcherFunc(u.fetchUpstream) }

// Use makes chain (built by the newest config around Instrumented) the way
// u fetches, for requests and for the refresher; metrics says whether that
// config counts.
func (u *Upstream) Use(chain tokencache.Fetcher, metrics bool) {
	u.chain.Store(&chain)
	u.metrics.Store(metrics)
	if metrics {
		u.kind.zeroSeries(u.id)
	}
}

// Fetch fetches through the newest config's chain (the cache calls it).
func (u *Upstream) Fetch(ctx context.Context) (tokencache.Token, error) {
	if f := u.chain.Load(); f != nil {
		return (*f).Fetch(ctx)
	}
	return u.fetchUpstream(ctx)
}

// Get returns the cached token, or fetches one (once for every concurrent
// caller), and counts the look-up.
func (u *Upstream) Get(ctx context.Context) (tokencache.Result, error) {
	res, err := u.cache.Get(ctx, u.id, u)
	if u.metrics.Load() {
		result := cacheMiss
		switch {
		case err != nil:
		case res.Source == tokencache.SourceCache:
			result = cacheHit
		case res.Source == tokencache.SourceStale:
			result = cacheStale
		}
		u.kind.lookups.WithLabelValues(u.id, result).Inc()
	}
	return res, err
}

// Refresh forces a fetch, paced by ForcedRefreshPause and never past an
// open upstream pause.
func (u *Upstream) Refresh(ctx context.Context) (tokencache.Result, error) {
	return u.cache.Refresh(ctx, u.id, u)
}

// Peek returns the cached token, if any, without fetching.
func (u *Upstream) Peek() (tokencache.Token, bool) { return u.cache.Peek(u.id) }

// Refusal is the answer to a request for which no token could be had: the
// upstream refusing the credentials is the operator's problem (502
// server_error); anything else is transient (503 temporarily_unavailable
// with Retry-After).
func (u *Upstream) Refusal(err error) *oauthresp.Error {
	k := u.kind
	if tokencache.KindOf(err) == tokencache.KindRejected {
		code := ""
		var ue *tokencache.UpstreamError
		if errors.As(err, &ue) && ue.Code != "" {
			code = " (" + k.Name + " error " + ue.Code + ")"
		}
		return k.Rejected.New("%s rejected the %s of %s %s%s: %s", k.Name, k.Credentials, k.Noun, u.id, code, k.Fix)
	}
	oerr := k.Unavailable.New("no %s token available for %s %s right now; try again later", k.Name, k.Noun, u.id)
	oerr.RetryAfter = max(tokencache.RetryAfterOf(err), RetryAfterUpstream)
	return oerr
}

// fetchUpstream calls the bare client and times, counts, logs (at info,
// failures at warn) and records the call. Never the token, only its
// lifetime; the error text comes from the client, which redacts secrets.
func (u *Upstream) fetchUpstream(ctx context.Context) (tokencache.Token, error) {
	start := time.Now()
	tok, err := u.source.Fetch(ctx)
	took := time.Since(start)
	u.status.record(u.kind, u.now(), err)
	outcome := fetchOutcome(err)
	if u.metrics.Load() {
		u.kind.fetches.WithLabelValues(u.id, outcome).Inc()
		u.kind.durations.WithLabelValues(u.id, outcome).Observe(took.Seconds())
	}
	fields := []zap.Field{zap.String(u.kind.IDField, u.id), zap.String("outcome", outcome), zap.Duration("duration", took)}
	if err == nil {
		fields = append(fields, zap.Int64("expires_in", int64(tok.ExpiresAt.Sub(u.now())/time.Second)))
		u.Logger().Info(u.kind.key+" token fetched", fields...)
		return tok, nil
	}
	u.Logger().Warn(u.kind.key+" token fetch failed", append(fields, zap.Error(err))...)
	return tok, err
}

// logPause logs when failed fetches make the cache leave the upstream
// alone for a while. Neither the secret nor the token is in the event.
func (u *Upstream) logPause(ev tokencache.FetchEvent) {
	if ev.Err == nil || ev.PausedFor <= 0 {
		return
	}
	name := u.kind.key
	u.Logger().Error(name+" calls paused after repeated failures",
		zap.String(u.kind.IDField, ev.Key),
		zap.Bool("background", ev.Background),
		zap.Stringer("kind", tokencache.KindOf(ev.Err)),
		zap.Duration(name+"_paused_for", ev.PausedFor),
		zap.Error(ev.Err))
}

// secondsLeftCollector reports, on each scrape, the life left on the cached
// token of every live application of its kind with metrics on. It reads
// the caches then, so the value is never stale and nothing runs in the
// background.
type secondsLeftCollector struct {
	kind *Kind
	desc *prometheus.Desc
}

func (c *secondsLeftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *secondsLeftCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range Live(c.kind) {
		if !u.metrics.Load() {
			continue
		}
		left := 0.0
		if tok, ok := u.Peek(); ok {
			left = max(tok.ExpiresAt.Sub(u.now()).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, left, u.id)
	}
}
