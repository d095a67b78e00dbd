package hms

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// The tests in this file read the operator's view of a real, in-process
// Caddy: the admin endpoint's /metrics and the admin API's /sinch_hms/
// routes, while requests go through the token endpoint.

// Second and third HMS applications: unknown to the emulator, so Huawei
// rejects their credentials (1101/20003).
const (
	testRejectedHMSApp = "987654321"
	testRejectedSecret = "rejected+secret/=="
)

func requestsSeries(flow, outcome string) string {
	return fmt.Sprintf(`caddy_sinch_hms_requests_total{flow=%q,outcome=%q}`, flow, outcome)
}

func rejectionsSeries(reason string) string {
	return fmt.Sprintf(`caddy_sinch_hms_rejections_total{reason=%q}`, reason)
}

func appSeries(name, app, label, value string) string {
	return fmt.Sprintf(`caddy_sinch_hms_%s{hms_app=%q,%s=%q}`, name, app, label, value)
}

// twoAppSite serves the token endpoint for testHMSAppID and an HMS
// application Huawei will refuse.
func twoAppSite(huaweiURL, extra string) string {
	return harness.HMSSite(huaweiURL, fmt.Sprintf("hms_application %s %s\n\t\t\t%s", testRejectedHMSApp, testRejectedSecret, extra))
}

func forHMSApp(id string) harness.MintOpt {
	return func(p *sinchauth.MintParams) { p.HMSApplicationID = id }
}

func TestMetricsMove(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, twoAppSite(emu.URL, ""))
	post := func(assertion string) harness.Answer {
		return harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(assertion).Encode())
	}

	m0 := harness.Metrics(t)
	if v := harness.Sample(t, m0, `caddy_sinch_hms_token_seconds_left{hms_app="123456789"}`); v != 0 {
		t.Errorf("seconds left before any token = %v, want 0", v)
	}
	for _, r := range []string{"bad_signature", "replayed_nonce", "huawei_rejected", "malformed_request"} {
		harness.Sample(t, m0, rejectionsSeries(r)) // every reason exists at zero from the start
	}

	// a miss (one Huawei fetch), then a hit
	post(harness.Mint(t)).WantToken(t)
	replayable := harness.Mint(t)
	post(replayable).WantToken(t)
	m1 := harness.Metrics(t)
	harness.Delta(t, m0, m1, requestsSeries("client_assertion", "issued"), 2)
	harness.Delta(t, m0, m1, appSeries("cache_requests_total", harness.HMSAppID, "result", "miss"), 1)
	harness.Delta(t, m0, m1, appSeries("cache_requests_total", harness.HMSAppID, "result", "hit"), 1)
	harness.Delta(t, m0, m1, appSeries("huawei_fetches_total", harness.HMSAppID, "outcome", "success"), 1)
	harness.Delta(t, m0, m1, appSeries("huawei_fetch_duration_seconds_count", harness.HMSAppID, "outcome", "success"), 1)
	if left := harness.Sample(t, m1, `caddy_sinch_hms_token_seconds_left{hms_app="123456789"}`); left < 3500 || left > 3600 {
		t.Errorf("seconds left = %v, want about 3600", left)
	}

	// rejections by reason
	post(harness.Mint(t, func(p *sinchauth.MintParams) { p.Secret = []byte("wrong secret") })).WantError(t, http.StatusUnauthorized, "invalid_client")
	post(replayable).WantError(t, http.StatusUnauthorized, "invalid_client")
	harness.PostForm(t, tester.Client, harness.TokenURL, "grant_type=client_credentials&grant_type=x").WantError(t, http.StatusBadRequest, "invalid_request")
	// Huawei refuses the second application's credentials
	post(harness.Mint(t, forHMSApp(testRejectedHMSApp))).WantError(t, http.StatusBadGateway, "server_error")
	m2 := harness.Metrics(t)
	harness.Delta(t, m1, m2, rejectionsSeries("bad_signature"), 1)
	harness.Delta(t, m1, m2, rejectionsSeries("replayed_nonce"), 1)
	harness.Delta(t, m1, m2, rejectionsSeries("malformed_request"), 1)
	harness.Delta(t, m1, m2, rejectionsSeries("huawei_rejected"), 1)
	harness.Delta(t, m1, m2, requestsSeries("client_assertion", "rejected"), 2)
	harness.Delta(t, m1, m2, requestsSeries("none", "rejected"), 1)
	harness.Delta(t, m1, m2, requestsSeries("client_assertion", "failed"), 1)
	harness.Delta(t, m1, m2, appSeries("huawei_fetches_total", testRejectedHMSApp, "outcome", "rejected"), 1)
	harness.Delta(t, m1, m2, appSeries("cache_requests_total", testRejectedHMSApp, "result", "miss"), 1)

	// Huawei down: a stale token is served for the first app... (refresh
	// forced through the admin API so no clock needs to move)
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: "down"})
	adminPost(t, "/sinch_hms/refresh?hms_app="+harness.HMSAppID, http.StatusBadGateway)
	m3 := harness.Metrics(t)
	harness.Delta(t, m2, m3, appSeries("huawei_fetches_total", harness.HMSAppID, "outcome", "unavailable"), 1)
	harness.Delta(t, m2, m3, appSeries("huawei_fetch_duration_seconds_count", harness.HMSAppID, "outcome", "unavailable"), 1)
}

