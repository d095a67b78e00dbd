package hmsupstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// TestCauseOf fetches from real failing endpoints and classifies the
// errors FetchToken returns.
func TestCauseOf(t *testing.T) {
	const query = "?tenant=must-not-show"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	emu := huaweitest.NewServer()
	t.Cleanup(emu.Close)
	emu.AddApp(appID, "another secret")

	tlsSrv := httptest.NewTLSServer(huaweitest.NewEmulator())
	t.Cleanup(tlsSrv.Close)
	// A TLS server whose certificate is for another name, trusted otherwise.
	wrongName := httptest.NewTLSServer(huaweitest.NewEmulator())
	t.Cleanup(wrongName.Close)

	hang := huaweitest.NewServer()
	t.Cleanup(hang.Close)
	hang.SetFault(huaweitest.Fault{Kind: huaweitest.FaultHang})

	malformed := huaweitest.NewServer()
	t.Cleanup(malformed.Close)
	malformed.SetFault(huaweitest.Fault{Kind: huaweitest.FaultMalformed})

	reset := huaweitest.NewServer()
	t.Cleanup(reset.Close)
	reset.SetFault(huaweitest.Fault{Kind: huaweitest.FaultReset})

	// A server that speaks neither TLS nor HTTP (what answers on a wrong
	// port). (A plain-HTTP server asked with https:// is reported by
	// net/http as an untyped error: CauseOther.)
	notTLS, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { notTLS.Close() })
	go func() {
		for {
			conn, err := notTLS.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			conn.Close()
		}
	}()

	for _, tc := range []struct {
		name, url string
		client    *http.Client
		want      Cause
		detail    string // substring of Detail (want.Detail is not compared)
	}{
		{name: "refused", url: "http://" + closed + huaweitest.TokenPath + query,
			want: Cause{Kind: CauseRefused, Host: closed}, detail: "connection refused"},
		{name: "dns", url: "http://nonexistent.invalid:8443" + huaweitest.TokenPath + query,
			want: Cause{Kind: CauseDNS, Host: "nonexistent.invalid:8443"}, detail: "no such host"},
		{name: "tls untrusted", url: tlsSrv.URL + huaweitest.TokenPath + query,
			want: Cause{Kind: CauseTLS, Host: HostOf(tlsSrv.URL)}, detail: "unknown authority"},
		{name: "tls wrong name", url: strings.Replace(wrongName.URL, "127.0.0.1", "localhost", 1) + huaweitest.TokenPath,
			client: wrongName.Client(), want: Cause{Kind: CauseTLS, Host: strings.Replace(HostOf(wrongName.URL), "127.0.0.1", "localhost", 1)},
			detail: "not valid for localhost"},
		{name: "not tls", url: "https://" + notTLS.Addr().String() + huaweitest.TokenPath + query,
			want: Cause{Kind: CauseTLS, Host: notTLS.Addr().String()}, detail: "did not answer in TLS"},
		{name: "timeout", url: hang.URL + query,
			want: Cause{Kind: CauseTimeout, Host: HostOf(hang.URL)}, detail: "timed out"},
		{name: "http 400", url: emu.URL + query,
			want: Cause{Kind: CauseHTTP, StatusCode: 400, Code: "1101/20173"}, detail: "HTTP 400 Bad Request, error 1101/20173"},
		{name: "http 200 malformed", url: malformed.URL,
			want: Cause{Kind: CauseHTTP, StatusCode: 200}, detail: "HTTP 200 OK: malformed JSON answer"},
		{name: "reset", url: reset.URL,
			want: Cause{Kind: CauseOther, Host: HostOf(reset.URL)}, detail: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := 5 * time.Second // a TLS handshake under -race takes a while
			if tc.want.Kind == CauseTimeout {
				timeout = 300 * time.Millisecond
			}
			c := &Client{TokenURL: tc.url, Timeout: timeout, HTTPClient: tc.client}
			if tc.client != nil {
				tc.client.Timeout = timeout
			}
			_, err := c.FetchToken(context.Background(), cred)
			if err == nil {
				t.Fatal("no error")
			}
			got := CauseOf(err)
			detail := got.Detail
			got.Detail = ""
			if got != tc.want || !strings.Contains(detail, tc.detail) || detail == "" {
				t.Fatalf("CauseOf(%v) = %+v, detail %q; want %+v, detail with %q", err, got, detail, tc.want, tc.detail)
			}
			for _, s := range []string{secret, url.QueryEscape(secret), "must-not-show", "client_secret"} {
				if strings.Contains(detail, s) || strings.Contains(got.Host, s) || strings.Contains(err.Error(), secret) {
					t.Fatalf("cause %+v (detail %q) or error %v holds %q", got, detail, err, s)
				}
			}
			t.Logf("%s: %s (%s)", got.Kind, detail, got.Host)
		})
	}
}

func TestCauseOfWrappedAndPlainErrors(t *testing.T) {
	if got := CauseOf(nil); got != (Cause{}) {
		t.Errorf("CauseOf(nil) = %+v", got)
	}
	// The cache's outer deadline, with no HTTP error around it.
	if got := CauseOf(fmt.Errorf("fetch: %w", context.DeadlineExceeded)); got.Kind != CauseTimeout {
		t.Errorf("deadline: %+v", got)
	}
	if got := CauseOf(context.Canceled); got.Kind != CauseOther || got.Detail != "canceled" {
		t.Errorf("canceled: %+v", got)
	}
	// A redacted error keeps no chain: classified, without its text.
	redacted := redact(&tokencache.UpstreamError{Kind: tokencache.KindUnavailable,
		Err: errors.New("echo " + secret)}, secret)
	if got := CauseOf(redacted); got.Kind != CauseOther || strings.Contains(got.Detail, secret) || strings.Contains(got.Detail, "redacted") {
		t.Errorf("redacted: %+v", got)
	}
	if got := HostOf("https://user:pw@oauth-login.cloud.huawei.com/oauth2/v3/token?x=1"); got != "oauth-login.cloud.huawei.com" {
		t.Errorf("HostOf = %q", got)
	}
}
