// Package caddyproc builds this project's Caddy (./cmd/caddy) and runs it
// as separate processes for tests: the built binary, as an operator runs
// it, that a test can SIGKILL and start again. Only tests import it.
package caddyproc

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
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// Build builds ./cmd/caddy once per test binary (root is the module root,
// relative to the test's package folder, e.g. "../..") and returns the
// binary's path. Call Cleanup from TestMain to remove it.
func Build(t testing.TB, root string) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go tool is needed to build ./cmd/caddy: %w", err)
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "caddyproc-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "caddy")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", buildBin, "./cmd/caddy")
		cmd.Dir = root
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		t.Logf("built ./cmd/caddy in %v", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Cleanup removes the binary Build made.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// Process is one Caddy process running a Caddyfile.
type Process struct {
	Name      string // for the test's messages
	AdminPort int    // the config's admin port: ready when it answers
	ReadyURL  string // answered (any status) once the sites are up

	t      testing.TB
	bin    string
	config string
	env    []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *lockedBuffer
	logs []string // the output of earlier runs
}

// Start writes caddyfile and runs `caddy run` on it with env added to a
// clean environment, and waits until the admin API and readyURL answer;
// the process is killed when the test ends.
func Start(t testing.TB, bin, name, caddyfile string, adminPort int, readyURL string, env ...string) *Process {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(config, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	p := &Process{Name: name, AdminPort: adminPort, ReadyURL: readyURL, t: t, bin: bin, config: config,
		env: append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + home, "XDG_DATA_HOME=" + home}, env...)}
	t.Cleanup(p.Kill)
	p.Restart()
	return p
}

// Restart starts the process (again, after Kill) and waits until it is
// ready (at most 20s).
func (p *Process) Restart() {
	p.t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: restart of a running Caddy", p.Name)
	}
	cmd := exec.Command(p.bin, "run", "--config", p.config, "--adapter", "caddyfile")
	cmd.Env = p.env
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatalf("%s: start caddy: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done, p.log = cmd, done, log
	p.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for _, u := range []string{fmt.Sprintf("http://localhost:%d/config/", p.AdminPort), p.ReadyURL} {
		for u != "" {
			select {
			case <-done:
				p.t.Fatalf("%s: caddy exited at start-up:\n%s", p.Name, log.String())
			default:
			}
			resp, err := client.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				p.t.Fatalf("%s: caddy not ready after 20s (%s: %v):\n%s", p.Name, u, err, log.String())
			}
			time.Sleep(50 * time.Millisecond) // readiness poll
		}
	}
}

// Load replaces the process's config with caddyfile through the admin
// API's /load, failing the test if Caddy refuses it.
func (p *Process) Load(caddyfile string) {
	p.t.Helper()
	// A connection of its own: a load restarts the admin endpoint.
	admin := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := admin.Post(fmt.Sprintf("http://localhost:%d/load", p.AdminPort), "text/caddyfile", strings.NewReader(caddyfile))
	if err != nil {
		p.t.Fatalf("%s: /load: %v", p.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		p.t.Fatalf("%s: /load: HTTP %d: %s", p.Name, resp.StatusCode, b.String())
	}
}

// Kill ends the process with SIGKILL, as a crash would. Killing a stopped
// process does nothing.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.logs = append(p.logs, p.log.String())
	p.cmd = nil
}

// Running reports whether the process runs.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Log is everything the process wrote, over all its runs.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := strings.Join(p.logs, "")
	if p.cmd != nil {
		all += p.log.String()
	}
	return all
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
