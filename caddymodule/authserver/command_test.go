package authserver

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
)

// liveJWT matches an unredacted JWT in the CLI's output.
var liveJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{20,}\.`)

func TestTokenCheckAgainstAS(t *testing.T) {
	keys := harness.NewASKeys(t)
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+"}\n")
	for _, basic := range []bool{false, true} {
		var out bytes.Buffer
		tc := TokenCheck{TokenURL: harness.ASURL, ClientID: harness.ClientID, ClientSecret: harness.ClientSecret, Basic: basic, Client: tester.Client}
		ok, err := tc.Run(context.Background(), &out)
		if err != nil || !ok {
			t.Fatalf("basic=%v: ok=%v err=%v\n%s", basic, ok, err, out.String())
		}
		s := out.String()
		if !strings.Contains(s, "HTTP 200") || !strings.Contains(s, "token claims: iss="+harness.Base) || !strings.Contains(s, "redacted") {
			t.Errorf("output:\n%s", s)
		}
		if liveJWT.MatchString(s) || strings.Contains(s, harness.ClientSecret) {
			t.Errorf("output holds a live token or the secret:\n%s", s)
		}
	}

	var out bytes.Buffer
	tc := TokenCheck{TokenURL: harness.ASURL, ClientID: harness.ClientID, ClientSecret: "wrong", Client: tester.Client}
	ok, err := tc.Run(context.Background(), &out)
	if err != nil || ok || !strings.Contains(out.String(), "HTTP 401") || !strings.Contains(out.String(), "invalid_client") {
		t.Errorf("wrong secret: ok=%v err=%v\n%s", ok, err, out.String())
	}
}

func TestTokenCheckFlags(t *testing.T) {
	for name, tc := range map[string]TokenCheck{
		"no token url":     {ClientID: "a", ClientSecret: "b"},
		"no secret":        {TokenURL: "http://x", ClientID: "a"},
		"fcm without num":  {TokenURL: "http://x", ClientID: "a", ClientSecret: "b", FCMURL: "http://y"},
		"hms without app":  {TokenURL: "http://x", ClientID: "a", ClientSecret: "b", HMSURL: "http://y"},
		"app without url":  {TokenURL: "http://x", ClientID: "a", ClientSecret: "b", HMSAppID: "1"},
		"project, no url:": {TokenURL: "http://x", ClientID: "a", ClientSecret: "b", FCMProject: "1"},
	} {
		if _, err := tc.Run(context.Background(), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRedactAnswer(t *testing.T) {
	got := redactAnswer(`{"access_token":"ya29.a0AfB_secret-part-of-the-token","expires_in":3599,"token_type":"Bearer"}`)
	if strings.Contains(got, "secret-part") || !strings.Contains(got, "ya29.a") || !strings.Contains(got, `"expires_in":3599`) {
		t.Errorf("got %s", got)
	}
	if got := redactAnswer(`{"error":"invalid_client"}`); got != `{"error":"invalid_client"}` {
		t.Errorf("error answer changed: %s", got)
	}
	if got := redactToken("short"); strings.Contains(got, "short") {
		t.Errorf("short token shown: %s", got)
	}
}

// TestTokenCheckFollowsNoRedirect: an endpoint answering 307 is reported,
// not followed: the client secret is never re-posted elsewhere.
func TestTokenCheckFollowsNoRedirect(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	tc := &TokenCheck{TokenURL: redirect.URL, ClientID: "sinch", ClientSecret: "a-secret-of-20-chars"}
	status, _, err := tc.post(context.Background(), redirect.URL, "grant_type=client_credentials", "")
	if err != nil || status != http.StatusTemporaryRedirect {
		t.Errorf("post = %d, %v; want the 307 itself", status, err)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}
