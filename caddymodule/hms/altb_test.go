package hms

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// TestOwnAudienceIsTheOriginalURL: the default audience is the URL the
// request was sent to (scheme, host, path; no query), before any rewrite.
func TestOwnAudienceIsTheOriginalURL(t *testing.T) {
	cases := []struct{ url, rewritten, want string }{
		{"http://a.example/token", "", "http://a.example/token"},
		{"https://b.example/other", "", "https://b.example/other"},
		{"http://b.example/other?x=1", "", "http://b.example/other"},
		{"http://a.example/edge/token", "/token", "http://a.example/edge/token"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", c.url, nil)
		if r.URL.Scheme != "https" {
			r.TLS = nil
		} else {
			r.TLS = &tls.ConnectionState{}
		}
		u := *r.URL
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, http.Request{URL: &u}))
		if c.rewritten != "" {
			r.URL.Path = c.rewritten
		}
		if got := ownAudience(r); !slices.Equal(got, []string{c.want}) {
			t.Errorf("%s: audiences %q, want [%q]", c.url, got, c.want)
		}
	}
}

// TestDefaultAudienceUnderHandlePath: with handle_path stripping the
// prefix, the default audience is still the URL Sinch posted to (the
// original request's), and a refusal names the accepted audience.
func TestDefaultAudienceUnderHandlePath(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, fmt.Sprintf(`
%s {
	handle_path /edge/* {
		sinch_hms {
			sinch_application %s %s
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, harness.Base, harness.AppKey, harness.SinchSecret, harness.HMSAppID, harness.HMSAppSecret, emu.URL))
	target := harness.Base + "/edge" + harness.TokenPath
	toTarget := func(p *sinchauth.MintParams) { p.Audience = target }
	harness.PostForm(t, tester.Client, target, harness.AssertionForm(harness.Mint(t, toTarget)).Encode()).WantToken(t)

	a := harness.PostForm(t, tester.Client, target, harness.AssertionForm(harness.Mint(t)).Encode()) // aud = testTokenURL
	a.WantError(t, http.StatusUnauthorized, "invalid_client")
	if d, _ := a.Body["error_description"].(string); !strings.Contains(d, "bad_audience") || !strings.Contains(d, `accepted: "`+target+`"`) {
		t.Errorf("description %q does not name the accepted audience %s", d, target)
	}
}

// TestCatchAllSiteWarns: with the default audience, a handler that no host
// matcher guards warns once that the audience follows the Host header; one
// under a host matcher does not.
func TestCatchAllSiteWarns(t *testing.T) {
	for name, tc := range map[string]struct {
		sets caddyhttp.MatcherSets
		warn bool
	}{
		"no matcher":             {nil, true},
		"path matcher only":      {caddyhttp.MatcherSets{{&caddyhttp.MatchPath{"/t"}}}, true},
		"host matcher":           {caddyhttp.MatcherSets{{&caddyhttp.MatchHost{"auth.example.com"}}}, false},
		"host in one set of two": {caddyhttp.MatcherSets{{&caddyhttp.MatchHost{"a.example"}}, {&caddyhttp.MatchPath{"/t"}}}, true},
	} {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			h := &Handler{logger: zap.New(core), warnCatchAll: new(sync.Once)}
			inner := &caddyhttp.Subroute{Routes: caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{h}}}}
			srv := &caddyhttp.Server{Routes: caddyhttp.RouteList{
				{Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{}}},
				{MatcherSets: tc.sets, Handlers: []caddyhttp.MiddlewareHandler{inner}},
			}}
			r := httptest.NewRequest("POST", "http://any.example/t", nil)
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.ServerCtxKey, srv))
			for range 3 {
				h.warnCatchAll.Do(func() { h.warnIfCatchAll(r) })
			}
			n := logs.FilterMessageSnippet("follows the request's Host header").Len()
			if want := map[bool]int{true: 1, false: 0}[tc.warn]; n != want {
				t.Errorf("%d warnings, want %d", n, want)
			}
		})
	}
}
