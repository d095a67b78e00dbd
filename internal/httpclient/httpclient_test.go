package httpclient_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
)

// redirecting starts a server whose every answer is a 307 to a second
// one, and returns its URL and the second server's request counter.
func redirecting(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"active":true}`))
	}))
	t.Cleanup(target.Close)
	src := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	t.Cleanup(src.Close)
	return src.URL, &hits
}

func TestNoRedirects(t *testing.T) {
	follows := func(*http.Request, []*http.Request) error { return nil }
	callers := map[string]*http.Client{
		"nil":                     nil,
		"zero":                    {},
		"a client that follows":   {CheckRedirect: follows, Timeout: 3 * time.Second},
		"http.DefaultClient copy": http.DefaultClient,
	}
	for name, c := range callers {
		t.Run(name, func(t *testing.T) {
			u, hits := redirecting(t)
			nc := httpclient.NoRedirects(c)
			resp, err := nc.Post(u, "application/x-www-form-urlencoded", nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusTemporaryRedirect || !httpclient.IsRedirect(resp.StatusCode) {
				t.Errorf("status %d, want the 307 itself", resp.StatusCode)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests", n)
			}
			if c != nil && c.Timeout != nc.Timeout {
				t.Errorf("timeout %v not kept (%v)", nc.Timeout, c.Timeout)
			}
		})
	}
	if http.DefaultClient.CheckRedirect != nil {
		t.Error("http.DefaultClient was changed")
	}
}

func TestIsRedirect(t *testing.T) {
	for status, want := range map[int]bool{200: false, 299: false, 300: true, 301: true, 307: true, 308: true, 399: true, 400: false} {
		if got := httpclient.IsRedirect(status); got != want {
			t.Errorf("IsRedirect(%d) = %v", status, got)
		}
	}
}
