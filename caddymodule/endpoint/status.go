package endpoint

import (
	"errors"
	"sync"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// status remembers how the last upstream fetches of one application went,
// for the admin API. It is part of the pooled Upstream, so a reload keeps
// it.
type status struct {
	host        string // host[:port] of the configured token URL
	mu          sync.Mutex
	lastSuccess time.Time
	lastError   *Failure
}

// Failure is a failed fetch as the admin API shows it: what the cache makes
// of it (kind), why it failed (cause, host, detail: see
// hmsupstream.CauseOf) and the upstream's status, codes and description.
// Never a secret, nor the token URL's path or query.
type Failure struct {
	At          time.Time `json:"at"`
	Kind        string    `json:"kind"`            // rejected or unavailable
	Cause       string    `json:"cause,omitempty"` // refused, timeout, dns, tls, http or other
	Host        string    `json:"host,omitempty"`  // host[:port] asked
	Detail      string    `json:"detail,omitempty"`
	HTTPStatus  int       `json:"http_status,omitempty"`
	Code        string    `json:"code,omitempty"`
	Description string    `json:"description,omitempty"`
}

func (s *status) record(k *Kind, at time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastSuccess = at
		return
	}
	cause := hmsupstream.CauseOf(err)
	f := &Failure{At: at, Kind: tokencache.KindOf(err).String(),
		Cause: string(cause.Kind), Host: cause.Host, Detail: cause.Detail}
	if f.Host == "" {
		f.Host = s.host // an HTTP answer, or the cache's own deadline: the configured host
	}
	var ue *tokencache.UpstreamError
	if errors.As(err, &ue) {
		f.HTTPStatus, f.Code, f.Description = ue.StatusCode, ue.Code, ue.Description
	}
	if f.Description == "" && f.HTTPStatus == 0 {
		f.Description = "no answer from " + k.Name + ": " + cause.Detail
	}
	s.lastError = f
}

func (s *status) snapshot() (time.Time, *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastError == nil {
		return s.lastSuccess, nil
	}
	f := *s.lastError
	return s.lastSuccess, &f
}

// Status describes u at its clock's now, as the admin API shows it: the
// application's ID, whether a token is cached, its age and time left, and
// the last upstream success and error (keys named after the kind, e.g.
// hms_application_id and last_huawei_error). Never a token or a secret.
func (u *Upstream) Status() map[string]any {
	now := u.now()
	name := u.kind.key
	st := map[string]any{u.kind.IDField: u.id, "token_cached": false}
	if tok, ok := u.Peek(); ok {
		st["token_cached"] = true
		st["token_fetched_at"] = tok.FetchedAt.UTC()
		st["token_age_seconds"] = int64(now.Sub(tok.FetchedAt) / time.Second)
		st["token_seconds_left"] = max(int64(tok.ExpiresAt.Sub(now)/time.Second), 0)
	}
	success, failure := u.status.snapshot()
	if !success.IsZero() {
		st["last_"+name+"_success_at"] = success.UTC()
	}
	if failure != nil {
		failure.At = failure.At.UTC()
		st["last_"+name+"_error"] = failure
	}
	return st
}
