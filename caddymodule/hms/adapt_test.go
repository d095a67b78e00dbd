package hms

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestCaddyfileAdaptFixtures adapts each testdata/adapt/*.caddyfiletest
// (a Caddyfile, a line of dashes, the JSON it must adapt to), in one loop,
// as Caddy's own caddytest/integration/caddyfile_adapt does: configs in the
// wild keep adapting to the same JSON. SINCH_HMS_UPDATE_FIXTURES=1 rewrites
// the JSON halves from the adapter.
func TestCaddyfileAdaptFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, want, ok := strings.Cut(string(raw), "----------\n")
			if !ok {
				t.Fatal("no line of dashes between the Caddyfile and the JSON")
			}
			if os.Getenv("SINCH_HMS_UPDATE_FIXTURES") == "1" {
				adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, adapted, "", "\t"); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte(caddyfile+"----------\n"+pretty.String()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !caddytest.CompareAdapt(t, f, caddyfile, "caddyfile", strings.TrimSuffix(want, "\n")) {
				t.Error("adapted JSON differs (see above)")
			}
		})
	}
}
