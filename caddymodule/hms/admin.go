package hms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// adminRefreshTimeout bounds a forced refresh requested through the admin
// API.
const adminRefreshTimeout = 30 * time.Second

// AdminAPI adds the sinch_hms routes to Caddy's admin API. Caddy loads
// every admin.api.* module on its own, so there is nothing to configure:
//
//	GET  /sinch_hms/status                       every HMS application and FCM
//	                                             project: is a token cached, its
//	                                             age and time left, the last
//	                                             upstream success and error
//	POST /sinch_hms/refresh?hms_app=<App ID>     fetch a new token now: at most
//	POST /sinch_hms/refresh?fcm_project=<number> once per 30s per application
//	                                             (else 429), never while the
//	                                             upstream is paused (else 503),
//	                                             both with Retry-After
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

func (a *AdminAPI) serveStatus(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	out := make(map[string][]map[string]any)
	for _, k := range endpoint.Kinds() {
		list := []map[string]any{}
		for _, u := range endpoint.Live(k) {
			list = append(list, u.Status())
		}
		out[k.StatusKey] = list
	}
	return writeAdminJSON(w, http.StatusOK, out)
}

// refreshAnswer is the answer to a forced refresh.
type refreshAnswer struct {
	Refreshed bool   `json:"refreshed"`
	Message   string `json:"message"`
	// RetryAfterSeconds, on a 429 or 503 that called nothing, is the
	// Retry-After header: when a forced refresh may call Huawei again.
	RetryAfterSeconds int64          `json:"retry_after_seconds,omitempty"`
	Status            map[string]any `json:"status"`
}

func (a *AdminAPI) serveRefresh(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use POST", r.Method)}
	}
	kind, u := liveByQuery(r)
	if u == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New(notFound(r))}
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminRefreshTimeout)
	defer cancel()
	res, err := u.Refresh(ctx)
	ans := refreshAnswer{Refreshed: err == nil && res.Source == tokencache.SourceFetched}
	status := http.StatusOK
	var paced *tokencache.RefreshPacedError
	switch {
	case errors.As(err, &paced):
		ans.RetryAfterSeconds = retryAfterSeconds(paced.RetryAfter)
		ans.Message = fmt.Sprintf("a forced refresh of this application called %[1]s less than %[2]d s ago "+
			"(Huawei allows 1,000 tokens per 5 minutes per app): %[1]s not called; try again in %[3]d s",
			kind.Name, int64(endpoint.ForcedRefreshPause/time.Second), ans.RetryAfterSeconds)
		status = http.StatusTooManyRequests
	case errors.Is(err, tokencache.ErrBreakerOpen):
		ans.RetryAfterSeconds = retryAfterSeconds(tokencache.RetryAfterOf(err))
		ans.Message = fmt.Sprintf("%[1]s calls for this application are paused (after failures, or as %[1]s's "+
			"Retry-After asked; see last_%[2]s_error): %[1]s not called; try again in %[3]d s", kind.Name, kind.Key(), ans.RetryAfterSeconds)
		status = http.StatusServiceUnavailable
	case ans.Refreshed:
		ans.Message = "fetched a new token from " + kind.Name
	case err == nil:
		ans.Message = kind.Name + " did not give a new token; the cached one is still served (see last_" + kind.Key() + "_error)"
		status = http.StatusBadGateway
	default:
		ans.Message = kind.Name + " did not give a token and none is cached (see last_" + kind.Key() + "_error)"
		status = http.StatusBadGateway
	}
	ans.Status = u.Status()
	if ans.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(ans.RetryAfterSeconds, 10))
	}
	return writeAdminJSON(w, status, ans)
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// liveByQuery finds the application a refresh names: ?hms_app=<App ID> or
// ?fcm_project=<number> (each kind's QueryParam).
func liveByQuery(r *http.Request) (*endpoint.Kind, *endpoint.Upstream) {
	q := r.URL.Query()
	for _, k := range endpoint.Kinds() {
		if q.Has(k.QueryParam) {
			return k, endpoint.FindLive(k, q.Get(k.QueryParam))
		}
	}
	return nil, nil
}

// notFound says what a refresh asked for that is not configured.
func notFound(r *http.Request) string {
	q := r.URL.Query()
	var params []string
	for _, k := range endpoint.Kinds() {
		if q.Has(k.QueryParam) {
			return fmt.Sprintf("no configured %s %q (query parameter %s)", k.Noun, q.Get(k.QueryParam), k.QueryParam)
		}
		params = append(params, k.QueryParam)
	}
	return "name the application to refresh with the query parameter " + strings.Join(params, " or ")
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
