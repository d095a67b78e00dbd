package hms

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// replayStoreLen returns the number of nonces the process's memory replay
// store holds.
func replayStoreLen(t *testing.T) int {
	t.Helper()
	return endpoint.ProcessNonceCount()
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// TestForgedFloodCostsNothing: a flood of forged and malformed assertions
// is refused before Huawei and before the replay store: no Huawei call, no
// nonce recorded, so the store does not grow from unverified input.
func TestForgedFloodCostsNothing(t *testing.T) {
	emu := harness.NewHuawei(t)
	harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	other, _ := sinchauth.DecodeSecret(harness.OtherSecret)
	before := replayStoreLen(t)

	forgeries := map[string]func() string{
		"wrong secret": func() string { return harness.Mint(t, func(p *sinchauth.MintParams) { p.Secret = other }) },
		"tampered payload": func() string {
			a := strings.Split(harness.Mint(t), ".")
			a[1] = a[1][:len(a[1])-2] + "xx"
			return strings.Join(a, ".")
		},
		"garbage":             func() string { return randomText(200) },
		"three garbage parts": func() string { return randomText(40) + "." + randomText(80) + "." + randomText(43) },
		"alg none": func() string {
			a := strings.Split(harness.Mint(t), ".")
			return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"hkdfv1-20260101","sinch:rtc:application_key":"`+harness.AppKey+`"}`)) + "." + a[1] + "."
		},
		"oversized": func() string { return harness.Mint(t) + strings.Repeat("A", sinchauth.MaxAssertionSize) },
		"signed, nonce too long": func() string {
			return harness.Mint(t, func(p *sinchauth.MintParams) { p.Nonce = strings.Repeat("n", 300) })
		},
	}
	const perKind = 150
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]map[int]int{}
	for name, forge := range forgeries {
		bodies := make([]string, perKind)
		for i := range bodies {
			bodies[i] = harness.AssertionForm(forge()).Encode()
		}
		mu.Lock()
		statuses[name] = map[int]int{}
		mu.Unlock()
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < perKind; i += 4 {
					a := harness.PostForm(t, client, harness.TokenURL, bodies[i])
					mu.Lock()
					statuses[name][a.Status]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for name, st := range statuses {
		if st[http.StatusUnauthorized] != perKind {
			t.Errorf("%s: statuses %v, want %d x 401", name, st, perKind)
		}
	}
	if n := emu.Calls(); n != 0 {
		t.Errorf("forged assertions made %d Huawei calls, want 0", n)
	}
	if after := replayStoreLen(t); after != before {
		t.Errorf("replay store grew from %d to %d nonces on forged input", before, after)
	}
	harness.PostForm(t, client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if after := replayStoreLen(t); after != before+1 {
		t.Errorf("replay store: %d nonces after one valid assertion, want %d", after, before+1)
	}
	t.Logf("%d forged requests: 0 Huawei calls, replay store %d -> %d", perKind*len(forgeries), before, before)
}

// recommendedServers is the `servers` global option the README recommends,
// with timeouts shortened so the test does not wait long.
const recommendedServers = `	servers {
		timeouts {
			read_header 1s
			read_body 2s
			write 10s
			idle 1m
		}
		max_header_size 16KB
	}
`

// TestServerLimits: with the README's server options, a request with
// oversized headers is refused by Caddy before the module, and a client
// that sends its headers too slowly (slowloris) is cut off.
func TestServerLimits(t *testing.T) {
	emu := harness.NewHuawei(t)
	opts := strings.Replace(harness.GlobalOptions, "\tgrace_period 1s\n", "\tgrace_period 1s\n"+recommendedServers, 1)
	if opts == harness.GlobalOptions {
		t.Fatal("could not add the servers option")
	}
	tester := caddyWithGlobal(t, opts, harness.HMSSite(emu.URL, ""))

	a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode(), "X-Pad", strings.Repeat("p", 32<<10))
	if a.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB of headers: status %d, want 431", a.Status)
	}
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", harness.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost:%d\r\n", harness.TokenPath, harness.HTTPPort) // and never finish
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	start := time.Now()
	_, err = io.Copy(io.Discard, bufio.NewReader(conn))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a client stalling in its headers was not cut off within 15s")
	}
	t.Logf("stalled client cut off after %v (read_header 1s)", time.Since(start).Round(100*time.Millisecond))
	if emu.Calls() != 1 {
		t.Errorf("Huawei calls = %d, want 1", emu.Calls())
	}
}

// caddyWithGlobal is startCaddy with global options derived from
// globalOptions (same ports and admin endpoint).
func caddyWithGlobal(t *testing.T, global, caddyfile string) *caddytest.Tester {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against a real Caddy; skipped with -short")
	}
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{
		AdminPort:          harness.AdminPort,
		TestRequestTimeout: 20 * time.Second,
	})
	tester.InitServer(global+caddyfile, "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	return tester
}
