// Package redistest starts real redis-server processes for tests: on a
// loopback port of its own, password-protected (so a test can never talk to
// another test's server by mistake), optionally with an append-only file so
// that a restart keeps the keys, and stoppable mid-test to play an outage.
//
// The redis-server binary (Debian package redis-server) must be on PATH.
// Without it a test is skipped, or fails when SINCH_HMS_REQUIRE_REDIS=1 (as
// in CI), so that a missing install cannot pass silently.
package redistest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ports tried, in turn, for test servers: the loopback ports set aside for
// redis-server in this project's tests. SINCH_HMS_TEST_REDIS_PORT_BASE moves
// the range.
const portCount = 10

func portBase() int {
	if v, err := strconv.Atoi(os.Getenv("SINCH_HMS_TEST_REDIS_PORT_BASE")); err == nil && v > 0 {
		return v
	}
	return 9200
}

// firstSlot spreads the test binaries that `go test ./...` runs at once over
// the range, by name rather than by chance: each package starts its scan at
// its own port, so a port one package frees while it plays a Redis outage
// is not the next one another package takes. (redisstore.test starts at
// +5, caddymodule.test at +0.)
func firstSlot() int {
	h := fnv.New32a()
	h.Write([]byte(filepath.Base(os.Args[0])))
	return int(h.Sum32() % portCount)
}

// Options shape a test server.
type Options struct {
	// Persistent turns on the append-only file with an fsync per write, so
	// that Restart brings back every key: a Redis set up as production
	// should be when it holds replay nonces.
	Persistent bool
	// Password, if set, is the password clients must give, any bytes
	// (set with CONFIG SET or ACL SETUSER, never through redis-server's
	// command line, which would parse quotes and '#'). Default: 32 random
	// hex digits.
	Password string
	// Username, if set, is an ACL user (with every permission) holding
	// Password; the default user then keeps a random password of its own,
	// so that only Username + Password get in.
	Username string
	// Args are more redis-server arguments (e.g. --replicaof, or
	// --cluster-enabled yes), after the ones Start sets.
	Args []string
	// TLS, if set, makes the server listen with TLS only (--tls-port, the
	// plain port off), with these files.
	TLS *TLSFiles
	// Sentinel, if set, runs redis-server --sentinel with this config
	// (sentinel monitor ... lines); its port, bind and password are added.
	// Password must then be set, and be plain (hex): a sentinel takes it
	// from its config file, not through CONFIG SET.
	Sentinel string
}

// TLSFiles are a TLS server's PEM files, and the client config that trusts
// it (used by Start to see the server answer, and by Client).
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
	Client                    *tls.Config
}

