package oauthresp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sinchBody is a token request as Sinch sends it, with an assertion of the
// usual length.
var sinchBody = "grant_type=client_credentials&scope=https%3A%2F%2Fpush-api.cloud.huawei.com" +
	"&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" +
	"&client_assertion=" + strings.Repeat("eyJhbGciOiJIUzI1NiJ9", 33) + "." + strings.Repeat("A", 43)

// BenchmarkParseForm reads and parses a Sinch token request body.
func BenchmarkParseForm(b *testing.B) {
	r := httptest.NewRequest(http.MethodPost, "/token", nil)
	r.Header.Set("Content-Type", formMediaType)
	body := strings.NewReader(sinchBody)
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(sinchBody)
		r.Body, r.ContentLength = readCloser{body}, int64(len(sinchBody))
		f, e := ParseForm(r, 0)
		if e != nil || len(f) != 4 {
			b.Fatal(e, f)
		}
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
