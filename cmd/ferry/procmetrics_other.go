//go:build !linux && !windows

package main

// readProcStats gives nothing here: the process_* families are left out
// (go_* and process_start_time_seconds are still written).
func readProcStats() procStats { return procStats{} }