// Server is one redis-server process.
type Server struct {
	Addr     string // 127.0.0.1:port
	Username string // "" = the default user
	Password string

	boot string // the password redis-server starts with

	t    testing.TB
	opts Options
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

// Require skips the test when redis-server is missing, or fails it when
// SINCH_HMS_REQUIRE_REDIS=1.
func Require(t testing.TB) string {
	t.Helper()
	return requireBinary(t, "redis-server", "redis-server")
}

// Start starts a server on the first free port of the range and stops it
// when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := newServer(t, opts)
	base := portBase()
	first := firstSlot()
	var errs []string
	for i := range portCount {
		port := base + (first+i)%portCount
		if err := s.start(port); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("redistest: no redis-server could start on 127.0.0.1:%d-%d: %v", base, base+portCount-1, errs)
	return nil
}

// StartOn starts a server on port (one of GroupPorts) and stops it when
// the test ends; the test fails if it cannot start there.
func StartOn(t testing.TB, port int, opts Options) *Server {
	t.Helper()
	s := newServer(t, opts)
	if err := s.start(port); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func newServer(t testing.TB, opts Options) *Server {
	Require(t)
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	s := &Server{t: t, opts: opts, dir: t.TempDir(), boot: hex.EncodeToString(pw),
		Username: opts.Username, Password: opts.Password}
	if s.Password == "" {
		s.Password = s.boot
	}
	if opts.Sentinel != "" || plainHex.MatchString(opts.Password) {
		// Booted with its password: a group's (hex) passwords go on the
		// command line as they are, so that a restarted server never
		// answers a sentinel or replica with an auth error while its
		// password is being set (a sentinel that met one could keep an
		// unauthenticated link for many seconds).
		s.boot = s.Password
	}
	return s
}

// plainHex is a password that can be given on the command line as it is.
var plainHex = regexp.MustCompile(`^[0-9a-f]{16,}$`)

// URL is the server's redis:// URL, user and password included (and
// percent-encoded as a URL needs).
func (s *Server) URL() string { return s.URLVia(s.Addr) }

// URLVia is URL with another address, such as a Proxy's.
func (s *Server) URLVia(addr string) string {
	u := &url.URL{Scheme: "redis", User: url.UserPassword(s.Username, s.Password), Host: addr, Path: "/0"}
	return u.String()
}

// Client returns a client for inspecting the server; closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.Username, Password: s.Password, MaxRetries: -1, TLSConfig: s.clientTLS()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop stops the server (SIGTERM, as an operator would) and waits for it.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // if frozen
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Kill ends the server with SIGKILL, as a crash would: nothing is saved
// and no client is told. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Freeze stops the process (SIGSTOP) without closing its connections: a
// replica that is connected but acknowledges nothing. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Port is the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) clientTLS() *tls.Config {
	if s.opts.TLS == nil {
		return nil
	}
	return s.opts.TLS.Client
}

// Restart starts the server again on the same port (and, if Persistent,
// with the same data).
func (s *Server) Restart() {
	s.t.Helper()
	port := s.Port()
	s.Stop()
	if err := s.start(port); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// start runs redis-server on port and waits until it answers with our
// password, or reports why it did not.
func (s *Server) start(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s busy", addr)
	}
	_ = l.Close()
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--requirepass", s.boot, "--dir", s.dir,
		"--save", "", "--loglevel", "warning", "--logfile", "",
		"--daemonize", "no", "--protected-mode", "yes",
	}
	if s.opts.Persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if f := s.opts.TLS; f != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", f.CertFile, "--tls-key-file", f.KeyFile,
			"--tls-ca-cert-file", f.CAFile, "--tls-auth-clients", "optional")
	}
	if s.opts.Sentinel != "" {
		conf := filepath.Join(s.dir, "sentinel.conf")
		body := s.opts.Sentinel + "\nrequirepass " + s.boot + "\nsentinel sentinel-pass " + s.boot + "\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return fmt.Errorf("write the sentinel config: %w", err)
		}
		args = []string{conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", s.dir, "--loglevel", "warning", "--logfile", "", "--daemonize", "no"}
	}
	args = append(args, s.opts.Args...)
	out := &bytes.Buffer{}
	cmd := exec.Command("redis-server", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()

	c := redis.NewClient(&redis.Options{Addr: addr, Password: s.boot, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, TLSConfig: s.clientTLS()})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("redis-server on %s exited: %s", addr, bytes.TrimSpace(out.Bytes()))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			if err := s.setCredentials(c); err != nil {
				_ = cmd.Process.Kill()
				<-done
				return err
			}
			s.mu.Lock()
			s.Addr, s.cmd, s.done, s.out = addr, cmd, done, out
			s.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server on %s did not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // readiness poll, not a wait for expiry
	}
}

// setCredentials gives the server its chosen username and password, through
// Redis commands (any bytes), on c, logged in with the boot password.
func (s *Server) setCredentials(c *redis.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch {
	case s.opts.Sentinel != "":
	case s.Username != "":
		if err := c.Do(ctx, "ACL", "SETUSER", s.Username, "reset", "on", ">"+s.Password, "~*", "&*", "+@all").Err(); err != nil {
			return fmt.Errorf("redistest: create the ACL user: %w", err)
		}
	case s.Password != s.boot:
		if err := c.ConfigSet(ctx, "requirepass", s.Password).Err(); err != nil {
			return fmt.Errorf("redistest: set the password: %w", err)
		}
	}
	return nil
}

// Passwords are passwords that break a Redis URL unless percent-encoded
// (`/ ? # % @ : +`, spaces, quotes, braces) and `openssl rand -base64 32`
// values, for tests that a password never shows and always works.
var Passwords = []string{
	"Tq8z/Wv3kR",
	"Jx5?Rn2mYp",
	"Kp7#Lz4qWd",
	"Mv9%Qr1xNb",
	"Zn4%41BcFh",
	"Hw2@Xk8pGs",
	"Fy6:Gt3jVm",
	"Bq1+Cd5nLt",
	"Wq3{Np7}Lx",
	`Ab c"d'e\f`,
	"1234/5678#9x?y@z:%zz+w",
	"RnszZ5bQ6Ps7c64UAwIKNvJr94apS9UmOuORxM55p6s=",
	"MYNQXCeDYLqG4mo+e6X3+o+9aG4W7YSBGgzohRaGgmY=",
	"q/Xr8Lw2+Hk9/Tz5Pm3Nc7Vb1Jd4Gf6Ys0Ea8Ru2Wo=",
}

// Leak reports where the first run of 4 bytes of secret (all of it, if
// shorter) found in text starts in secret, or -1 if text holds no such
// part of it. Tests report the offset, not the bytes.
func Leak(text, secret string) int {
	n := min(4, len(secret))
	if n == 0 {
		return -1
	}
	for i := 0; i+n <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+n]) {
			return i
		}
	}
	return -1
}
