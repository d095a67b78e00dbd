package oauthresp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteToken(t *testing.T) {
	w := httptest.NewRecorder()
	if err := WriteToken(w, "CF+/abc==", 3599); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" ||
		w.Header().Get("Content-Type") != "application/json;charset=utf-8" {
		t.Errorf("answer %d %v", w.Code, w.Header())
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["access_token"] != "CF+/abc==" || got["expires_in"] != 3599.0 || got["token_type"] != "Bearer" || len(got) != 3 {
		t.Errorf("body %s", w.Body)
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	e := NewError(http.StatusServiceUnavailable, ErrTemporarilyUnavailable, "try %s", "later")
	e.RetryAfter = 1500 * time.Millisecond
	e.Reason = "internal-label"
	_ = WriteError(w, e)
	if w.Code != 503 || w.Header().Get("Retry-After") != "2" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("answer %d %v", w.Code, w.Header())
	}
	if strings.Contains(w.Body.String(), "internal-label") {
		t.Errorf("reason leaked into the body: %s", w.Body)
	}
	var got map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &got)
	if got["error"] != "temporarily_unavailable" || got["error_description"] != "try later" {
		t.Errorf("body %s", w.Body)
	}
}

func TestExpiresInRoundsDown(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		left time.Duration
		want int64
	}{{3600 * time.Second, 3600}, {3599900 * time.Millisecond, 3599}, {-time.Second, 0}, {500 * time.Millisecond, 0}} {
		if got := ExpiresIn(now.Add(tc.left), now); got != tc.want {
			t.Errorf("ExpiresIn(%v) = %d, want %d", tc.left, got, tc.want)
		}
	}
}

func TestBearerChallengeIsQuotable(t *testing.T) {
	got := BearerChallenge("invalid_token", `bad "token"\ here`+"\n")
	if got != `Bearer error="invalid_token", error_description="bad token here"` {
		t.Errorf("got %s", got)
	}
}
