package bearerauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

// redirectTo starts a server answering every request with a 307 to
// target, and returns its URL.
func redirectTo(t *testing.T, target string) string {
	t.Helper()
	s := httptest.NewServer(http.RedirectHandler(target, http.StatusTemporaryRedirect))
	t.Cleanup(s.Close)
	return s.URL
}

// clients are the http.Client choices of a caller: none (the default) and
// one of its own that follows redirects.
var clients = map[string]*http.Client{"default": nil, "caller's own": {Timeout: 5 * time.Second}}

// TestIntrospectionRedirectNotFollowed: a 307 would re-post the caller's
// token (and our client credentials) to the target, whose "active": true
// would then be trusted. It is an endpoint failure instead.
func TestIntrospectionRedirectNotFollowed(t *testing.T) {
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			as := newAS(t) // the target: it knows the token and would say active
			c := testclock.New(time.Now())
			tok := as.IssueOpaque(goodInfo(as, c.Now()))
			v := introspector(t, as, c, func(cfg *bearerauth.IntrospectionConfig) {
				cfg.URL = redirectTo(t, as.IntrospectionURL())
				cfg.Client = client
			})
			_, err := v.Verify(t.Context(), tok)
			if r := bearerauth.ReasonOf(err); r != bearerauth.ReasonIntrospection {
				t.Errorf("reason %q (%v), want introspection_unavailable", r, err)
			}
			if n := as.IntrospectionCalls(); n != 0 {
				t.Errorf("the redirect target was asked %d times: the token was re-sent", n)
			}
		})
	}
}

// TestJWKSRedirectNotFollowed: keys are only taken from the configured
// URL; a 3xx is a failed fetch (logged, known keys kept, the token's kid
// stays unknown).
func TestJWKSRedirectNotFollowed(t *testing.T) {
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			as := newAS(t) // the target: it serves the keys that sign the token
			var mu sync.Mutex
			var fetchErrs []string
			keys, err := bearerauth.NewJWKS(t.Context(), bearerauth.JWKSConfig{
				URL: redirectTo(t, as.JWKSURL()), Client: client,
				OnError: func(err error) {
					mu.Lock()
					defer mu.Unlock()
					fetchErrs = append(fetchErrs, err.Error())
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{
				Keys: keys, Issuer: as.Issuer(), Audience: testAudience, ClockSkew: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(t.Context(), as.Mint(as.Claims(testAudience, testScope, time.Hour)))
			if r := bearerauth.ReasonOf(err); r != bearerauth.ReasonUnknownKey {
				t.Errorf("reason %q (%v), want unknown_key", r, err)
			}
			if n := as.JWKSFetches(); n != 0 {
				t.Errorf("the redirect target was fetched %d times", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(fetchErrs) == 0 || !strings.Contains(fetchErrs[0], "307") {
				t.Errorf("fetch errors %q, want the 307 reported", fetchErrs)
			}
		})
	}
}
