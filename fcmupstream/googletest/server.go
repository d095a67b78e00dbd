package googletest

import (
	"net/http"
	"net/http/httptest"
)

// TokenPath is where Server mounts the emulator, as on Google's host.
const TokenPath = "/token"

// Server runs an Emulator on a local httptest server; URL is its token
// URL, which is also the aud grants must carry.
type Server struct {
	*Emulator
	URL string
	ts  *httptest.Server
}

// NewServer starts an emulator with no accounts; Close it when done.
func NewServer() *Server {
	em := NewEmulator("")
	mux := http.NewServeMux()
	mux.Handle(TokenPath, em)
	ts := httptest.NewServer(mux)
	s := &Server{Emulator: em, URL: tokenURL(ts.URL), ts: ts}
	em.SetAudience(s.URL)
	return s
}

// Close shuts the server down.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
}
