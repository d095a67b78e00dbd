package caddymodule

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// forward passes an authenticated request to the next handler with the
// sinch_hms placeholders set. Unless forward_credentials is on, the
// credential itself is not passed on: the client assertion is removed from
// the body and the Authorization header dropped, so the service behind
// Caddy never holds a usable credential. The body always names the HMS
// application as hms_application_id, whichever flow was used.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *tokenRequest) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		repl.Set("sinch_hms.flow", req.flow)
		repl.Set("sinch_hms.application_key", req.applicationKey)
		repl.Set("sinch_hms.hms_application_id", req.hmsAppID)
		repl.Set("sinch_hms.client_id", req.clientID)
		repl.Set("http.auth.user.id", req.hmsAppID)
	}
	form := make(oauthresp.Form, len(req.form)+1)
	for k, v := range req.form {
		if h.ForwardCredentials || (k != paramClientAssertion && k != paramClientAssertionType) {
			form[k] = v
		}
	}
	form[paramHMSApplicationID] = req.hmsAppID
	body := form.Encode()
	// A shallow copy, so that the request Caddy handed us keeps its body.
	r = r.WithContext(r.Context())
	if !h.ForwardCredentials {
		r.Header.Del("Authorization")
	}
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return next.ServeHTTP(w, r)
}
