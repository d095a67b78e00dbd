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
// sinch_hms placeholders set. The credential itself is not passed on: the
// client assertion is removed from the body and the Authorization header
// dropped, so the service behind Caddy never holds a usable credential.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *tokenRequest) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl != nil {
		repl.Set("sinch_hms.flow", req.flow)
		repl.Set("sinch_hms.application_key", req.applicationKey)
		repl.Set("sinch_hms.hms_application_id", req.hmsAppID)
		repl.Set("http.auth.user.id", req.hmsAppID)
	}
	form := make(oauthresp.Form, len(req.form))
	for k, v := range req.form {
		if k != paramClientAssertion && k != paramClientAssertionType {
			form[k] = v
		}
	}
	if req.flow == flowClientAssertion {
		form[paramHMSApplicationID] = req.hmsAppID
	}
	body := form.Encode()
	r.Header.Del("Authorization")
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return next.ServeHTTP(w, r)
}
