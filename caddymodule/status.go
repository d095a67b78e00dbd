package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

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
