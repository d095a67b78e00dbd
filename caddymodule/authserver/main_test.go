package authserver

import (
	"os"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/internal/caddyproc"
)

// TestMain removes the Caddy binary the process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	caddyproc.Cleanup()
	os.Exit(code)
}
