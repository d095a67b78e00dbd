package hms

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
)

// upstreamRecorder is the service behind reverse_proxy in forward mode.
type upstreamRecorder struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	header http.Header
	body   string
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, recorded{header: r.Header.Clone(), body: string(body)})
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"access_token":"from-upstream","expires_in":100,"token_type":"Bearer"}`)
}

func (u *upstreamRecorder) seen() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.requests...)
}

func TestForwardMode(t *testing.T) {
	up := &upstreamRecorder{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
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
		reverse_proxy %s {
			header_up X-Sinch-Flow {sinch_hms.flow}
			header_up X-Sinch-Application-Key {sinch_hms.application_key}
			header_up X-HMS-Application-Id {sinch_hms.hms_application_id}
			header_up X-Auth-User {http.auth.user.id}
		}
	}
}
`, harness.Base, harness.TokenPath, harness.AppKey, harness.SinchSecret, harness.HMSAppID, harness.HMSAppSecret, emu.URL, srv.URL)
	tester := harness.StartCaddy(t, site)

	// Invalid requests never reach the upstream.
	harness.PostForm(t, tester.Client, harness.TokenURL, "grant_type=client_credentials").WantError(t, http.StatusUnauthorized, "invalid_client")
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm("x.y.z").Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	if n := len(up.seen()); n != 0 {
		t.Fatalf("upstream saw %d invalid requests, want 0", n)
	}

	assertion := harness.Mint(t)
	a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(assertion).Encode())
	if a.Status != http.StatusOK || a.Body["access_token"] != "from-upstream" {
		t.Fatalf("forwarded answer = %d %s", a.Status, a.Raw)
	}
	seen := up.seen()
	if len(seen) != 1 {
		t.Fatalf("upstream saw %d requests, want 1", len(seen))
	}
	got := seen[0]
	for h, want := range map[string]string{
		"X-Sinch-Flow":            "client_assertion",
		"X-Sinch-Application-Key": harness.AppKey,
		"X-Hms-Application-Id":    harness.HMSAppID,
		"X-Auth-User":             harness.HMSAppID,
	} {
		if v := got.header.Get(h); v != want {
			t.Errorf("upstream header %s = %q, want %q", h, v, want)
		}
	}
	if strings.Contains(got.body, assertion) || strings.Contains(got.body, "client_assertion") {
		t.Errorf("the assertion was passed on to the upstream: %q", got.body)
	}
	form, err := url.ParseQuery(got.body)
	if err != nil || form.Get("grant_type") != "client_credentials" || form.Get("hms_application_id") != harness.HMSAppID {
		t.Errorf("upstream body = %q, want grant_type and hms_application_id", got.body)
	}
	if emu.Calls() != 0 {
		t.Errorf("forward mode called Huawei %d times, want 0", emu.Calls())
	}
}
