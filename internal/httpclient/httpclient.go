// Package httpclient is the redirect policy of every outbound client of
// the module (Huawei, Google, JWKS, introspection): no redirect is
// followed. A redirect would carry an App secret, a signed grant or a
// caller's token to a host nobody configured, and have its answer trusted.
// A 3xx answer is handed back as is; the caller treats it as an upstream
// that is not available. Plain Go: no Caddy import.
package httpclient

import "net/http"

// NoRedirects returns a copy of c (of a zero http.Client when c is nil)
// that follows no redirect, whatever c's CheckRedirect says. c itself is
// not changed, so a client the caller shares keeps its own policy.
func NoRedirects(c *http.Client) *http.Client {
	out := &http.Client{}
	if c != nil {
		*out = *c
	}
	out.CheckRedirect = refuse
	return out
}

// refuse stops at the first answer, a 3xx included.
func refuse(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// IsRedirect reports whether status is a 3xx: with NoRedirects, an answer
// that must count as a failure of the upstream.
func IsRedirect(status int) bool { return status >= 300 && status <= 399 }
