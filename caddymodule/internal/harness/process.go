package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildCaddy builds ./cmd/caddy, the project's Caddy, into a temporary
// directory and returns the binary's path. The test's package must sit two
// levels below the module root (caddymodule/<pkg>).
func BuildCaddy(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build ./cmd/caddy: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "caddy")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = "../.." // the module root
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/caddy: %v\n%s", err, out)
	}
	t.Logf("built ./cmd/caddy in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// Process is a Caddy running as a child process of the test, with its own
// admin endpoint (Admin, e.g. http://localhost:3310).
type Process struct {
	Admin string
	cmd   *exec.Cmd

	mu  sync.Mutex
	out bytes.Buffer
}

func (p *Process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output is what the process has written so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// StartProcess runs `bin run` on caddyfile, whose global options must
// set `admin localhost:<adminPort>`, and waits until its admin endpoint
// answers. The process is killed when the test ends; its home and data
// directories are the test's.
func StartProcess(t *testing.T, bin string, adminPort int, caddyfile string) *Process {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Process{Admin: fmt.Sprintf("http://localhost:%d", adminPort)}
	p.cmd = exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.Admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-done:
			t.Fatalf("caddy exited at start-up:\n%s", p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy's admin endpoint %s did not answer:\n%s", p.Admin, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Load replaces the process's config with caddyfile through the admin
// API's /load, failing the test if Caddy refuses it.
func (p *Process) Load(t *testing.T, caddyfile string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.Admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("%s/load: HTTP %d: %s", p.Admin, resp.StatusCode, b.String())
	}
}
