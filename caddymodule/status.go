package caddymodule

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// upstreamStatus remembers how the last Huawei fetches of one HMS
// application went, for the admin API. It lives in statePool beside the
// token cache it describes, so a reload keeps it.
type upstreamStatus struct {
	host        string // host[:port] of the configured token URL
	mu          sync.Mutex
	lastSuccess time.Time
	lastError   *upstreamFailure
}

// upstreamFailure is a failed fetch as the admin API shows it: what the
// cache makes of it (kind), why it failed (cause, host, detail: see
// hmsupstream.CauseOf) and Huawei's status, codes and description. Never
// a secret, nor the token URL's path or query.
type upstreamFailure struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`            // rejected or unavailable
	Cause       string    `json:"cause,omitempty"` // refused, timeout, dns, tls, http or other
	Host        string    `json:"host,omitempty"`  // host[:port] asked
	Detail      string    `json:"detail,omitempty"`
	HTTPStatus  int       `json:"http_status,omitempty"`
	Code        string    `json:"code,omitempty"`
	Description string    `json:"description,omitempty"`
}

// pooledStatus is an upstreamStatus in statePool.
type pooledStatus struct{ *upstreamStatus }

func (pooledStatus) Destruct() error { return nil }

func (s *upstreamStatus) record(at time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastSuccess = at
		return
	}
	cause := hmsupstream.CauseOf(err)
	f := &upstreamFailure{At: at, Kind: tokencache.KindOf(err).String(),
		Cause: string(cause.Kind), Host: cause.Host, Detail: cause.Detail}
	if f.Host == "" {
		f.Host = s.host // an HTTP answer, or the cache's own deadline: the configured host
	}
	var ue *tokencache.UpstreamError
	if errors.As(err, &ue) {
		f.HTTPStatus, f.Code, f.Description = ue.StatusCode, ue.Code, ue.Description
	}
	if f.Description == "" && f.HTTPStatus == 0 {
		f.Description = "no answer from Huawei: " + cause.Detail
	}
	s.lastError = f
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

// loadStatus returns the pooled status of the token cache named cacheKey
// (whose key holds the token URL, so the host is the same for every config
// sharing the entry).
func (h *Handler) loadStatus(cacheKey string) (*upstreamStatus, error) {
	key := "sinch_hms.status/" + cacheKey
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		tokenURL := h.HuaweiTokenURL
		if tokenURL == "" {
			tokenURL = hmsupstream.DefaultTokenURL
		}
		return pooledStatus{&upstreamStatus{host: hmsupstream.HostOf(tokenURL)}}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("sinch_hms: status: %w", err)
	}
	h.pooled = append(h.pooled, key)
	return val.(pooledStatus).upstreamStatus, nil
}
