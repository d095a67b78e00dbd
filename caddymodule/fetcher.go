package caddymodule

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

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
func (h *Handler) instrument(appID, cacheKey string, next tokencache.Fetcher) (*instrumentedFetcher, error) {
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
	outcome := fetchOutcome(err)
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

// fetchOutcome is the metric label of a fetch's result, for Huawei and
// Google alike.
func fetchOutcome(err error) string {
	switch tokencache.KindOf(err) {
	case tokencache.KindRejected:
		return fetchRejected
	case tokencache.KindUnavailable:
		return fetchUnavailable
	}
	return fetchSuccess
}