func TestMetricsSurviveReload(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	m1 := harness.Metrics(t)

	// A reload registers the same collectors in a new registry: no panic,
	// no reset; the counters go on.
	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "clock_skew 30s"))
	m2 := harness.Metrics(t)
	series := requestsSeries("client_assertion", "issued")
	if harness.Sample(t, m2, series) != harness.Sample(t, m1, series) {
		t.Errorf("%s changed across a reload with no request: %v -> %v", series, m1[series], m2[series])
	}
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	m3 := harness.Metrics(t)
	harness.Delta(t, m2, m3, series, 1)
	harness.Delta(t, m2, m3, appSeries("cache_requests_total", harness.HMSAppID, "result", "hit"), 1)

	// An HMS application dropped from the config leaves the hms_app label.
	tester = harness.StartCaddy(t, twoAppSite(emu.URL, ""))
	if _, ok := harness.Metrics(t)[appSeries("huawei_fetches_total", testRejectedHMSApp, "outcome", "success")]; !ok {
		t.Fatalf("series of a configured HMS application missing")
	}
	harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	m4 := harness.Metrics(t)
	for k := range m4 {
		if strings.Contains(k, testRejectedHMSApp) {
			t.Errorf("series %s of an HMS application no longer configured is still exposed", k)
		}
	}
}

func TestDisableMetrics(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, "disable_metrics"))
	m1 := harness.Metrics(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, "x").WantError(t, http.StatusBadRequest, "invalid_request")
	m2 := harness.Metrics(t)
	for k, v := range m2 {
		if strings.HasPrefix(k, "caddy_sinch_hms_") && v != m1[k] {
			t.Errorf("with disable_metrics, %s moved from %v to %v", k, m1[k], v)
		}
	}
	if _, ok := m2[`caddy_sinch_hms_token_seconds_left{hms_app="123456789"}`]; ok {
		t.Errorf("with disable_metrics, token_seconds_left is exposed")
	}
}

// adminStatus is the decoded GET /sinch_hms/status.
type adminStatus struct {
	HMSApplications []struct {
		HMSApplicationID string     `json:"hms_application_id"`
		TokenCached      bool       `json:"token_cached"`
		TokenFetchedAt   *time.Time `json:"token_fetched_at"`
		TokenAgeSeconds  *int64     `json:"token_age_seconds"`
		TokenSecondsLeft *int64     `json:"token_seconds_left"`
		LastSuccessAt    *time.Time `json:"last_huawei_success_at"`
		LastError        *struct {
			At          time.Time `json:"at"`
			Kind        string    `json:"kind"`
			HTTPStatus  int       `json:"http_status"`
			Code        string    `json:"code"`
			Description string    `json:"description"`
			Cause       string    `json:"cause"`
			Host        string    `json:"host"`
			Detail      string    `json:"detail"`
		} `json:"last_huawei_error"`
	} `json:"hms_applications"`
	raw string
}

func getStatus(t *testing.T) adminStatus {
	t.Helper()
	resp, err := harness.Admin.Get(harness.AdminURL + "/sinch_hms/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sinch_hms/status: HTTP %d: %s", resp.StatusCode, sb.String())
	}
	st := adminStatus{raw: sb.String()}
	if err := json.Unmarshal([]byte(st.raw), &st); err != nil {
		t.Fatalf("status is not JSON: %v: %s", err, st.raw)
	}
	return st
}

