package huaweitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	appID  = "101234567"
	secret = "s3cr+t/with=chars=="
)

type answer struct {
	status  int
	header  http.Header
	body    map[string]any
	rawBody string
}

func post(t *testing.T, u, contentType, body string) answer {
	t.Helper()
	resp, err := http.Post(u, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, rawBody: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func form(id, sec string) string {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec}}.Encode()
}

const formCT = "application/x-www-form-urlencoded"

func wantError(t *testing.T, a answer, status int, code, sub float64) {
	t.Helper()
	if a.status != status || a.body["error"] != code || a.body["sub_error"] != sub {
		t.Fatalf("answer %d %s, want %d error %v/%v", a.status, a.rawBody, status, code, sub)
	}
}

func TestEmulatorProtocol(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddApp(appID, secret)

	a := post(t, s.URL, formCT+"; charset=utf-8", form(appID, secret))
	if a.status != 200 || a.header.Get("Content-Type") != "application/json;charset=UTF-8" {
		t.Fatalf("success answer: %d %v %s", a.status, a.header, a.rawBody)
	}
	tok, _ := a.body["access_token"].(string)
	if !strings.HasPrefix(tok, "CF+/") || !strings.HasSuffix(tok, "==") || a.body["expires_in"] != 3600.0 || a.body["token_type"] != "Bearer" {
		t.Fatalf("success body: %s", a.rawBody)
	}
	if got := s.IssuedTokens(appID); len(got) != 1 || got[0] != tok {
		t.Fatalf("IssuedTokens = %v", got)
	}

	// the secret sent without form-encoding: '+' decodes to ' ' -> wrong secret
	raw := "grant_type=client_credentials&client_id=" + appID + "&client_secret=" + secret
	wantError(t, post(t, s.URL, formCT, raw), 400, 1101, 20173)
	wantError(t, post(t, s.URL, formCT, form(appID, "nope")), 400, 1101, 20173)
	wantError(t, post(t, s.URL, formCT, form("999", secret)), 400, 1101, 20003)
	wantError(t, post(t, s.URL, formCT, form("abc", secret)), 400, 1101, 20002)
	wantError(t, post(t, s.URL, "application/json", `{}`), 400, 1102, 20001)
	wantError(t, post(t, s.URL, formCT, "client_id=%zz"), 400, 1102, 20001)
	wantError(t, post(t, s.URL, formCT, form(appID, secret)+"&client_id="+appID), 400, 1102, 20001)
	wantError(t, post(t, s.URL, formCT, strings.Replace(form(appID, secret), "client_credentials", "password", 1)), 400, 1101, 20182)

	resp, err := http.Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}

	s.SetExpiresIn(60)
	if a := post(t, s.URL, formCT, form(appID, secret)); a.body["expires_in"] != 60.0 {
		t.Fatalf("SetExpiresIn: %s", a.rawBody)
	}
	if s.Calls() != 11 || s.CallsFor(appID) != 5 {
		t.Fatalf("Calls = %d, CallsFor = %d", s.Calls(), s.CallsFor(appID))
	}
}

func TestEmulatorRateLimit(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddApp(appID, secret)
	s.AddApp("102", "other")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	s.SetRateLimit(3, 5*time.Minute)

	for i := range 3 {
		if a := post(t, s.URL, formCT, form(appID, secret)); a.status != 200 {
			t.Fatalf("token %d: %d", i, a.status)
		}
	}
	a := post(t, s.URL, formCT, form(appID, secret))
	if a.status != 503 || a.header.Get("Retry-After") != "300" {
		t.Fatalf("over the limit: %d %v", a.status, a.header)
	}
	if a := post(t, s.URL, formCT, form("102", "other")); a.status != 200 {
		t.Fatalf("other app throttled: %d", a.status)
	}
	mu.Lock()
	now = now.Add(5 * time.Minute)
	mu.Unlock()
	if a := post(t, s.URL, formCT, form(appID, secret)); a.status != 200 {
		t.Fatalf("after the window: %d", a.status)
	}
}

func TestEmulatorConcurrentCounting(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddApp(appID, secret)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { post(t, s.URL, formCT, form(appID, secret)) })
	}
	wg.Wait()
	if s.Calls() != 50 || s.CallsFor(appID) != 50 || len(s.IssuedTokens(appID)) != 50 {
		t.Fatalf("Calls = %d, CallsFor = %d, issued = %d", s.Calls(), s.CallsFor(appID), len(s.IssuedTokens(appID)))
	}
}

func TestEmulatorHangRelease(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.AddApp(appID, secret)
	s.SetFault(Fault{Kind: FaultHang})
	done := make(chan answer, 1)
	go func() { done <- post(t, s.URL, formCT, form(appID, secret)) }()
	for s.Calls() == 0 { // wait for the request to arrive
		time.Sleep(time.Millisecond)
	}
	select {
	case a := <-done:
		t.Fatalf("answered while hanging: %d", a.status)
	case <-time.After(20 * time.Millisecond):
	}
	s.Release()
	if a := <-done; a.status != 200 {
		t.Fatalf("after Release: %d %s", a.status, a.rawBody)
	}
}

func TestHandlerMountable(t *testing.T) {
	em := Handler()
	em.AddApp(appID, secret)
	var h http.Handler = em
	req, _ := http.NewRequest(http.MethodPost, "/anywhere", strings.NewReader(form(appID, secret)))
	req.Header.Set("Content-Type", formCT)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || em.Calls() != 1 {
		t.Fatalf("status %d calls %d", rec.Code, em.Calls())
	}
}
