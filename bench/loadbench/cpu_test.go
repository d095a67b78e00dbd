package main

import (
	"os"
	"testing"
	"time"
)

func TestSummarizeCPUPerRequest(t *testing.T) {
	lat := make([]time.Duration, 4)
	rounds := []round{
		{route: "a", elapsed: time.Second, lat: lat, caddyCPU: 400 * time.Microsecond, clientCPU: 40 * time.Microsecond, cpuKnown: true},
		{route: "a", elapsed: time.Second, lat: lat, caddyCPU: 400 * time.Microsecond, clientCPU: 40 * time.Microsecond, cpuKnown: true},
	}
	s := summarize("a", rounds)
	if s.caddyCPUPerReq != 100*time.Microsecond || s.clientCPUPerReq != 10*time.Microsecond {
		t.Errorf("CPU per request = %v and %v, want 100µs and 10µs", s.caddyCPUPerReq, s.clientCPUPerReq)
	}
	rounds[1].cpuKnown = false
	if s := summarize("a", rounds); s.caddyCPUPerReq != 0 {
		t.Errorf("a round without CPU figures still gave %v per request", s.caddyCPUPerReq)
	}
}

// TestProcessCPUGrows reads this process's own CPU time from /proc while
// it works: the figure must grow (by a clock tick at least) within a few
// seconds, however loaded the machine.
func TestProcessCPUGrows(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Skip("no /proc/<pid>/stat here")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if now, _ := processCPU(os.Getpid()); now > before {
			return
		}
	}
	t.Errorf("CPU time stayed at %v through 5s of work", before)
}

func TestProcessCPUOfNoProcess(t *testing.T) {
	if _, ok := processCPU(-1); ok {
		t.Error("processCPU(-1) reported a figure")
	}
}
