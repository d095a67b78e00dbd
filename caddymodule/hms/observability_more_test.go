package hms

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
)

func TestForwardedRequestsCounted(t *testing.T) {
	emu := harness.NewHuawei(t)
	site := fmt.Sprintf(`
%s {
	route %s {
		sinch_hms {
			sinch_application %s %s
			hms_application %s %s
			huawei_token_url %s
			forward
		}
		respond "passed on" 200
	}
}
`, harness.Base, harness.TokenPath, harness.AppKey, harness.SinchSecret, harness.HMSAppID, harness.HMSAppSecret, emu.URL)
	tester := harness.StartCaddy(t, site)
	m1 := harness.Metrics(t)
	a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode())
	if a.Status != http.StatusOK || a.Raw != "passed on" {
		t.Fatalf("forward mode answer: %d %s", a.Status, a.Raw)
	}
	m2 := harness.Metrics(t)
	harness.Delta(t, m1, m2, requestsSeries("client_assertion", "forwarded"), 1)
	harness.Delta(t, m1, m2, requestsSeries("client_assertion", "issued"), 0)
	harness.Delta(t, m1, m2, appSeries("huawei_fetches_total", harness.HMSAppID, "outcome", "success"), 0)
}

func TestStatusSurvivesReload(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, twoAppSite(emu.URL, ""))
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, forHMSApp(testRejectedHMSApp))).Encode()).
		WantError(t, http.StatusBadGateway, "server_error")

	harness.StartCaddy(t, twoAppSite(emu.URL, "clock_skew 30s"))
	st := getStatus(t)
	if len(st.HMSApplications) != 2 {
		t.Fatalf("status after reload: %s", st.raw)
	}
	if ok := st.HMSApplications[0]; !ok.TokenCached || ok.LastSuccessAt == nil {
		t.Errorf("after a reload the cached token and last success should still show: %s", st.raw)
	}
	if bad := st.HMSApplications[1]; bad.LastError == nil || bad.LastError.Code != "1101/20003" {
		t.Errorf("after a reload the last Huawei error should still show: %s", st.raw)
	}
}

func TestCaddyfileDisableMetrics(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("sinch_hms {\n sinch_application k " + harness.SinchSecret + "\n hms_application 1 s\n disable_metrics\n}")); err != nil || !h.DisableMetrics {
		t.Fatalf("disable_metrics: err %v, DisableMetrics %v", err, h.DisableMetrics)
	}
	for _, src := range []string{"sinch_hms {\n disable_metrics yes\n}", "sinch_hms {\n disable_metrics\n disable_metrics\n}"} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}