func adminPost(t *testing.T, path string, wantStatus int) string {
	t.Helper()
	resp, err := harness.Admin.Post(harness.AdminURL+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s: HTTP %d, want %d: %s", path, resp.StatusCode, wantStatus, sb.String())
	}
	return sb.String()
}

func TestAdminStatusAndRefresh(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, twoAppSite(emu.URL, ""))

	st := getStatus(t)
	if len(st.HMSApplications) != 2 || st.HMSApplications[0].HMSApplicationID != harness.HMSAppID ||
		st.HMSApplications[1].HMSApplicationID != testRejectedHMSApp {
		t.Fatalf("status lists %s, want both configured HMS applications in order", st.raw)
	}
	if a := st.HMSApplications[0]; a.TokenCached || a.TokenSecondsLeft != nil || a.LastError != nil || a.LastSuccessAt != nil {
		t.Errorf("before any request: %s", st.raw)
	}

	tok := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, forHMSApp(testRejectedHMSApp))).Encode()).
		WantError(t, http.StatusBadGateway, "server_error")
	st = getStatus(t)
	ok, bad := st.HMSApplications[0], st.HMSApplications[1]
	if !ok.TokenCached || ok.TokenSecondsLeft == nil || *ok.TokenSecondsLeft < 3500 || *ok.TokenSecondsLeft > 3600 ||
		ok.TokenAgeSeconds == nil || *ok.TokenAgeSeconds < 0 || *ok.TokenAgeSeconds > 60 || ok.LastSuccessAt == nil || ok.LastError != nil {
		t.Errorf("after a token was issued: %s", st.raw)
	}
	if bad.TokenCached || bad.LastError == nil || bad.LastError.Kind != "rejected" || bad.LastError.HTTPStatus != 400 ||
		bad.LastError.Code != "1101/20003" || bad.LastError.Description != "invalid client_id" || time.Since(bad.LastError.At) > time.Minute {
		t.Errorf("after Huawei refused the second app: %s", st.raw)
	}
	noSecrets(t, "status", st.raw, tok)

	// a forced refresh fetches a new token, which requests then get
	body := adminPost(t, "/sinch_hms/refresh?hms_app="+harness.HMSAppID, http.StatusOK)
	if !strings.Contains(body, `"refreshed": true`) {
		t.Errorf("refresh answer: %s", body)
	}
	if n := emu.CallsFor(harness.HMSAppID); n != 2 {
		t.Errorf("Huawei calls for the app after a forced refresh = %d, want 2", n)
	}
	issued := emu.IssuedTokens(harness.HMSAppID)
	fresh := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if fresh == tok || fresh != issued[len(issued)-1] {
		t.Errorf("after a forced refresh, requests should get the new token")
	}
	noSecrets(t, "refresh answer", body, tok, fresh)

	// a failed refresh (once the pause after the last one is over) keeps
	// serving the old token and says so
	clk.Advance(endpoint.ForcedRefreshPause)
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: 30 * time.Second})
	body = adminPost(t, "/sinch_hms/refresh?hms_app="+harness.HMSAppID, http.StatusBadGateway)
	if !strings.Contains(body, `"refreshed": false`) || !strings.Contains(body, `"kind": "unavailable"`) || !strings.Contains(body, `"http_status": 503`) {
		t.Errorf("failed refresh answer: %s", body)
	}
	if got := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode()).WantToken(t); got != fresh {
		t.Errorf("after a failed refresh the cached token should still be served")
	}
	noSecrets(t, "failed refresh answer", body, tok, fresh)

	// wrong method, unknown application
	if resp, err := harness.Admin.Get(harness.AdminURL + "/sinch_hms/refresh?hms_app=" + harness.HMSAppID); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /sinch_hms/refresh: %v %v, want 405", resp.StatusCode, err)
	}
	adminPost(t, "/sinch_hms/refresh?hms_app=nope", http.StatusNotFound)
}

// noSecrets fails if s holds a configured secret or one of the tokens.
func noSecrets(t *testing.T, what, s string, tokens ...string) {
	t.Helper()
	for _, secret := range append([]string{harness.SinchSecret, harness.HMSAppSecret, testRejectedSecret}, tokens...) {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("%s holds a secret or a token", what)
		}
	}
}
