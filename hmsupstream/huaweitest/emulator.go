// Package huaweitest emulates Huawei's OAuth 2.0 token endpoint
// (https://oauth-login.cloud.huawei.com/oauth2/v3/token) for tests and demos:
// the client-credentials grant, Huawei's error answers with integer codes,
// its throttling, and faults (errors, hangs, broken answers, reset
// connections) injected on demand.
package huaweitest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// FaultKind selects an injected failure.
type FaultKind int

const (
	FaultNone      FaultKind = iota // answer normally
	FaultStatus                     // answer Fault.Status with Fault.Body
	FaultThrottle                   // 503 with Retry-After (Fault.RetryAfter, at least 1s)
	FaultHang                       // block until the request ends, Release or Close
	FaultMalformed                  // 200 with broken JSON
	FaultReset                      // hijack the connection and reset it
)

// Fault is an injected failure; it applies to every following request until
// SetFault(Fault{}) resets it.
type Fault struct {
	Kind       FaultKind
	Status     int
	Body       string
	RetryAfter time.Duration
}

// DefaultExpiresIn is the expires_in of issued tokens unless SetExpiresIn.
const DefaultExpiresIn = 3600

const maxRequestBody = 64 << 10

// Emulator is the token endpoint as an http.Handler; mount it anywhere
// (Server wraps it in an httptest.Server). All methods are safe for
// concurrent use.
type Emulator struct {
	mu         sync.Mutex
	apps       map[string]string // app ID -> secret
	calls      int
	callsFor   map[string]int
	issued     map[string][]string
	fault      Fault
	expiresIn  int
	delay      time.Duration
	rateN      int
	rateWindow time.Duration
	rateLog    map[string][]time.Time // app ID -> issue times within the window
	now        func() time.Time
	release    chan struct{} // closed by Release to free hanging requests
	closed     chan struct{} // closed by Close
	closeOnce  sync.Once
}

// NewEmulator returns an emulator with no applications.
func NewEmulator() *Emulator {
	return &Emulator{
		apps:      make(map[string]string),
		callsFor:  make(map[string]int),
		issued:    make(map[string][]string),
		rateLog:   make(map[string][]time.Time),
		expiresIn: DefaultExpiresIn,
		now:       time.Now,
		release:   make(chan struct{}),
		closed:    make(chan struct{}),
	}
}

// Handler returns a new emulator to mount as an http.Handler (for instance
// in a demo's own server); configure it through its methods.
func Handler() *Emulator { return NewEmulator() }

// AddApp registers (or re-keys) an HMS application.
func (e *Emulator) AddApp(appID, appSecret string) {
	e.mu.Lock()
	e.apps[appID] = appSecret
	e.mu.Unlock()
}

// Calls returns the number of token requests received, whatever their outcome.
func (e *Emulator) Calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// CallsFor returns the number of token requests naming appID as client_id.
func (e *Emulator) CallsFor(appID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.callsFor[appID]
}

// SetFault injects f into every following request; SetFault(Fault{}) resets.
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	e.fault = f
	e.mu.Unlock()
}

// SetExpiresIn sets the expires_in of issued tokens (default 3600).
func (e *Emulator) SetExpiresIn(seconds int) {
	e.mu.Lock()
	e.expiresIn = seconds
	e.mu.Unlock()
}

// SetDelay adds latency before every answer (0 = none).
func (e *Emulator) SetDelay(d time.Duration) {
	e.mu.Lock()
	e.delay = d
	e.mu.Unlock()
}

// SetRateLimit throttles like Huawei: an application that already got n
// tokens within the last window is answered 503 with Retry-After.
// n <= 0 turns the limit off (the default).
func (e *Emulator) SetRateLimit(n int, window time.Duration) {
	e.mu.Lock()
	e.rateN, e.rateWindow = n, window
	e.rateLog = make(map[string][]time.Time)
	e.mu.Unlock()
}

// SetClock replaces the clock used by the rate limit (nil = time.Now).
func (e *Emulator) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	e.mu.Lock()
	e.now = now
	e.mu.Unlock()
}

// IssuedTokens returns the tokens issued to appID, oldest first.
func (e *Emulator) IssuedTokens(appID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued[appID]...)
}

// Release lets every request hanging now (FaultHang or SetDelay) go on and
// be answered normally; later requests hang again while the fault stays set.
func (e *Emulator) Release() {
	e.mu.Lock()
	close(e.release)
	e.release = make(chan struct{})
	e.mu.Unlock()
}

