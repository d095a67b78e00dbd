package oauthresp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestParseFormWhateverTheDeclaredLength proves that the body is read
// whole, and only within the limit, whether Content-Length is exact,
// unknown, too small or too large: it only sizes the first buffer.
func TestParseFormWhateverTheDeclaredLength(t *testing.T) {
	long := "grant_type=client_credentials&client_assertion=" + strings.Repeat("x", 3000)
	for _, declared := range []int64{int64(len(long)), -1, 0, 5, int64(len(long)) + 100} {
		r := newFormRequest(long, formMediaType)
		r.ContentLength = declared
		f, e := ParseForm(r, 0)
		if e != nil {
			t.Fatalf("Content-Length %d: %v", declared, e)
		}
		if f.Get("grant_type") != "client_credentials" || len(f.Get("client_assertion")) != 3000 {
			t.Errorf("Content-Length %d: form %v", declared, f)
		}
	}
}

func TestParseFormEndlessBodyWithSmallDeclaredLength(t *testing.T) {
	src := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/token", src)
	r.Header.Set("Content-Type", formMediaType)
	r.ContentLength = 10
	_, e := ParseForm(r, 1024)
	if e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %v, want 413", e)
	}
	if src.n > 1025 {
		t.Errorf("read %d bytes of an endless body, want at most 1025", src.n)
	}
}
