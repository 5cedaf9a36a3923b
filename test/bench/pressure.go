package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// pressure is a snapshot of the kernel's pressure stall information: how
// long, in total, some task waited for a CPU or for I/O. The difference
// between two snapshots over the wall time between them is the share of
// that time someone was stalled, which tells how contended the (shared)
// machine was during a measurement.
type pressure struct {
	at        time.Time
	cpu, io   time.Duration
	available bool
}

func readPressure() pressure {
	p := pressure{at: time.Now()}
	cpu, ok1 := psiSomeTotal("/proc/pressure/cpu")
	io, ok2 := psiSomeTotal("/proc/pressure/io")
	p.cpu, p.io, p.available = cpu, io, ok1 && ok2
	return p
}

// psiSomeTotal reads the "some ... total=<µs>" line of a PSI file.
func psiSomeTotal(path string) (time.Duration, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "some ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, false
				}
				return time.Duration(us) * time.Microsecond, true
			}
		}
	}
	return 0, false
}

// stall is the share of time between p and later during which some task
// waited for a CPU, and for I/O, in percent.
type stall struct {
	cpu, io   float64
	available bool
}

func (p pressure) until(later pressure) stall {
	wall := later.at.Sub(p.at)
	if !p.available || !later.available || wall <= 0 {
		return stall{}
	}
	return stall{
		cpu:       100 * float64(later.cpu-p.cpu) / float64(wall),
		io:        100 * float64(later.io-p.io) / float64(wall),
		available: true,
	}
}
