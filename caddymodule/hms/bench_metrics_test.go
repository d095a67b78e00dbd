package hms

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// BenchmarkServeHTTPCacheHit measures one accepted token request served
// from the cache (assertion check, replay store, cache, answer, log line
// at a disabled debug level), with and without metrics: the cost of the
// operator's view on the hot path. Assertions are minted beforehand.
func BenchmarkServeHTTPCacheHit(b *testing.B) {
	for _, disabled := range []bool{false, true} {
		name := "metrics_on"
		if disabled {
			name = "metrics_off"
		}
		b.Run(name, func(b *testing.B) {
			emu := huaweitest.NewServer()
			defer emu.Close()
			emu.AddApp(harness.HMSAppID, harness.HMSAppSecret)
			h, _, _ := observedHandler(b, emu.URL, func(h *Handler) { h.DisableMetrics = disabled })
			h.logger = zap.NewNop()
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			bodies := make([]string, b.N+1)
			for i := range bodies {
				bodies[i] = harness.AssertionForm(harness.Mint(b)).Encode()
			}
			serve := func(body string) int {
				r := httptest.NewRequest(http.MethodPost, harness.TokenURL, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				_ = h.ServeHTTP(w, r, next)
				return w.Code
			}
			if code := serve(bodies[b.N]); code != http.StatusOK { // warm the cache
				b.Fatalf("warm-up: HTTP %d", code)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if code := serve(bodies[i]); code != http.StatusOK {
					b.Fatalf("HTTP %d", code)
				}
			}
		})
	}
}
