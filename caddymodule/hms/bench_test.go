package hms

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// benchBatch is how many assertions are minted at a time, outside the
// timer: each request needs a fresh nonce, and minting is not what is
// measured.
const benchBatch = 4096

// benchTarget is the URL benchmark requests are sent to; its scheme, host
// and path are the default accepted audience.
const benchTarget = "http://auth.example.com" + harness.TokenPath

// nextNonce numbers assertion nonces across a whole benchmark run.
var nextNonce int

// mintBatch returns benchBatch Sinch token request bodies with unique
// nonces, for the HMS application appID.
func mintBatch(b *testing.B, appID string) []string {
	b.Helper()
	secret, err := sinchauth.DecodeSecret(harness.SinchSecret)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([]string, benchBatch)
	now := time.Now()
	for i := range bodies {
		nextNonce++
		a, err := sinchauth.Mint(sinchauth.MintParams{
			ApplicationKey: harness.AppKey, Secret: secret, HMSApplicationID: appID,
			Audience: benchTarget, IssuedAt: now, Lifetime: 10 * time.Minute,
			Nonce: "bench-" + strconv.Itoa(nextNonce),
		})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = harness.AssertionForm(a).Encode()
	}
	return bodies
}

// provisionBench provisions a token-endpoint handler the way Caddy does
// (caddy.NewContext, Provision, Cleanup), against a Huawei emulator.
func provisionBench(b *testing.B, emu *huaweitest.Server) *Handler {
	b.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	h := &Handler{
		SinchApplications: []SinchApplication{{ApplicationKey: harness.AppKey, Secrets: []string{harness.SinchSecret}}},
		HMSApplications:   []HMSApplication{{AppID: harness.HMSAppID, AppSecret: harness.HMSAppSecret}},
		HuaweiTokenURL:    emu.URL,
	}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Cleanup() })
	// Without a loaded config, ctx.Logger() is a development logger that
	// writes debug lines to stderr; a real Caddy logs at info by default.
	h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return h
}

// benchRequest builds a token request as Caddy hands it to a handler: with
// a replacer in its context.
func benchRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, benchTarget, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

// serve runs one request through next and fails unless it got a 200.
func serve(b *testing.B, h caddyhttp.MiddlewareHandler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
		b.Fatal(err)
	}
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w
}

// BenchmarkServeHTTPWarm is the whole token endpoint on a warm cache: form
// parsing, assertion validation with a fresh nonce, the cache read and the
// answer. It fails if the timed loop called Huawei at all.
func BenchmarkServeHTTPWarm(b *testing.B) {
	emu := newHuaweiB(b)
	h := provisionBench(b, emu)
	bodies := mintBatch(b, harness.HMSAppID)
	serve(b, h, benchRequest(bodies[0])) // warm the cache: the one Huawei call
	warmCalls := emu.Calls()
	reqs := make([]*http.Request, 0, benchBatch)
	refill := func() {
		reqs = reqs[:0]
		for _, body := range mintBatch(b, harness.HMSAppID) {
			reqs = append(reqs, benchRequest(body))
		}
	}
	refill()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(reqs) {
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		serve(b, h, reqs[i])
		i++
	}
	b.StopTimer()
	if calls := emu.Calls() - warmCalls; calls != 0 {
		b.Fatalf("the warm path called Huawei %d times, want 0", calls)
	}
	b.ReportMetric(0, "huawei-calls/op")
}

// BenchmarkStaticResponse is the baseline of BenchmarkServeHTTPWarm: Caddy's
// own `respond` handler answering a body of the same size, with a request
// body of the same size.
func BenchmarkStaticResponse(b *testing.B) {
	emu := newHuaweiB(b)
	h := provisionBench(b, emu)
	bodies := mintBatch(b, harness.HMSAppID)
	answer := serve(b, h, benchRequest(bodies[0])).Body.String()
	sr := caddyhttp.StaticResponse{StatusCode: caddyhttp.WeakString(strconv.Itoa(http.StatusOK)), Body: answer}
	// Requests are built outside the timer, as for BenchmarkServeHTTPWarm;
	// respond does not read the body, so the same bodies serve every batch.
	reqs := make([]*http.Request, len(bodies))
	refill := func() {
		for j, body := range bodies {
			reqs[j] = benchRequest(body)
		}
	}
	refill()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(reqs) {
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		w := serve(b, sr, reqs[i])
		if w.Body.Len() != len(answer) {
			b.Fatalf("body of %d bytes, want %d", w.Body.Len(), len(answer))
		}
		i++
	}
}

// BenchmarkServeHTTPVsRespond interleaves the two above, one request of
// each per iteration, and reports the ratio of their times: both see the
// same load on a shared machine, so the ratio holds where separate runs'
// ns/op do not.
func BenchmarkServeHTTPVsRespond(b *testing.B) {
	emu := newHuaweiB(b)
	h := provisionBench(b, emu)
	bodies := mintBatch(b, harness.HMSAppID)
	answer := serve(b, h, benchRequest(bodies[0])).Body.String()
	warmCalls := emu.Calls()
	sr := caddyhttp.StaticResponse{StatusCode: caddyhttp.WeakString(strconv.Itoa(http.StatusOK)), Body: answer}
	var tokReqs, respReqs []*http.Request
	refill := func() {
		tokReqs, respReqs = tokReqs[:0], respReqs[:0]
		for _, body := range mintBatch(b, harness.HMSAppID) {
			tokReqs = append(tokReqs, benchRequest(body))
			respReqs = append(respReqs, benchRequest(body))
		}
	}
	refill()
	var token, respond time.Duration
	i := 0
	for b.Loop() {
		if i == len(tokReqs) {
			b.StopTimer()
			refill()
			i = 0
			b.StartTimer()
		}
		t0 := time.Now()
		serve(b, h, tokReqs[i])
		t1 := time.Now()
		serve(b, sr, respReqs[i])
		token, respond = token+t1.Sub(t0), respond+time.Since(t1)
		i++
	}
	b.StopTimer()
	if calls := emu.Calls() - warmCalls; calls != 0 {
		b.Fatalf("the warm path called Huawei %d times, want 0", calls)
	}
	b.ReportMetric(float64(token)/float64(respond), "token/respond")
}

// BenchmarkTokenAnswer is the success answer alone: what is left per
// request once the token is in the cache. The encoding is cached per
// (token, expires_in), so a warm request encodes nothing.
func BenchmarkTokenAnswer(b *testing.B) {
	var cache oauthresp.TokenBodyCache
	expiresAt := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		body, err := cache.Body("CF+/some-access-token-from-huawei==", oauthresp.ExpiresIn(expiresAt, time.Now()))
		if err != nil {
			b.Fatal(err)
		}
		if err := oauthresp.WriteTokenBody(w, body); err != nil {
			b.Fatal(err)
		}
	}
}

// newHuaweiB starts a Huawei emulator knowing the test HMS application.
func newHuaweiB(b *testing.B) *huaweitest.Server {
	b.Helper()
	emu := huaweitest.NewServer()
	emu.AddApp(harness.HMSAppID, harness.HMSAppSecret)
	b.Cleanup(emu.Close)
	return emu
}
