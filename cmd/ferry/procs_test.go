package main

import (
	"runtime"
	"testing"
)

func TestSpareProc(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })

	t.Setenv("GOMAXPROCS", "")
	got := spareProc()
	want := was
	if runtime.GOOS == "linux" {
		want = was + 1
	}
	if got != want || runtime.GOMAXPROCS(0) != want {
		t.Fatalf("spareProc with GOMAXPROCS unset: %d Ps (reported %d), want %d", runtime.GOMAXPROCS(0), got, want)
	}

	runtime.GOMAXPROCS(was)
	t.Setenv("GOMAXPROCS", "1")
	if got := spareProc(); got != was || runtime.GOMAXPROCS(0) != was {
		t.Fatalf("spareProc with GOMAXPROCS set: %d Ps (reported %d), want %d, the environment's", runtime.GOMAXPROCS(0), got, was)
	}
}
