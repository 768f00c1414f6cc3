package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"time"
)

// procStats is what the operating system says about this process, for
// the standard process_* metrics that dashboards and alerts built for any
// Prometheus exporter expect (a slow leak of memory or file handles shows
// there long before the service fails). Each has* flag says whether this
// OS gave the figure; a figure it cannot give is left out, not sent as 0.
type procStats struct {
	cpuSeconds     float64 // user + system time
	residentBytes  int64   // resident set (Windows: working set)
	openFDs        int64   // open file descriptors (Windows: handles)
	maxFDs         int64   // the soft limit on open file descriptors
	hasCPU, hasRSS bool
	hasFDs, hasMax bool
}

// heapObjects is the runtime metric behind go_memstats_heap_alloc_bytes:
// read through runtime/metrics, which does not stop the world as
// runtime.ReadMemStats does.
const heapObjects = "/memory/classes/heap/objects:bytes"

// writeProcessMetrics writes the process_* and go_* families of the
// Prometheus client libraries (same names, types and units) for this
// process. start is when the gateway started, which the process did
// moments before: close enough for an uptime or restart alert.
func writeProcessMetrics(w io.Writer, start time.Time) {
	m := func(name, typ, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", name, help, name, typ, name, v)
	}
	p := readProcStats()
	if p.hasCPU {
		m("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", p.cpuSeconds)
	}
	if p.hasRSS {
		m("process_resident_memory_bytes", "gauge", "Resident memory size in bytes (Windows: working set).", float64(p.residentBytes))
	}
	if p.hasFDs {
		m("process_open_fds", "gauge", "Number of open file descriptors (Windows: open handles).", float64(p.openFDs))
	}
	if p.hasMax {
		m("process_max_fds", "gauge", "Maximum number of open file descriptors.", float64(p.maxFDs))
	}
	if !start.IsZero() {
		m("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", float64(start.UnixNano())/1e9)
	}
	m("go_goroutines", "gauge", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		m("go_memstats_heap_alloc_bytes", "gauge", "Number of heap bytes allocated and still in use.", float64(s[0].Value.Uint64()))
	}
}
