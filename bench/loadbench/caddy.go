package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// caddyProcess is the one real Caddy the benchmark drives.
type caddyProcess struct {
	cmd       *exec.Cmd
	adminPort int
	logPath   string
	exited    chan error
}

// buildCaddy compiles ./cmd/caddy (Caddy with this module) into dir and
// returns the binary's path. It runs in the module root, found through
// `go env GOMOD`, so the program works from any directory of the checkout.
func buildCaddy(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the caddy-sinch-hms module: run from the checkout, or pass -caddy")
	}
	bin := filepath.Join(dir, "caddy")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/caddy")
	build.Dir = filepath.Dir(gomod)
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy: %w\n%s", err, msg)
	}
	return bin, nil
}

// siteConfig is what the Caddyfile is made of.
type siteConfig struct {
	httpPort, adminPort int
	appKey, hmsAppID    string
	huaweiURL           string
	respondBody         string
}

// caddyfile is one site on loopback with two routes: the token endpoint
// and Caddy's own static response. Secrets come from the environment
// through {env.*}, as in production, so they are in no file.
func (c siteConfig) caddyfile() string {
	return fmt.Sprintf(`{
	admin localhost:%[2]d
	http_port %[1]d
	auto_https off
	persist_config off
}

http://127.0.0.1:%[1]d {
	bind 127.0.0.1
	route %[3]s {
		sinch_hms {
			sinch_application %[4]s {env.LOADBENCH_SINCH_SECRET}
			hms_application %[5]s {env.LOADBENCH_HMS_SECRET}
			huawei_token_url %[6]s
		}
	}
	route %[7]s {
		respond `+"`%[8]s`"+` 200
	}
}
`, c.httpPort, c.adminPort, tokenPath, c.appKey, c.hmsAppID, c.huaweiURL, respondPath, c.respondBody)
}

// startCaddy writes the Caddyfile into dir, starts `caddy run` with the
// secrets in its environment and waits until it answers on base.
func startCaddy(ctx context.Context, bin, dir string, cfg siteConfig, env []string, base string) (*caddyProcess, error) {
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(cfg.caddyfile()), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "caddy.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start caddy: %w", err)
	}
	p := &caddyProcess{cmd: cmd, adminPort: cfg.adminPort, logPath: logPath, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	if err := p.waitReady(ctx, base+respondPath); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls url until Caddy answers 200, Caddy exits, or 30s pass.
func (p *caddyProcess) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			return fmt.Errorf("caddy exited during start-up (%v):\n%s", err, p.log())
		case <-ctx.Done():
			return fmt.Errorf("caddy did not answer on %s: %w\n%s", url, ctx.Err(), p.log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks Caddy to stop through its admin API and kills it if it has
// not exited after a few seconds.
func (p *caddyProcess) stop() {
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Post(fmt.Sprintf("http://localhost:%d/stop", p.adminPort), "", nil); err == nil {
		resp.Body.Close()
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// log returns the tail of Caddy's log, for error messages.
func (p *caddyProcess) log() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}
