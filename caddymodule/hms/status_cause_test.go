package hms

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// TestStatusShowsFailureCause: after a fetch that failed, the admin status
// says why, as an operator looks for it: the cause (refused, dns, tls,
// timeout, http), the token URL's host[:port] and a few words of detail;
// for an HTTP failure Huawei's status and codes. Never a secret, nor the
// token URL's query.
func TestStatusShowsFailureCause(t *testing.T) {
	const query = "?tenant=must-not-show"
	closedPort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	tlsEmu := huaweitest.NewEmulator()
	tlsEmu.AddApp(harness.HMSAppID, harness.HMSAppSecret)
	tlsServer := httptest.NewTLSServer(tlsEmu) // its certificate is not trusted by the client
	t.Cleanup(tlsServer.Close)
	tlsHost := strings.TrimPrefix(tlsServer.URL, "https://")

	for _, tc := range []struct {
		name       string
		url        func(t *testing.T) string // the token URL
		cause      string
		host       string // "" = the host of url
		detail     string // a substring of detail
		httpStatus int
		code       string
	}{
		{name: "refused", cause: "refused", host: closedPort, detail: "connection refused",
			url: func(*testing.T) string { return "http://" + closedPort + huaweitest.TokenPath + query }},
		{name: "dns", cause: "dns", host: "nonexistent.invalid", detail: "no such host",
			url: func(*testing.T) string { return "http://nonexistent.invalid" + huaweitest.TokenPath + query }},
		{name: "tls", cause: "tls", host: tlsHost, detail: "unknown authority",
			url: func(*testing.T) string { return tlsServer.URL + huaweitest.TokenPath + query }},
		{name: "timeout", cause: "timeout", detail: "timed out",
			url: func(t *testing.T) string {
				t.Cleanup(testhook.SetUpstreamTimeout(300 * time.Millisecond))
				emu := harness.NewHuawei(t)
				emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultHang})
				return emu.URL + query
			}},
		{name: "http", cause: "http", detail: "HTTP 400", httpStatus: 400, code: "1101/20173",
			url: func(t *testing.T) string {
				emu := huaweitest.NewServer()
				emu.AddApp(harness.HMSAppID, "the secret Huawei knows")
				t.Cleanup(emu.Close)
				return emu.URL + query
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokenURL := tc.url(t)
			harness.StartCaddy(t, harness.HMSSite(tokenURL, ""))
			adminPost(t, "/sinch_hms/refresh?hms_app="+harness.HMSAppID, http.StatusBadGateway)
			st := getStatus(t)
			if len(st.HMSApplications) != 1 || st.HMSApplications[0].LastError == nil {
				t.Fatalf("status after a failed fetch: %s", st.raw)
			}
			f := st.HMSApplications[0].LastError
			host := tc.host
			if host == "" {
				host = strings.SplitN(tokenURL, "/", 4)[2]
			}
			if f.Cause != tc.cause || f.Host != host || !strings.Contains(f.Detail, tc.detail) {
				t.Errorf("last_huawei_error: cause %q host %q detail %q; want %q, %q, detail with %q:\n%s",
					f.Cause, f.Host, f.Detail, tc.cause, host, tc.detail, st.raw)
			}
			if f.HTTPStatus != tc.httpStatus || f.Code != tc.code || f.Kind == "" {
				t.Errorf("last_huawei_error: kind %q http_status %d code %q; want http_status %d code %q:\n%s",
					f.Kind, f.HTTPStatus, f.Code, tc.httpStatus, tc.code, st.raw)
			}
			noSecrets(t, "status", st.raw)
			if strings.Contains(st.raw, "must-not-show") || strings.Contains(st.raw, huaweitest.TokenPath) {
				t.Errorf("status shows the token URL's path or query:\n%s", st.raw)
			}
		})
	}
}
