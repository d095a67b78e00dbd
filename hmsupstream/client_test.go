package hmsupstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

const (
	appID  = "101234567"
	secret = "Ab+cD/eF=gH+/==" // must survive form encoding
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*huaweitest.Server, *Client) {
	t.Helper()
	s := huaweitest.NewServer()
	t.Cleanup(s.Close)
	s.AddApp(appID, secret)
	return s, &Client{TokenURL: s.URL, Timeout: 2 * time.Second, Now: func() time.Time { return t0 }}
}

var cred = Credentials{AppID: appID, AppSecret: secret}

// upstreamErr asserts err is an *UpstreamError of kind and holds no secret.
func upstreamErr(t *testing.T, err error, kind tokencache.ErrorKind) *tokencache.UpstreamError {
	t.Helper()
	var ue *tokencache.UpstreamError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want *UpstreamError", err, err)
	}
	if ue.Kind != kind || tokencache.KindOf(err) != kind {
		t.Fatalf("kind = %v, want %v (err %v)", ue.Kind, kind, err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(ue.Description, secret) || strings.Contains(ue.Code, secret) {
		t.Fatalf("error leaks the secret: %v", err)
	}
	t.Logf("error: %v", err)
	return ue
}

func TestFetchTokenSuccess(t *testing.T) {
	s, c := setup(t)
	tok, err := c.FetchToken(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	issued := s.IssuedTokens(appID)
	if len(issued) != 1 || tok.AccessToken != issued[0] {
		t.Fatalf("token %q, issued %q", tok.AccessToken, issued)
	}
	if !strings.ContainsAny(tok.AccessToken, "+") || !strings.Contains(tok.AccessToken, "/") || !strings.HasSuffix(tok.AccessToken, "==") {
		t.Fatalf("token lost its +/= characters: %q", tok.AccessToken)
	}
	if !tok.ExpiresAt.Equal(t0.Add(time.Hour)) || !tok.FetchedAt.Equal(t0) {
		t.Fatalf("ExpiresAt %v FetchedAt %v", tok.ExpiresAt, tok.FetchedAt)
	}
	s.SetExpiresIn(120)
	tok, err = c.FetchToken(context.Background(), cred)
	if err != nil || !tok.ExpiresAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("expires_in 120: %v %v", tok.ExpiresAt, err)
	}
	if s.CallsFor(appID) != 2 {
		t.Fatalf("CallsFor = %d", s.CallsFor(appID))
	}
}

func TestFetchTokenRequestShape(t *testing.T) {
	var got *http.Request
	var form map[string][]string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got, form = r, r.PostForm
		w.Write([]byte(`{"access_token":"x","expires_in":"3600","token_type":"Bearer"}`))
	}))
	defer ts.Close()
	c := &Client{TokenURL: ts.URL, Now: func() time.Time { return t0 }}
	tok, err := c.FetchToken(context.Background(), cred)
	if err != nil || !tok.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("numeric-string expires_in: %v %v", tok, err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || got.Header.Get("Accept") != "application/json" {
		t.Fatalf("request: %s %v", got.Method, got.Header)
	}
	if form["client_secret"][0] != secret || form["client_id"][0] != appID || form["grant_type"][0] != "client_credentials" || len(form) != 3 {
		t.Fatalf("form: %v", form)
	}
}

func TestWrongSecretRejected(t *testing.T) {
	_, c := setup(t)
	_, err := c.FetchToken(context.Background(), Credentials{AppID: appID, AppSecret: secret + "x"})
	ue := upstreamErr(t, err, tokencache.KindRejected)
	if ue.Code != "1101/20173" || ue.StatusCode != 400 || ue.Description != "invalid client_secret" {
		t.Fatalf("%+v", ue)
	}
	if strings.Contains(err.Error(), secret+"x") {
		t.Fatal("leaks the wrong secret")
	}
}

func TestUnknownAppRejected(t *testing.T) {
	_, c := setup(t)
	_, err := c.FetchToken(context.Background(), Credentials{AppID: "999", AppSecret: secret})
	if ue := upstreamErr(t, err, tokencache.KindRejected); ue.Code != "1101/20003" {
		t.Fatalf("%+v", ue)
	}
}

func TestErrorCodeAsString(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 401,
		Body: `{"error":"1101","sub_error":"20171","error_description":"invalid client_secret"}`})
	_, err := c.FetchToken(context.Background(), cred)
	if ue := upstreamErr(t, err, tokencache.KindRejected); ue.Code != "1101/20171" || ue.StatusCode != 401 {
		t.Fatalf("%+v", ue)
	}
}

