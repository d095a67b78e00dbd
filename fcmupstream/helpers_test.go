package fcmupstream

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func newHTTPServer(t testing.TB, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
