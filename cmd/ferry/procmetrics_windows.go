package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	kernel32                    = windows.NewLazySystemDLL("kernel32.dll")
	procK32GetProcessMemoryInfo = kernel32.NewProc("K32GetProcessMemoryInfo")
	procGetProcessHandleCount   = kernel32.NewProc("GetProcessHandleCount")
)

// processMemoryCounters is PROCESS_MEMORY_COUNTERS (psapi.h).
type processMemoryCounters struct {
	cb                         uint32
	pageFaultCount             uint32
	peakWorkingSetSize         uintptr
	workingSetSize             uintptr
	quotaPeakPagedPoolUsage    uintptr
	quotaPagedPoolUsage        uintptr
	quotaPeakNonPagedPoolUsage uintptr
	quotaNonPagedPoolUsage     uintptr
	pagefileUsage              uintptr
	peakPagefileUsage          uintptr
}

// readProcStats asks Windows for the process's CPU times, working set and
// handle count (files, sockets, events: what leaks there shows).
func readProcStats() procStats {
	var p procStats
	h := windows.CurrentProcess()
	var created, exited, kernel, user windows.Filetime
	if windows.GetProcessTimes(h, &created, &exited, &kernel, &user) == nil {
		p.cpuSeconds, p.hasCPU = float64(ticks(kernel)+ticks(user))/1e7, true
	}
	if procK32GetProcessMemoryInfo.Find() == nil {
		var c processMemoryCounters
		c.cb = uint32(unsafe.Sizeof(c))
		if r, _, _ := procK32GetProcessMemoryInfo.Call(uintptr(h), uintptr(unsafe.Pointer(&c)), uintptr(c.cb)); r != 0 {
			p.residentBytes, p.hasRSS = int64(c.workingSetSize), true
		}
	}
	if procGetProcessHandleCount.Find() == nil {
		var n uint32
		// A process always holds handles; 0 is an API that only
		// pretends (Wine's), not a figure to graph.
		if r, _, _ := procGetProcessHandleCount.Call(uintptr(h), uintptr(unsafe.Pointer(&n))); r != 0 && n > 0 {
			p.openFDs, p.hasFDs = int64(n), true
		}
	}
	return p
}

// ticks is a FILETIME duration in 100 ns intervals.
func ticks(f windows.Filetime) uint64 { return uint64(f.HighDateTime)<<32 | uint64(f.LowDateTime) }
