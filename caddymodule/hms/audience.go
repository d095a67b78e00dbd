package hms

import (
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// warnIfCatchAll warns, once per handler, when the default audience is in
// use on a route that no host matcher guards: there the audience follows
// the request's Host header, which the caller chooses, so it binds the
// assertion to nothing. (A handler cannot see its routes at provision;
// the first request finds them through its server.)
func (h *Handler) warnIfCatchAll(r *http.Request) {
	srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if !ok {
		return
	}
	hosted, found := routesGuardHost(srv.Routes, h, false)
	if found && !hosted {
		h.logger.Warn("audience is not set and this site has no host: the default audience follows the request's Host header, " +
			"so any host name is accepted; set audience to the token URL entered in the Sinch Dashboard")
	}
}

// routesGuardHost looks for target in routes and the subroutes below them,
// and reports whether some route on the way to it matches on host.
func routesGuardHost(routes caddyhttp.RouteList, target caddyhttp.MiddlewareHandler, hosted bool) (guarded, found bool) {
	for _, rt := range routes {
		here := hosted || matchesHost(rt.MatcherSets)
		for _, mh := range rt.Handlers {
			if mh == target {
				return here, true
			}
			if sub, ok := mh.(*caddyhttp.Subroute); ok {
				if g, f := routesGuardHost(sub.Routes, target, here); f {
					return g, true
				}
			}
		}
	}
	return false, false
}

// matchesHost reports whether every matcher set holds a host matcher (a
// route with one set lacking it can be reached under any host).
func matchesHost(sets caddyhttp.MatcherSets) bool {
	if len(sets) == 0 {
		return false
	}
	for _, set := range sets {
		if !slices.ContainsFunc(set, func(m any) bool { _, ok := m.(*caddyhttp.MatchHost); return ok }) {
			return false
		}
	}
	return true
}