// Close makes hanging requests give up without an answer, for good.
func (e *Emulator) Close() {
	e.closeOnce.Do(func() { close(e.closed) })
}

// huaweiError is Huawei's error answer.
type huaweiError struct {
	Error       int    `json:"error"`
	SubError    int    `json:"sub_error,omitempty"`
	Description string `json:"error_description"`
}

// ServeHTTP answers one token request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, bodyErr := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	form, formErr := url.ParseQuery(string(body))

	e.mu.Lock()
	e.calls++
	if formErr == nil {
		if ids := form["client_id"]; len(ids) == 1 {
			e.callsFor[ids[0]]++
		}
	}
	fault, delay := e.fault, e.delay
	release := e.release
	e.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		if !e.wait(r, release, t.C) {
			return
		}
	}

	switch fault.Kind {
	case FaultStatus:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(fault.Status)
		io.WriteString(w, fault.Body)
		return
	case FaultThrottle:
		throttled(w, fault.RetryAfter)
		return
	case FaultHang:
		if !e.wait(r, release, nil) {
			return
		}
		// released: answer as if there were no fault
	case FaultMalformed:
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		io.WriteString(w, `{"access_token":"CF+/broken==","expires_in":36`)
		return
	case FaultReset:
		reset(w)
		return
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, 1102, 20001, "only POST is supported")
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeError(w, http.StatusBadRequest, 1102, 20001, "content type must be application/x-www-form-urlencoded")
		return
	}
	if bodyErr != nil || len(body) > maxRequestBody || formErr != nil {
		writeError(w, http.StatusBadRequest, 1102, 20001, "malformed request body")
		return
	}
	for k, v := range form {
		if len(v) != 1 {
			writeError(w, http.StatusBadRequest, 1102, 20001, "parameter "+k+" repeated")
			return
		}
	}
	if form.Get("grant_type") != "client_credentials" {
		writeError(w, http.StatusBadRequest, 1101, 20182, "invalid grant_type")
		return
	}
	appID, secret := form.Get("client_id"), form.Get("client_secret")

	e.mu.Lock()
	want, known := e.apps[appID]
	e.mu.Unlock()
	switch {
	case !known && !numeric(appID):
		writeError(w, http.StatusBadRequest, 1101, 20002, "invalid client_id")
		return
	case !known:
		writeError(w, http.StatusBadRequest, 1101, 20003, "invalid client_id")
		return
	case secret != want:
		writeError(w, http.StatusBadRequest, 1101, 20173, "invalid client_secret")
		return
	}

	tok, expiresIn, retry, ok := e.issue(appID)
	if !ok {
		throttled(w, retry)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}{tok, expiresIn, "Bearer"})
}

// issue mints a token for appID, or reports how long to wait when throttled.
func (e *Emulator) issue(appID string) (tok string, expiresIn int, retry time.Duration, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rateN > 0 {
		now := e.now()
		log := e.rateLog[appID]
		for len(log) > 0 && !log[0].After(now.Add(-e.rateWindow)) {
			log = log[1:]
		}
		e.rateLog[appID] = log
		if len(log) >= e.rateN {
			return "", 0, log[0].Add(e.rateWindow).Sub(now), false
		}
		e.rateLog[appID] = append(log, now)
	}
	tok = newToken()
	e.issued[appID] = append(e.issued[appID], tok)
	return tok, e.expiresIn, 0, true
}

// newToken returns a token shaped like Huawei's: standard base64 that always
// holds '+', '/' and '='.
func newToken() string {
	b := make([]byte, 31) // 31 bytes: base64 ends in "=="
	rand.Read(b)
	return "CF+/" + base64.StdEncoding.EncodeToString(b)
}

// wait blocks until done fires or the emulator is released (true: go on
// answering), or the request ends or the emulator is closed (false: give up).
func (e *Emulator) wait(r *http.Request, release chan struct{}, done <-chan time.Time) bool {
	select {
	case <-done:
		return true
	case <-release:
		return true
	case <-r.Context().Done():
	case <-e.closed:
	}
	return false
}

func writeError(w http.ResponseWriter, status, code, sub int, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(huaweiError{Error: code, SubError: sub, Description: desc})
}

func throttled(w http.ResponseWriter, retry time.Duration) {
	secs := max(int64((retry+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusServiceUnavailable, 1203, 0, "request frequency exceeds the limit")
}

// reset closes the connection with an RST instead of an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func numeric(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
