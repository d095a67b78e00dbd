// Command loadbench measures the sinch_hms token endpoint against Caddy's
// own `respond` in one real Caddy process, the way the README's
// "Performance" section reports it:
//
//	go run ./bench/loadbench
//
// It builds Caddy with this module (or takes -caddy), starts it on loopback
// with two routes on one site, the token endpoint (against an in-process
// Huawei emulator) and `respond` with a body of the same size as the token
// answer, and then:
//
//  1. cold start: -cold concurrent token requests on an empty cache, the
//     time until all are answered, and the number of Huawei calls (must
//     be 1); then the same burst again on the warm cache, for comparison;
//  2. warm load: -rounds rounds per route of -requests requests each,
//     alternating between the routes, from -workers workers over keep-alive
//     connections, every token request with its own pre-minted assertion
//     (the same bodies are sent to `respond`), and prints requests per
//     second, p50 and p99 latency per route and the ratios.
//
// It stops by itself, listens on loopback only, and fails (exit 1) if any
// answer is wrong or the warm rounds called Huawei; missing a performance
// target is reported, not a failure.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// Routes of the benchmark site.
const (
	tokenPath   = "/token"
	respondPath = "/respond"
)

// Identities of the benchmark: any well-formed values do.
const (
	appKey   = "0b1c2d3e-aaaa-4bbb-8ccc-123456789abc"
	hmsAppID = "101234567"
)

// options are the command-line flags.
type options struct {
	caddy         string
	httpPort      int
	adminPort     int
	workers       int
	requests      int
	rounds        int
	warmup        int
	cold          int
	huaweiLatency time.Duration
	timeout       time.Duration
	cpuprofile    string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.caddy, "caddy", "", "Caddy binary with this module (default: build ./cmd/caddy)")
	flag.IntVar(&o.httpPort, "port", 9215, "HTTP port of the benchmark site (loopback)")
	flag.IntVar(&o.adminPort, "admin-port", 9216, "Caddy admin API port (localhost)")
	flag.IntVar(&o.workers, "workers", 32, "concurrent workers (= keep-alive connections) in the warm rounds")
	flag.IntVar(&o.requests, "requests", 2000, "requests per round")
	flag.IntVar(&o.rounds, "rounds", 25, "rounds per route, alternating between the routes: short rounds, so that both routes see the same machine load on a shared machine")
	flag.IntVar(&o.warmup, "warmup", 2000, "unmeasured requests per route before the rounds")
	flag.IntVar(&o.cold, "cold", 1000, "concurrent requests of the cold-start burst")
	flag.DurationVar(&o.huaweiLatency, "huawei-latency", 100*time.Millisecond, "latency of the emulated Huawei token endpoint")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "after the rounds, write CPU profiles of Caddy during one more round per route to this file (token endpoint) and this file + .respond")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// run sets everything up, runs both measurements and prints the report.
func run(ctx context.Context, o options) error {
	if o.workers < 1 || o.requests < 1 || o.rounds < 1 || o.cold < 1 || o.warmup < 0 {
		return errors.New("-workers, -requests, -rounds and -cold must be positive")
	}
	loadBefore := loadAverage()
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := o.caddy
	if bin == "" {
		fmt.Println("building Caddy with the module (go build ./cmd/caddy) ...")
		if bin, err = buildCaddy(ctx, dir); err != nil {
			return err
		}
	}

	sinchSecret, hmsSecret := randomSecret(), randomSecret()
	emu := huaweitest.NewServer()
	defer emu.Close()
	emu.AddApp(hmsAppID, hmsSecret)
	emu.SetDelay(o.huaweiLatency)

	base := fmt.Sprintf("http://127.0.0.1:%d", o.httpPort)
	answerBody := sampleAnswer()
	caddy, err := startCaddy(ctx, bin, dir, siteConfig{
		httpPort: o.httpPort, adminPort: o.adminPort, appKey: appKey, hmsAppID: hmsAppID,
		huaweiURL: emu.URL, respondBody: answerBody,
	}, []string{"LOADBENCH_SINCH_SECRET=" + sinchSecret, "LOADBENCH_HMS_SECRET=" + hmsSecret}, base)
	if err != nil {
		return err
	}
	defer caddy.stop()

	need := 2*o.cold + o.warmup + o.rounds*o.requests
	fmt.Printf("minting %d unique assertions ...\n", need)
	bodies, err := mintBodies(sinchSecret, base+tokenPath, need)
	if err != nil {
		return err
	}
	m := &measurement{o: o, emu: emu, caddyPID: caddy.cmd.Process.Pid, tokenURL: base + tokenPath, respondURL: base + respondPath, bodies: bodies, loadBefore: loadBefore}
	if err := m.coldStart(ctx); err != nil {
		return err
	}
	if err := m.warmRounds(ctx, len(answerBody)); err != nil {
		return fmt.Errorf("%w\ncaddy log:\n%s", err, caddy.log())
	}
	m.report(len(bodies[0]), len(answerBody))
	if o.cpuprofile != "" {
		if err := m.profileRoutes(ctx, o.adminPort, sinchSecret, o.cpuprofile, len(answerBody)); err != nil {
			return err
		}
	}
	if calls := emu.Calls(); calls != 1 {
		return fmt.Errorf("Huawei was called %d times in all, want exactly 1 (the cold start)", calls)
	}
	return nil
}

// randomSecret returns a fresh base64 secret for this run only.
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
