package oauthresp

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func newFormRequest(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestParseForm(t *testing.T) {
	f, e := ParseForm(newFormRequest("grant_type=client_credentials&scope=https%3A%2F%2Fx&empty=&client_assertion=a.b.c", "application/x-www-form-urlencoded; charset=UTF-8"), 0)
	if e != nil {
		t.Fatal(e)
	}
	if f.Get("grant_type") != "client_credentials" || f.Get("scope") != "https://x" || !f.Has("empty") || f.Has("nope") {
		t.Errorf("form = %v", f)
	}
}

func TestParseFormPlusIsSpace(t *testing.T) {
	f, e := ParseFormBody("a=x+y%2Bz")
	if e != nil || f.Get("a") != "x y+z" {
		t.Fatalf("got %v %v, want form decoding (+ is a space, %%2B a plus)", f, e)
	}
}

func TestParseFormRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		body, ct string
		status   int
	}{
		"repeated parameter":   {"a=1&b=2&a=1", "application/x-www-form-urlencoded", 400},
		"repeated, other case": {"grant_type=x&grant_type=y", "application/x-www-form-urlencoded", 400},
		"json":                 {`{"a":1}`, "application/json", 400},
		"no content type":      {"a=1", "", 400},
		"multipart":            {"a=1", "multipart/form-data; boundary=x", 400},
		"bad escape":           {"a=%zz", "application/x-www-form-urlencoded", 400},
		"empty name":           {"=1", "application/x-www-form-urlencoded", 400},
		"too large":            {"a=" + strings.Repeat("x", 100), "application/x-www-form-urlencoded", 413},
		"too many parameters":  {strings.Repeat("p=1&", 1) + manyParams(40), "application/x-www-form-urlencoded", 400},
	} {
		t.Run(name, func(t *testing.T) {
			_, e := ParseForm(newFormRequest(tc.body, tc.ct), 64)
			if tc.status == 400 && len(tc.body) > 64 {
				_, e = ParseForm(newFormRequest(tc.body, tc.ct), 4096)
			}
			if e == nil {
				t.Fatal("accepted")
			}
			if e.Status != tc.status || e.Code != ErrInvalidRequest {
				t.Errorf("got %d %s, want %d invalid_request", e.Status, e.Code, tc.status)
			}
		})
	}
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("k")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("=v&")
	}
	return b.String()
}

// TestParseFormReadsBoundedBody proves a huge body is refused without being
// read whole: the reader serves far more than the limit, and ParseForm may
// consume at most limit+1 bytes of it.
func TestParseFormReadsBoundedBody(t *testing.T) {
	src := &countingReader{}
	r := httptest.NewRequest(http.MethodPost, "/token", src)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ContentLength = -1
	_, e := ParseForm(r, 1024)
	if e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %v, want 413", e)
	}
	if src.n > 1025 {
		t.Errorf("read %d bytes of an endless body, want at most 1025", src.n)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += len(p)
	return len(p), nil
}

func TestParseFormDeclaredLengthTooLarge(t *testing.T) {
	r := newFormRequest("a=1", "application/x-www-form-urlencoded")
	r.ContentLength = 1 << 30
	if _, e := ParseForm(r, 0); e == nil || e.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %v, want 413 from Content-Length alone", e)
	}
}

func FuzzParseFormBody(f *testing.F) {
	for _, s := range []string{
		"grant_type=client_credentials&scope=https%3A%2F%2Fpush-api.cloud.huawei.com&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c",
		"a=1&a=2", "%", "=", "&&&", "a=%zz", "a+b=c+d", "x=" + strings.Repeat("%41", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, e := ParseFormBody(body)
		if e != nil {
			if e.Code != ErrInvalidRequest || e.Status != http.StatusBadRequest {
				t.Fatalf("error %d %s", e.Status, e.Code)
			}
			return
		}
		if len(form) > maxParams {
			t.Fatalf("%d parameters accepted, limit %d", len(form), maxParams)
		}
		// What parses must survive a round trip unchanged.
		again, e := ParseFormBody(form.Encode())
		if e != nil || len(again) != len(form) {
			t.Fatalf("round trip failed: %v", e)
		}
		for k, v := range form {
			if again[k] != v {
				t.Fatalf("round trip changed %q", k)
			}
		}
	})
}

func TestQueryUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"":    "",
		"abc": "abc",
		"https%3A%2F%2Fpush-api.cloud.huawei.com": "https://push-api.cloud.huawei.com",
		"a+b%2Bc":             "a b+c",
		"%e2%82%ac+%E2%82%AC": "€ €",
		"%00%ff":              "\x00\xff",
		"+++":                 "   ",
	} {
		if got, err := queryUnescape(in); err != nil || got != want {
			t.Errorf("queryUnescape(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"%", "%4", "a%4", "%zz", "%4g", "%%41", "abc%"} {
		if got, err := queryUnescape(in); err == nil {
			t.Errorf("queryUnescape(%q) = %q, want an error", in, got)
		}
	}
}

// FuzzQueryUnescape holds queryUnescape to url.QueryUnescape: the same
// text, or an error for both.
func FuzzQueryUnescape(f *testing.F) {
	for _, s := range []string{"", "a+b", "%41%4a%4A", "%", "%4", "%zz", "https%3A%2F%2Fx", "\xff%ff+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := queryUnescape(s)
		want, wantErr := url.QueryUnescape(s)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("queryUnescape(%q) = %q, %v; url.QueryUnescape gives %q, %v", s, got, err, want, wantErr)
		}
	})
}
