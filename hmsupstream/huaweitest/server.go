package huaweitest

import (
	"net/http"
	"net/http/httptest"
)

// TokenPath is where Server mounts the emulator, as on Huawei's host.
const TokenPath = "/oauth2/v3/token"

// Server runs an Emulator on a local httptest server. Its methods (AddApp,
// SetFault, Calls, ...) are the Emulator's.
type Server struct {
	*Emulator
	URL string // the token URL
	ts  *httptest.Server
}

// NewServer starts an emulator with no applications; Close it when done.
func NewServer() *Server {
	em := NewEmulator()
	mux := http.NewServeMux()
	mux.Handle(TokenPath, em)
	ts := httptest.NewServer(mux)
	return &Server{Emulator: em, URL: ts.URL + TokenPath, ts: ts}
}

// Handler returns the emulator, to mount it elsewhere too.
func (s *Server) Handler() http.Handler { return s.Emulator }

// Close frees hanging requests and shuts the server down.
func (s *Server) Close() {
	s.Emulator.Close()
	s.ts.CloseClientConnections()
	s.ts.Close()
}
