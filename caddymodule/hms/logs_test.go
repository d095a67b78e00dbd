package hms

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// observedHandler provisions a handler for testHMSAppID and
// testRejectedHMSApp against huaweiURL, serves it over real HTTP, and
// records its log lines at every level.
func observedHandler(t testing.TB, huaweiURL string, opts ...func(*Handler)) (*Handler, *observer.ObservedLogs, string) {
	t.Helper()
	h := &Handler{
		SinchApplications: []SinchApplication{{ApplicationKey: harness.AppKey, Secrets: []string{harness.SinchSecret}}},
		HMSApplications: []HMSApplication{
			{AppID: harness.HMSAppID, AppSecret: harness.HMSAppSecret},
			{AppID: testRejectedHMSApp, AppSecret: testRejectedSecret},
		},
		HuaweiTokenURL: huaweiURL,
		Audiences:      []string{harness.TokenURL},
	}
	for _, o := range opts {
		o(h)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logger = zap.New(core)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = h.ServeHTTP(w, r, next)
	}))
	t.Cleanup(srv.Close)
	return h, logs, srv.URL + harness.TokenPath
}

// findEntry returns the first entry with msg and level whose fields include
// want.
func findEntry(t *testing.T, logs *observer.ObservedLogs, level zapcore.Level, msg string, want map[string]any) {
	t.Helper()
	for _, e := range logs.FilterMessage(msg).All() {
		if e.Level != level {
			continue
		}
		fields, match := e.ContextMap(), true
		for k, v := range want {
			if fields[k] != v {
				match = false
			}
		}
		if match {
			return
		}
	}
	t.Errorf("no %s line %q with %v; lines:\n%s", level, msg, want, harness.DumpLogs(logs))
}

func TestLogLinesPerDecisionAndNoSecrets(t *testing.T) {
	emu := harness.NewHuawei(t)
	h, logs, target := observedHandler(t, emu.URL)
	client := &http.Client{}
	var sent []string // assertions and nonces that must never be logged
	n := 0
	send := func(opts ...harness.MintOpt) harness.Answer {
		nonce := fmt.Sprintf("nonce-%d-a6f1c2", n)
		n++
		a := harness.Mint(t, append(opts, func(p *sinchauth.MintParams) { p.Nonce = nonce })...)
		sent = append(sent, a, nonce)
		return harness.PostForm(t, client, target, harness.AssertionForm(a).Encode())
	}

	// accepted: a fetch, then a hit
	send().WantToken(t)
	send().WantToken(t)
	// rejected: wrong secret, replay, unknown HMS application
	send(func(p *sinchauth.MintParams) { p.Secret = []byte("not the secret") }).WantError(t, http.StatusUnauthorized, "invalid_client")
	replayed := harness.Mint(t, func(p *sinchauth.MintParams) { p.Nonce = "replayed-nonce-77e0" })
	sent = append(sent, replayed, "replayed-nonce-77e0")
	harness.PostForm(t, client, target, harness.AssertionForm(replayed).Encode()).WantToken(t)
	harness.PostForm(t, client, target, harness.AssertionForm(replayed).Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	send(forHMSApp("555")).WantError(t, http.StatusBadRequest, "unauthorized_client")
	// Huawei refuses the second application; then Huawei is down
	send(forHMSApp(testRejectedHMSApp)).WantError(t, http.StatusBadGateway, "server_error")
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: "down"})
	send(forHMSApp(testRejectedHMSApp)).WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if res, err := h.apps[harness.HMSAppID].tokens.Refresh(context.Background()); err != nil || res.Source.String() != "stale" {
		t.Fatalf("forced refresh with Huawei down = %v, %v; want the stale token", res.Source, err)
	}

	// one line per decision, at the operator's levels
	findEntry(t, logs, zapcore.DebugLevel, "token request accepted", map[string]any{
		"flow": "client_assertion", "application_key": harness.AppKey, "hms_application_id": harness.HMSAppID,
		"outcome": "issued", "cache": "fetched", "verified": true, "nonce_sha256": sinchauth.NonceHash("nonce-0-a6f1c2")})
	findEntry(t, logs, zapcore.DebugLevel, "token request accepted", map[string]any{"cache": "hit"})
	findEntry(t, logs, zapcore.WarnLevel, "token request rejected", map[string]any{
		"reason": "bad_signature", "flow": "client_assertion", "application_key": harness.AppKey,
		"hms_application_id": harness.HMSAppID, "verified": false, "nonce_sha256": sinchauth.NonceHash("nonce-2-a6f1c2")})
	findEntry(t, logs, zapcore.WarnLevel, "token request rejected", map[string]any{
		"reason": "replayed_nonce", "nonce_sha256": sinchauth.NonceHash("replayed-nonce-77e0")})
	findEntry(t, logs, zapcore.WarnLevel, "token request rejected", map[string]any{
		"reason": "unknown_hms_application", "hms_application_id": "555", "error": "unauthorized_client"})
	findEntry(t, logs, zapcore.ErrorLevel, "token request failed", map[string]any{
		"reason": "huawei_rejected", "hms_application_id": testRejectedHMSApp, "verified": true})
	findEntry(t, logs, zapcore.ErrorLevel, "token request failed", map[string]any{"reason": "huawei_unavailable"})
	findEntry(t, logs, zapcore.InfoLevel, "huawei token fetched", map[string]any{"hms_application_id": harness.HMSAppID, "outcome": "success"})
	findEntry(t, logs, zapcore.WarnLevel, "huawei token fetch failed", map[string]any{"hms_application_id": testRejectedHMSApp, "outcome": "rejected"})
	findEntry(t, logs, zapcore.WarnLevel, "huawei token fetch failed", map[string]any{"hms_application_id": harness.HMSAppID, "outcome": "unavailable"})
	if n := logs.FilterMessage("token request rejected").Len() + logs.FilterMessage("token request failed").Len() +
		logs.FilterMessage("token request accepted").Len(); n != 8 {
		t.Errorf("%d decision lines for 8 requests:\n%s", n, harness.DumpLogs(logs))
	}

	// and nothing secret in any of them
	forbidden := append([]string{harness.SinchSecret, harness.HMSAppSecret, testRejectedSecret}, emu.IssuedTokens(harness.HMSAppID)...)
	for _, a := range sent {
		forbidden = append(forbidden, a)
		if parts := strings.Split(a, "."); len(parts) == 3 {
			forbidden = append(forbidden, parts[1], parts[2]) // payload and signature alone
		}
	}
	if len(emu.IssuedTokens(harness.HMSAppID)) == 0 {
		t.Fatal("no token was issued; the test proves nothing")
	}
	for _, e := range logs.All() {
		text := harness.EntryText(e)
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("log line %q carries a secret, a token, a nonce or an assertion (%.12s...)", e.Message, f)
			}
		}
	}
}
