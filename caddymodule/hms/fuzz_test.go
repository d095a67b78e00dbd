package hms

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

const fuzzURL = "http://auth.example/sinch/rtc/push/oauth2/v1/huawei-hms/token"

// FuzzServeHTTP drives the whole handler path (form parsing, assertion
// checks, replay store, token cache, answer) with arbitrary requests, on a
// provisioned Handler with no Caddy server around it, against the Huawei
// emulator. Properties: no input panics or hangs; every answer is one of
// the contract's statuses with a JSON body; a 200 is only ever given for a
// request whose client_assertion carries the HMAC-SHA256 signature of the
// configured Sinch secret (recomputed here independently); an error answer
// never echoes the assertion.
func FuzzServeHTTP(f *testing.F) {
	emu := huaweitest.NewServer()
	f.Cleanup(emu.Close)
	emu.AddApp(harness.HMSAppID, harness.HMSAppSecret)
	now := time.Now()
	h := &Handler{
		SinchApplications: []SinchApplication{{ApplicationKey: harness.AppKey, Secrets: []string{harness.SinchSecret}}},
		HMSApplications:   []HMSApplication{{AppID: harness.HMSAppID, AppSecret: harness.HMSAppSecret}},
		HuaweiTokenURL:    emu.URL,
		now:               func() time.Time { return now },
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	f.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Cleanup() })
	quiet(h) // a log line per input would slow the fuzzer down to a crawl

	valid := func(opts ...harness.MintOpt) string {
		return harness.Mint(f, append([]harness.MintOpt{func(p *sinchauth.MintParams) { p.IssuedAt = now; p.Audience = fuzzURL }}, opts...)...)
	}
	other, _ := sinchauth.DecodeSecret(harness.OtherSecret)
	const form = "application/x-www-form-urlencoded"
	for _, seed := range []struct {
		method      byte
		contentType string
		auth        string
		body        string
	}{
		{0, form, "", harness.AssertionForm(valid()).Encode()},
		{0, form, "", harness.AssertionForm(valid(func(p *sinchauth.MintParams) { p.Secret = other })).Encode()},
		{0, form, "", harness.AssertionForm(valid(func(p *sinchauth.MintParams) { p.HMSApplicationID = "42" })).Encode()},
		{0, form, "", harness.AssertionForm("a.b.c").Encode()},
		{0, form, "Bearer x.y.z", "grant_type=client_credentials&hms_application_id=" + harness.HMSAppID},
		{0, form, "Bearer x", harness.AssertionForm(valid()).Encode()},
		{0, form, "", "grant_type=client_credentials&grant_type=client_credentials"},
		{0, form, "", "grant_type=password"},
		{0, "application/json", "", `{"grant_type":"client_credentials"}`},
		{0, form + "; charset=utf-8", "", "%zz=%"},
		{1, "", "", ""},
	} {
		f.Add(seed.method, seed.contentType, seed.auth, []byte(seed.body))
	}
	secret, _ := sinchauth.DecodeSecret(harness.SinchSecret)
	if code := serveOnce(h, harness.AssertionForm(valid()).Encode()); code != http.StatusOK {
		f.Fatalf("a valid request got %d: the property below would be vacuous", code)
	}
	allowed := map[int]bool{200: true, 400: true, 401: true, 405: true, 413: true, 503: true}

	f.Fuzz(func(t *testing.T, method byte, contentType, auth string, body []byte) {
		m := []string{http.MethodPost, http.MethodGet, http.MethodPut}[int(method)%3]
		req := httptest.NewRequest(m, fuzzURL, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		repl := caddy.NewReplacer()
		req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, repl))
		w := httptest.NewRecorder()
		done := make(chan error, 1)
		go func() {
			done <- h.ServeHTTP(w, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ServeHTTP returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ServeHTTP hung")
		}
		if !allowed[w.Code] {
			t.Fatalf("status %d", w.Code)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
		assertion := formValue(body, endpoint.ParamClientAssertion)
		if w.Code == http.StatusOK && !signedWith(assertion, secret) {
			t.Fatalf("200 for an assertion not signed with the configured secret")
		}
		if w.Code != http.StatusOK && len(assertion) >= 40 && strings.Contains(w.Body.String(), assertion) {
			t.Fatalf("error answer echoes the assertion")
		}
	})
}

// formValue returns the first value of name in a form body, or "".
func formValue(body []byte, name string) string {
	for _, pair := range strings.Split(string(body), "&") {
		k, v, _ := strings.Cut(pair, "=")
		if k == name {
			if s, err := url.QueryUnescape(v); err == nil {
				return s
			}
		}
	}
	return ""
}

// signedWith reports whether a compact JWS carries, in canonical base64url,
// the HMAC-SHA256 over header.payload with the key derived from secret for
// its kid's date.
func signedWith(assertion string, secret []byte) bool {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(raw, &hdr) != nil || !strings.HasPrefix(hdr.Kid, "hkdfv1-") {
		return false
	}
	mac := hmac.New(sha256.New, sinchauth.DeriveSigningKey(secret, strings.TrimPrefix(hdr.Kid, "hkdfv1-")))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) == parts[2]
}

// quiet silences h's refusal lines.
func quiet(h *Handler) {
	h.logger = zap.NewNop()
	h.record = meter.Recorder(h.logger, !h.DisableMetrics)
}

// serveOnce serves one form POST and returns the status.
func serveOnce(h *Handler, body string) int {
	req := httptest.NewRequest(http.MethodPost, fuzzURL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	return w.Code
}
