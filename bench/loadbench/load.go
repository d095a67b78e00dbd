package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// newClient returns a keep-alive HTTP/1.1 client that keeps up to conns
// connections to the one host.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// post sends one form POST and returns the status and the whole body.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

// round is the outcome of one measured round against one route.
type round struct {
	route     string
	elapsed   time.Duration
	lat       []time.Duration // one per request
	caddyCPU  time.Duration   // CPU Caddy used during the round
	clientCPU time.Duration   // CPU the load generator used during the round
	cpuKnown  bool            // false where /proc cannot be read
}

// runRound sends every body once to url from `workers` goroutines over
// keep-alive connections and records each request's latency. Every answer
// must be a 200 of wantBytes bytes: a benchmark of failures measures
// nothing.
func runRound(ctx context.Context, client *http.Client, route, url string, bodies [][]byte, workers, wantBytes int) (round, error) {
	r := round{route: route, lat: make([]time.Duration, len(bodies))}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				status, answer, err := post(ctx, client, url, bodies[i])
				r.lat[i] = time.Since(t0)
				if err == nil && (status != http.StatusOK || len(answer) != wantBytes) {
					err = fmt.Errorf("%s: status %d, %d bytes (want 200, %d bytes): %.200s", route, status, len(answer), wantBytes, answer)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r, firstErr
}

// burst sends every body at once, each on its own goroutine (and so its
// own connection), and returns the time until the last answer and the set
// of access tokens answered.
func burst(ctx context.Context, url string, bodies [][]byte) (time.Duration, map[string]int, error) {
	client := newClient(len(bodies))
	defer client.CloseIdleConnections()
	tokens := make([]string, len(bodies))
	errs := make([]error, len(bodies))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() {
			<-gate
			status, answer, err := post(ctx, client, url, bodies[i])
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d: %.200s", status, answer)
			}
			var a struct {
				AccessToken string `json:"access_token"`
			}
			if err == nil {
				err = json.Unmarshal(answer, &a)
			}
			tokens[i], errs[i] = a.AccessToken, err
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	seen := map[string]int{}
	for i, tok := range tokens {
		if errs[i] != nil {
			return elapsed, nil, fmt.Errorf("burst request %d: %w", i, errs[i])
		}
		seen[tok]++
	}
	return elapsed, seen, nil
}

// summary is a route's result over all its rounds.
type summary struct {
	route     string
	requests  int
	elapsed   time.Duration
	rps       float64
	p50, p99  time.Duration
	perRounds []float64 // req/s of each round

	caddyCPUPerReq, clientCPUPerReq time.Duration // 0 when not measured
}

// summarize merges the rounds of one route.
func summarize(route string, rounds []round) summary {
	s := summary{route: route}
	var lat []time.Duration
	var caddyCPU, clientCPU time.Duration
	cpuKnown := true
	for _, r := range rounds {
		if r.route != route {
			continue
		}
		caddyCPU, clientCPU, cpuKnown = caddyCPU+r.caddyCPU, clientCPU+r.clientCPU, cpuKnown && r.cpuKnown
		s.requests += len(r.lat)
		s.elapsed += r.elapsed
		s.perRounds = append(s.perRounds, float64(len(r.lat))/r.elapsed.Seconds())
		lat = append(lat, r.lat...)
	}
	if s.requests == 0 {
		return s
	}
	s.rps = float64(s.requests) / s.elapsed.Seconds()
	if cpuKnown {
		s.caddyCPUPerReq = caddyCPU / time.Duration(s.requests)
		s.clientCPUPerReq = clientCPU / time.Duration(s.requests)
	}
	slices.Sort(lat)
	s.p50 = quantile(lat, 0.50)
	s.p99 = quantile(lat, 0.99)
	return s
}

// quantile returns the q-quantile of sorted latencies (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
