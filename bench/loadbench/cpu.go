package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux this runs on).
const clockTick = 10 * time.Millisecond

// processCPU returns the user+system CPU time a process has used so far,
// all its threads together, from /proc/<pid>/stat (Linux); ok is false
// where that cannot be read.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, field 2, may contain spaces; it ends at the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // utime and stime are fields 14 and 15: f[11], f[12]
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// selfCPU returns the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the CPU that Caddy and the load generator spend over
// one round: on a shared machine the CPU cost per request is steadier
// than requests per second, and it shows which side a difference is on.
type cpuMeter struct {
	caddyPID              int
	caddyStart, selfStart time.Duration
	ok                    bool
}

func startCPU(caddyPID int) cpuMeter {
	c, ok := processCPU(caddyPID)
	return cpuMeter{caddyPID: caddyPID, caddyStart: c, selfStart: selfCPU(), ok: ok}
}

// stop returns the CPU Caddy and the load generator used since start.
func (m cpuMeter) stop() (caddy, self time.Duration, ok bool) {
	c, ok := processCPU(m.caddyPID)
	return c - m.caddyStart, selfCPU() - m.selfStart, ok && m.ok
}
