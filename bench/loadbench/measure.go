package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// Targets of the issue: the token endpoint at 0.85 or more of respond's
// throughput, its p99 within 1.3 times respond's.
const (
	targetThroughput = 0.85
	targetP99        = 1.3
)

// measurement holds the state of one benchmark run.
type measurement struct {
	o                    options
	emu                  *huaweitest.Server
	caddyPID             int
	tokenURL, respondURL string
	bodies               [][]byte // unique token requests, consumed in order

	coldTime, warmBurst time.Duration
	coldCalls           int
	rounds              []round
	warmCalls           int
	loadBefore          string // load average when the run began
}

// take hands out the next n unused request bodies.
func (m *measurement) take(n int) [][]byte {
	b := m.bodies[:n]
	m.bodies = m.bodies[n:]
	return b
}

// coldStart fires -cold concurrent requests at the empty cache, then the
// same burst at the warm cache.
func (m *measurement) coldStart(ctx context.Context) error {
	fmt.Printf("cold start: %d concurrent requests on an empty cache ...\n", m.o.cold)
	elapsed, tokens, err := burst(ctx, m.tokenURL, m.take(m.o.cold))
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	if len(tokens) != 1 {
		return fmt.Errorf("cold start: %d different tokens answered, want 1", len(tokens))
	}
	m.coldTime, m.coldCalls = elapsed, m.emu.Calls()
	if m.coldCalls != 1 {
		return fmt.Errorf("cold start: %d Huawei calls, want 1", m.coldCalls)
	}
	if m.warmBurst, _, err = burst(ctx, m.tokenURL, m.take(m.o.cold)); err != nil {
		return fmt.Errorf("warm burst: %w", err)
	}
	return nil
}

// warmRounds warms both routes up, then runs the alternating rounds.
func (m *measurement) warmRounds(ctx context.Context, answerBytes int) error {
	client := newClient(m.o.workers)
	defer client.CloseIdleConnections()
	before := m.emu.Calls()
	warm := m.take(m.o.warmup)
	for _, route := range []struct{ name, url string }{{"sinch_hms", m.tokenURL}, {"respond", m.respondURL}} {
		if _, err := runRound(ctx, client, route.name, route.url, warm, m.o.workers, answerBytes); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Printf("warm load: %d rounds per route of %d requests, %d workers, alternating ...\n", m.o.rounds, m.o.requests, m.o.workers)
	for i := range m.o.rounds {
		bodies := m.take(m.o.requests)
		// Alternate which route goes first, so neither always follows the other.
		order := []struct{ name, url string }{{"sinch_hms", m.tokenURL}, {"respond", m.respondURL}}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, route := range order {
			meter := startCPU(m.caddyPID)
			r, err := runRound(ctx, client, route.name, route.url, bodies, m.o.workers, answerBytes)
			if err != nil {
				return fmt.Errorf("round %d: %w", i+1, err)
			}
			r.caddyCPU, r.clientCPU, r.cpuKnown = meter.stop()
			m.rounds = append(m.rounds, r)
			fmt.Printf("  round %d %-9s %8.0f req/s\n", i+1, route.name, float64(len(r.lat))/r.elapsed.Seconds())
		}
	}
	m.warmCalls = m.emu.Calls() - before
	return nil
}

// report prints the results as the README's table.
func (m *measurement) report(requestBytes, answerBytes int) {
	tok, resp := summarize("sinch_hms", m.rounds), summarize("respond", m.rounds)
	fmt.Println()
	fmt.Printf("machine: %d CPUs (%s), %s %s/%s, load average before: %s\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, m.loadBefore)
	fmt.Printf("load: one Caddy process, %d workers over keep-alive HTTP/1.1 on loopback, same machine; "+
		"request body %d B, answer body %d B on both routes\n\n", m.o.workers, requestBytes, answerBytes)
	fmt.Printf("| route | requests | req/s | p50 | p99 |\n|---|---|---|---|---|\n")
	for _, s := range []summary{tok, resp} {
		fmt.Printf("| %s | %d | %.0f | %s | %s |\n", s.route, s.requests, s.rps, ms(s.p50), ms(s.p99))
	}
	thr, p99 := tok.rps/resp.rps, float64(tok.p99)/float64(resp.p99)
	fmt.Printf("\nsinch_hms / respond: throughput %.2f (target >= %.2f: %s), p99 %.2fx (target <= %.1fx: %s)\n",
		thr, targetThroughput, verdict(thr >= targetThroughput), p99, targetP99, verdict(p99 <= targetP99))
	fmt.Printf("throughput ratio of each round pair (the two routes back to back): %s; median %.2f\n",
		pairRatios(tok, resp), medianOf(ratiosOf(tok, resp)))
	if tok.caddyCPUPerReq > 0 && resp.caddyCPUPerReq > 0 {
		fmt.Printf("CPU per request: Caddy %s on sinch_hms, %s on respond (%.2fx); load generator %s and %s\n",
			us(tok.caddyCPUPerReq), us(resp.caddyCPUPerReq), float64(tok.caddyCPUPerReq)/float64(resp.caddyCPUPerReq),
			us(tok.clientCPUPerReq), us(resp.clientCPUPerReq))
	}
	fmt.Printf("cold start: %d concurrent requests on an empty cache all answered in %s with %d Huawei call (Huawei latency %s)\n",
		m.o.cold, ms(m.coldTime), m.coldCalls, m.o.huaweiLatency)
	fmt.Printf("same burst on the warm cache: %s\n", ms(m.warmBurst))
	fmt.Printf("Huawei calls during warm-up and rounds: %d\n", m.warmCalls)
}

// us formats a duration in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// cpuModel reads the CPU model name from /proc/cpuinfo (Linux).
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute figures: the machine
// may be shared, and the figures depend on it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// ratiosOf returns sinch_hms req/s / respond req/s of each round pair.
func ratiosOf(tok, resp summary) []float64 {
	n := min(len(tok.perRounds), len(resp.perRounds))
	r := make([]float64, n)
	for i := range n {
		r[i] = tok.perRounds[i] / resp.perRounds[i]
	}
	return r
}

func pairRatios(tok, resp summary) string {
	var b strings.Builder
	for i, r := range ratiosOf(tok, resp) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.2f", r)
	}
	return b.String()
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
