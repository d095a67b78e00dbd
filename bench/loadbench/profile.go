package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profileSeconds is how long -cpuprofile samples Caddy.
const profileSeconds = 5

// profileRoutes runs one more round per route, each sized to last about
// profileSeconds at its measured rate, while Caddy's admin API samples its
// CPU (Go's pprof endpoint), and writes the token endpoint's profile to
// path and respond's to path + ".respond": where the time goes under load,
// for `go tool pprof -diff_base <path>.respond <caddy> <path>`.
func (m *measurement) profileRoutes(ctx context.Context, adminPort int, secret, path string, answerBytes int) error {
	for _, route := range []struct{ name, url, path string }{
		{"sinch_hms", m.tokenURL, path},
		{"respond", m.respondURL, path + ".respond"},
	} {
		n := int(summarize(route.name, m.rounds).rps*profileSeconds*1.2) + 1
		fmt.Printf("profiling Caddy over %d more %s requests ...\n", n, route.name)
		bodies, err := mintBodies(secret, m.tokenURL, n)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- fetchProfile(ctx, adminPort, route.path) }()
		client := newClient(m.o.workers)
		_, err = runRound(ctx, client, route.name, route.url, bodies, m.o.workers, answerBytes)
		client.CloseIdleConnections()
		if err != nil {
			return err
		}
		if err := <-done; err != nil {
			return err
		}
		fmt.Printf("CPU profile of Caddy (%s) written to %s\n", route.name, route.path)
	}
	return nil
}

// fetchProfile saves /debug/pprof/profile of the admin API to path.
func fetchProfile(ctx context.Context, adminPort int, path string) error {
	url := fmt.Sprintf("http://localhost:%d/debug/pprof/profile?seconds=%d", adminPort, profileSeconds)
	ctx, cancel := context.WithTimeout(ctx, (profileSeconds+10)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: admin API answered %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	return f.Close()
}
