package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminRefreshTimeout bounds a forced refresh requested through the admin
// API.
const adminRefreshTimeout = 30 * time.Second

// forcedRefreshPause is the least time between two Huawei calls forced
// through POST /sinch_hms/refresh for one HMS application. Each forced
// refresh costs a Huawei token, and Huawei allows 1,000 per 5 minutes per
// app: a script or an impatient operator posting in a loop must not spend
// them (nor get the app throttled for Sinch's real requests). Inside the
// pause a forced refresh answers 429 with Retry-After and calls nothing;
// concurrent ones share one call. The pause is per application and kept in
// the pooled token cache, so a config reload does not reset it.
const forcedRefreshPause = 30 * time.Second

// AdminAPI adds the sinch_hms routes to Caddy's admin API. Caddy loads
// every admin.api.* module on its own, so there is nothing to configure:
//
//	GET  /sinch_hms/status                     every HMS application: is a token
//	                                           cached, its age and time left, the
//	                                           last Huawei success and error
//	POST /sinch_hms/refresh?hms_app=<App ID>   fetch a new token from Huawei now:
//	                                           at most once per forcedRefreshPause
//	                                           (else 429), never while Huawei is
//	                                           paused (else 503), both with
//	                                           Retry-After
//
// They never show a token or a secret.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sinch_hms",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/sinch_hms/status", Handler: caddy.AdminHandlerFunc(a.serveStatus)},
		{Pattern: "/sinch_hms/refresh", Handler: caddy.AdminHandlerFunc(a.serveRefresh)},
	}
}

// appStatus is what the admin API shows of one HMS application.
type appStatus struct {
	HMSApplicationID string           `json:"hms_application_id"`
	TokenCached      bool             `json:"token_cached"`
	TokenFetchedAt   *time.Time       `json:"token_fetched_at,omitempty"`
	TokenAgeSeconds  *int64           `json:"token_age_seconds,omitempty"`
	TokenSecondsLeft *int64           `json:"token_seconds_left,omitempty"`
	LastSuccessAt    *time.Time       `json:"last_huawei_success_at,omitempty"`
	LastError        *upstreamFailure `json:"last_huawei_error,omitempty"`
}

// statusOf describes a at its clock's now.
func statusOf(a *liveApp) appStatus {
	now := a.now()
	st := appStatus{HMSApplicationID: a.app.id}
	if tok, ok := a.app.cache.Peek(a.app.id); ok {
		st.TokenCached = true
		fetched := tok.FetchedAt.UTC()
		age := int64(now.Sub(tok.FetchedAt) / time.Second)
		left := max(int64(tok.ExpiresAt.Sub(now)/time.Second), 0)
		st.TokenFetchedAt, st.TokenAgeSeconds, st.TokenSecondsLeft = &fetched, &age, &left
	}
	success, failure := a.status.snapshot()
	if !success.IsZero() {
		s := success.UTC()
		st.LastSuccessAt = &s
	}
	if failure != nil {
		failure.At = failure.At.UTC()
		st.LastError = failure
	}
	return st
}

func (a *AdminAPI) serveStatus(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	out := struct {
		HMSApplications []appStatus `json:"hms_applications"`
	}{HMSApplications: []appStatus{}}
	for _, app := range liveApps() {
		out.HMSApplications = append(out.HMSApplications, statusOf(app))
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// refreshAnswer is the answer to a forced refresh.
type refreshAnswer struct {
	Refreshed bool   `json:"refreshed"`
	Message   string `json:"message"`
	// RetryAfterSeconds, on a 429 or 503 that called nothing, is the
	// Retry-After header: when a forced refresh may call Huawei again.
	RetryAfterSeconds int64     `json:"retry_after_seconds,omitempty"`
	Status            appStatus `json:"status"`
}

func (a *AdminAPI) serveRefresh(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use POST", r.Method)}
	}
	id := r.URL.Query().Get("hms_app")
	app := findLiveApp(id)
	if app == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no configured HMS application %q (query parameter hms_app)", id)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminRefreshTimeout)
	defer cancel()
	res, err := app.app.cache.Refresh(ctx, app.app.id, app.app.fetcher)
	ans := refreshAnswer{Refreshed: err == nil && res.Source == tokencache.SourceFetched}
	status := http.StatusOK
	var paced *tokencache.RefreshPacedError
	switch {
	case errors.As(err, &paced):
		ans.RetryAfterSeconds = retryAfterSeconds(paced.RetryAfter)
		ans.Message = fmt.Sprintf("a forced refresh of this application called Huawei less than %d s ago "+
			"(Huawei allows 1,000 tokens per 5 minutes per app): Huawei not called; try again in %d s",
			int64(forcedRefreshPause/time.Second), ans.RetryAfterSeconds)
		status = http.StatusTooManyRequests
	case errors.Is(err, tokencache.ErrBreakerOpen):
		ans.RetryAfterSeconds = retryAfterSeconds(tokencache.RetryAfterOf(err))
		ans.Message = fmt.Sprintf("Huawei calls for this application are paused (after failures, or as Huawei's "+
			"Retry-After asked; see last_huawei_error): Huawei not called; try again in %d s", ans.RetryAfterSeconds)
		status = http.StatusServiceUnavailable
	case ans.Refreshed:
		ans.Message = "fetched a new token from Huawei"
	case err == nil:
		ans.Message = "Huawei did not give a new token; the cached one is still served (see last_huawei_error)"
		status = http.StatusBadGateway
	default:
		ans.Message = "Huawei did not give a token and none is cached (see last_huawei_error)"
		status = http.StatusBadGateway
	}
	ans.Status = statusOf(app)
	if ans.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(ans.RetryAfterSeconds, 10))
	}
	return writeAdminJSON(w, status, ans)
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

func findLiveApp(id string) *liveApp {
	for _, a := range liveApps() {
		if a.app.id == id {
			return a
		}
	}
	return nil
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// Interface guards
var _ caddy.AdminRouter = (*AdminAPI)(nil)
