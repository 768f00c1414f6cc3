package main

import (
	"os"
	"runtime"
)

// spareProc gives the gateway one P (Go's right to run Go code) more than
// its default, which is the CPUs it may use: on Linux the queue keeps its
// P through a commit's direct write and fdatasync (queue/diskq/hold.go),
// and without a spare P a commit in the kernel would leave a CPU idle that
// a conversion could use. A GOMAXPROCS set in the environment is kept as
// it is. It returns the number of Ps the gateway runs with.
func spareProc() int {
	if runtime.GOOS != "linux" || os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := runtime.GOMAXPROCS(0) + 1
	runtime.GOMAXPROCS(n)
	return n
}
