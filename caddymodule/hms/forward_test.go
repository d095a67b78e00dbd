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
	emu := newHuawei(t)
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
`, testBase, testTokenPath, testAppKey, testSinchSecret, testHMSAppID, testHMSAppSecret, emu.URL, srv.URL)
	tester := startCaddy(t, site)

	// Invalid requests never reach the upstream.
	postForm(t, tester.Client, testTokenURL, "grant_type=client_credentials").WantError(t, http.StatusUnauthorized, "invalid_client")
	postForm(t, tester.Client, testTokenURL, assertionForm("x.y.z").Encode()).WantError(t, http.StatusUnauthorized, "invalid_client")
	if n := len(up.seen()); n != 0 {
		t.Fatalf("upstream saw %d invalid requests, want 0", n)
	}

	assertion := mint(t)
	a := postForm(t, tester.Client, testTokenURL, assertionForm(assertion).Encode())
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
		"X-Sinch-Application-Key": testAppKey,
		"X-Hms-Application-Id":    testHMSAppID,
		"X-Auth-User":             testHMSAppID,
	} {
		if v := got.header.Get(h); v != want {
			t.Errorf("upstream header %s = %q, want %q", h, v, want)
		}
	}
	if strings.Contains(got.body, assertion) || strings.Contains(got.body, "client_assertion") {
		t.Errorf("the assertion was passed on to the upstream: %q", got.body)
	}
	form, err := url.ParseQuery(got.body)
	if err != nil || form.Get("grant_type") != "client_credentials" || form.Get("hms_application_id") != testHMSAppID {
		t.Errorf("upstream body = %q, want grant_type and hms_application_id", got.body)
	}
	if emu.Calls() != 0 {
		t.Errorf("forward mode called Huawei %d times, want 0", emu.Calls())
	}
}
