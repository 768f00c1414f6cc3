package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// TestShutdownLeavesStuckJobAtDeadline: a scheduled job that does not
// end (a retention pass held in a file-system call by a done_dir on a
// file server that stopped answering) kept the stop waiting for it
// gocron's own 10 seconds past the stop's deadline (11 in all), whatever
// that deadline was: a stop logged "at_most=30s" took 41, and delivery
// and the audit trail after it had none of the deadline left. The stop
// waits for a job under way until its deadline, then goes on without it
// and says so.
func TestShutdownLeavesStuckJobAtDeadline(t *testing.T) {
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, t.TempDir())
	var logs lockedBuffer
	gw, err := newGateway(cfg, newLogger(&logs, "info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	running, release := make(chan struct{}), make(chan struct{})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(unblock)
	if _, err := gw.sched.NewJob(gocron.OneTimeJob(gocron.OneTimeJobStartImmediately()),
		gocron.NewTask(func() { close(running); <-release }), gocron.WithName("stuck")); err != nil {
		t.Fatal(err)
	}
	<-running
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- gw.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		if err == nil || !strings.Contains(err.Error(), "stop scheduler") {
			t.Errorf("Shutdown = %v, want it to say the scheduled jobs had not ended", err)
		}
	case <-time.After(5 * time.Second):
		// gocron's wait (10 s) has not ended: the job is let go to
		// see the stop return at all.
		unblock()
		<-stopped
		t.Fatal("the stop waited for a stuck scheduled job long past its deadline (300 ms)")
	}
	unblock()
}