func TestThrottled(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: 30 * time.Second})
	_, err := c.FetchToken(context.Background(), cred)
	ue := upstreamErr(t, err, tokencache.KindUnavailable)
	if ue.StatusCode != 503 || ue.RetryAfter != 30*time.Second || tokencache.RetryAfterOf(err) != 30*time.Second {
		t.Fatalf("%+v", ue)
	}
}

func TestBuiltInRateLimit(t *testing.T) {
	s, c := setup(t)
	s.SetRateLimit(1, 5*time.Minute)
	if _, err := c.FetchToken(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	_, err := c.FetchToken(context.Background(), cred)
	if ue := upstreamErr(t, err, tokencache.KindUnavailable); ue.StatusCode != 503 || ue.RetryAfter <= 0 {
		t.Fatalf("%+v", ue)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	_, c := setup(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", t0.Add(90*time.Second).Format(http.TimeFormat))
		w.WriteHeader(429)
	}))
	defer ts.Close()
	c.TokenURL = ts.URL
	_, err := c.FetchToken(context.Background(), cred)
	if ue := upstreamErr(t, err, tokencache.KindUnavailable); ue.RetryAfter != 90*time.Second || ue.StatusCode != 429 {
		t.Fatalf("%+v", ue)
	}
}

func TestServerErrorUnavailable(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "<html>oops</html>"})
	_, err := c.FetchToken(context.Background(), cred)
	if ue := upstreamErr(t, err, tokencache.KindUnavailable); ue.StatusCode != 500 {
		t.Fatalf("%+v", ue)
	}
}

func TestHangPastTimeout(t *testing.T) {
	s, c := setup(t)
	c.Timeout = 200 * time.Millisecond
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultHang})
	start := time.Now()
	_, err := c.FetchToken(context.Background(), cred)
	upstreamErr(t, err, tokencache.KindUnavailable)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v with a 200ms timeout", d)
	}
}

func TestSlowButWithinTimeout(t *testing.T) {
	s, c := setup(t)
	s.SetDelay(50 * time.Millisecond)
	if _, err := c.FetchToken(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedAnswers(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultMalformed})
	_, err := c.FetchToken(context.Background(), cred)
	upstreamErr(t, err, tokencache.KindUnavailable)

	for name, body := range map[string]string{
		"missing access_token": `{"expires_in":3600,"token_type":"Bearer"}`,
		"empty access_token":   `{"access_token":"","expires_in":3600}`,
		"missing expires_in":   `{"access_token":"CF+/x=="}`,
		"zero expires_in":      `{"access_token":"CF+/x==","expires_in":0}`,
		"negative expires_in":  `{"access_token":"CF+/x==","expires_in":-5}`,
		"junk expires_in":      `{"access_token":"CF+/x==","expires_in":"soon"}`,
		"huge expires_in":      `{"access_token":"CF+/x==","expires_in":1e300}`,
		"wrong token_type":     `{"access_token":"CF+/x==","expires_in":3600,"token_type":"MAC"}`,
		"not an object":        `["CF+/x=="]`,
		"html":                 `<html>maintenance</html>`,
		"too large":            `{"access_token":"CF+/x==","expires_in":3600,"pad":"` + strings.Repeat("a", 70<<10) + `"}`,
	} {
		s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 200, Body: body})
		_, err := c.FetchToken(context.Background(), cred)
		ue := upstreamErr(t, err, tokencache.KindUnavailable)
		if strings.Contains(err.Error(), "CF+/x==") {
			t.Errorf("%s: error leaks the token: %v", name, err)
		}
		_ = ue
	}
}

func TestConnectionReset(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultReset})
	_, err := c.FetchToken(context.Background(), cred)
	upstreamErr(t, err, tokencache.KindUnavailable)
	if s.Calls() != 1 {
		t.Fatalf("Calls = %d (a POST must not be retried)", s.Calls())
	}
}

func TestConnectionRefused(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	u := ts.URL
	ts.Close()
	c := &Client{TokenURL: u}
	_, err := c.FetchToken(context.Background(), cred)
	upstreamErr(t, err, tokencache.KindUnavailable)
}

// TestRedirectNotFollowed: a redirect would re-post the App secret to its
// target, here a Huawei emulator that would answer with a token. Not with
// the default client, nor with one the caller supplies: the 3xx is an
// upstream failure, as a 5xx.
func TestRedirectNotFollowed(t *testing.T) {
	for name, hc := range map[string]*http.Client{"default": nil, "caller's own": {Timeout: 2 * time.Second}} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			target, _ := setup(t)
			ts := httptest.NewServer(http.RedirectHandler(target.URL, status))
			c := &Client{TokenURL: ts.URL, HTTPClient: hc}
			_, err := c.FetchToken(context.Background(), cred)
			ts.Close()
			if ue := upstreamErr(t, err, tokencache.KindUnavailable); ue.StatusCode != status {
				t.Errorf("%s, %d: status %d in the error", name, status, ue.StatusCode)
			}
			if n := target.Calls(); n != 0 {
				t.Fatalf("%s, %d: the redirect target got %d requests: the secret was re-sent", name, status, n)
			}
		}
	}
}

