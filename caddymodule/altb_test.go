package caddymodule

import (
	"crypto/tls"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

// TestOwnAudienceFollowsTheRequest: the default audience is each request's
// own URL; the one remembered from an earlier request never answers for
// another scheme, host or path.
func TestOwnAudienceFollowsTheRequest(t *testing.T) {
	h := &Handler{lastOwnURL: new(atomic.Pointer[ownURL])}
	cases := []struct{ url, want string }{
		{"http://a.example/token", "http://a.example/token"},
		{"http://a.example/token", "http://a.example/token"},
		{"http://b.example/token", "http://b.example/token"},
		{"http://b.example/other", "http://b.example/other"},
		{"https://b.example/other", "https://b.example/other"},
		{"http://b.example/other?x=1", "http://b.example/other"},
		{"http://a.example/token", "http://a.example/token"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", c.url, nil)
		if r.URL.Scheme != "https" {
			r.TLS = nil
		} else {
			r.TLS = &tls.ConnectionState{}
		}
		if got := h.ownAudience(r); !slices.Equal(got, []string{c.want}) {
			t.Errorf("%s: audiences %q, want [%q]", c.url, got, c.want)
		}
	}
}
