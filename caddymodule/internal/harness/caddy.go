package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// The in-process Caddy of caddytest: starting it, loading a config that
// must fail, and scraping its metrics.

// StartCaddy loads caddyfile into the in-process Caddy of caddytest and
// fails the test loudly if Caddy did not take it (caddytest alone may skip).
func StartCaddy(t *testing.T, caddyfile string) *caddytest.Tester {
	t.Helper()
	return StartCaddyWith(t, "", caddyfile)
}

// StartCaddyWith is StartCaddy with more global options (lines inside
// the global block, e.g. a `servers { trusted_proxies ... }` block).
func StartCaddyWith(t *testing.T, globalOptions, caddyfile string) *caddytest.Tester {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real Caddy; skipped with -short")
	}
	loaded := false
	t.Cleanup(func() {
		if !loaded {
			t.Errorf("Caddy did not load the test config")
		}
	})
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{
		AdminPort:          AdminPort,
		TestRequestTimeout: 20 * time.Second,
	})
	tester.InitServer(strings.TrimSuffix(GlobalOptions, "}\n")+globalOptions+"\n}\n"+caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	loaded = true
	return tester
}

// AdminURL is the test Caddy's admin endpoint.
var AdminURL = fmt.Sprintf("http://localhost:%d", AdminPort)

// Metrics scrapes the admin endpoint's /metrics and returns every sample
// as "name{labels}" -> value, labels as Prometheus writes them (sorted).
func Metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := Admin.Get(AdminURL + "/metrics")
	if err != nil {
		t.Fatalf("scraping /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", resp.StatusCode)
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Sample returns the value of one series, failing if it is absent.
func Sample(t *testing.T, m map[string]float64, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("series %s not exposed", series)
	}
	return v
}

// Delta asserts that series moved by want between two scrapes.
func Delta(t *testing.T, before, after map[string]float64, series string, want float64) {
	t.Helper()
	if got := Sample(t, after, series) - before[series]; got != want {
		t.Errorf("%s moved by %v, want %v", series, got, want)
	}
}

// TestConfigLoadErrors loads broken configs into a real Caddy: each must be
// refused with a message naming the problem.
// LoadError posts a Caddyfile to the running test Caddy's admin /load and
// returns the error it answers; the load must fail.
func LoadError(t *testing.T, caddyfileSrc string) string {
	t.Helper()
	resp, err := Admin.Post(AdminURL+"/load", "text/caddyfile", strings.NewReader(caddyfileSrc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("config loaded, want an error")
	}
	return string(body)
}

// Admin is the client of the test Caddy's admin API. It opens a connection
// per request: a config load restarts the admin endpoint, and a kept-alive
// connection to the endpoint it replaced would read EOF.
var Admin = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