func TestSecretEchoRedacted(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 400,
		Body: `{"error":1101,"sub_error":20173,"error_description":"bad secret ` + secret + `"}`})
	_, err := c.FetchToken(context.Background(), cred)
	ue := upstreamErr(t, err, tokencache.KindRejected)
	if !strings.Contains(ue.Description, "[redacted]") {
		t.Fatalf("description %q", ue.Description)
	}
}

func TestDescriptionTruncated(t *testing.T) {
	s, c := setup(t)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 403,
		Body: `{"error":1101,"error_description":"` + strings.Repeat("é", 500) + `"}`})
	_, err := c.FetchToken(context.Background(), cred)
	ue := upstreamErr(t, err, tokencache.KindRejected)
	if n := len([]rune(ue.Description)); n != 200 || ue.Code != "1101" {
		t.Fatalf("description %d runes, code %q", n, ue.Code)
	}
}

func TestOtherStatuses(t *testing.T) {
	s, c := setup(t)
	for status, kind := range map[int]tokencache.ErrorKind{
		404: tokencache.KindRejected,
		429: tokencache.KindUnavailable,
		502: tokencache.KindUnavailable,
		204: tokencache.KindUnavailable,
	} {
		s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: status})
		_, err := c.FetchToken(context.Background(), cred)
		if ue := upstreamErr(t, err, kind); ue.StatusCode != status {
			t.Errorf("%d: %+v", status, ue)
		}
	}
}

func TestMissingCredentials(t *testing.T) {
	s, c := setup(t)
	_, err := c.FetchToken(context.Background(), Credentials{AppID: appID})
	upstreamErr(t, err, tokencache.KindRejected)
	if s.Calls() != 0 {
		t.Fatal("sent a request without a secret")
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"":         0,
		"0":        0,
		"-3":       0,
		"120":      2 * time.Minute,
		"99999999": 24 * time.Hour,
		"soon":     0,
		t0.Add(-time.Minute).Format(http.TimeFormat): 0,
		t0.Add(time.Minute).Format(http.TimeFormat):  time.Minute,
	} {
		if got := parseRetryAfter(in, t0); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// The cache and the client together: a cold cache under 200 concurrent
// callers makes one call to Huawei.
func TestCacheSingleFlightAgainstEmulator(t *testing.T) {
	s, c := setup(t)
	c.Now = nil
	s.SetDelay(50 * time.Millisecond) // make the callers overlap
	cache := tokencache.New(tokencache.Config{RefreshBefore: 5 * time.Minute})
	f := c.Fetcher(cred)

	var wg sync.WaitGroup
	tokens := make([]string, 200)
	for i := range tokens {
		wg.Go(func() {
			res, err := cache.Get(context.Background(), appID, f)
			if err != nil {
				t.Errorf("Get: %v", err)
				return
			}
			tokens[i] = res.Token.AccessToken
		})
	}
	wg.Wait()
	if s.Calls() != 1 {
		t.Fatalf("emulator Calls = %d, want 1", s.Calls())
	}
	issued := s.IssuedTokens(appID)
	for i, tok := range tokens {
		if tok != issued[0] {
			t.Fatalf("caller %d got %q, want %q", i, tok, issued[0])
		}
	}
}

// A failed refresh serves the still-valid old token; a rejection with no
// token left surfaces as KindRejected.
func TestCacheStaleAgainstEmulator(t *testing.T) {
	s, c := setup(t)
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c.Now = clock
	cache := tokencache.New(tokencache.Config{RefreshBefore: 5 * time.Minute, Now: clock})
	f := c.Fetcher(cred)

	first, err := cache.Get(context.Background(), appID, f)
	if err != nil {
		t.Fatal(err)
	}
	advance(57 * time.Minute)
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: time.Minute})
	res, err := cache.Get(context.Background(), appID, f)
	if err != nil || res.Source != tokencache.SourceStale || res.Token.AccessToken != first.Token.AccessToken {
		t.Fatalf("stale: %+v %v", res, err)
	}
	advance(3 * time.Minute)
	s.SetFault(huaweitest.Fault{})
	s.AddApp(appID, "rotated")
	_, err = cache.Get(context.Background(), appID, f)
	if tokencache.KindOf(err) != tokencache.KindRejected || strings.Contains(err.Error(), secret) {
		t.Fatalf("expired + rejected: %v", err)
	}
}
