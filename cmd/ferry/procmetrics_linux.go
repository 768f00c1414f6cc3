package main

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// readProcStats reads CPU time from getrusage, the resident set from
// /proc/self/statm and counts /proc/self/fd.
func readProcStats() procStats {
	var p procStats
	p.cpuSeconds, p.hasCPU = rusageCPU()
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := bytes.Fields(b); len(f) > 1 {
			if pages, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
				p.residentBytes, p.hasRSS = pages*int64(os.Getpagesize()), true
			}
		}
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, err := d.Readdirnames(-1)
		d.Close()
		if err == nil {
			// The descriptor Readdirnames read through is among them.
			p.openFDs, p.hasFDs = int64(len(names)-1), true
		}
	}
	p.maxFDs, p.hasMax = rlimitFiles()
	return p
}

func rusageCPU() (float64, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, true
}

func rlimitFiles() (int64, bool) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0, false
	}
	return int64(rl.Cur), true
}
