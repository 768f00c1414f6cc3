package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// TestFailedStartAudited: a gateway whose start fails after the audit
// trail is up (an MLLP port another program holds) recorded Application
// Start and then Application Stop, both with outcome 0, so the repository
// showed a run that took no input as a normal one. DICOM PS3.15 A.5.2:
// EventOutcomeIndicator "Indicates whether the event succeeded or
// failed"; the stop of a run that never started now says it failed
// (serious failure, 8) and why.
func TestFailedStartAudited(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	repo := newUDPRepo(t)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  mllp:
    - name: main
      listen: %s
`, t.TempDir(), repo.URL(), taken.Addr().String())
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	startErr := gw.Start(context.Background())
	if startErr == nil {
		t.Fatal("the gateway started on a port in use")
	}
	// Read while the sink runs: a stop that comes before its sender has
	// dialled spools what is queued for the next start (the dial is cut
	// by the stop), which a loaded machine showed.
	wantIn(t, "start event", repo.next(), `csd-code="110120"`)
	gw.Shutdown(context.Background())
	stop := repo.next()
	wantIn(t, "stop event", stop, `csd-code="110121"`, `EventOutcomeIndicator="8"`, "did not start")
	if strings.Contains(stop, `EventOutcomeIndicator="0"`) {
		t.Errorf("stop event of a failed start: %s", stop)
	}
}

// TestFailedStartStartEventFails: the Application Start event of a start
// that failed (an MLLP port another program holds) was recorded before
// the sources were started, always with outcome 0, so the repository
// read a successful start followed by a failed stop. DICOM PS3.15 A.5.2:
// EventOutcomeIndicator "Indicates whether the event succeeded or
// failed"; the event is now recorded once the start has ended, with its
// outcome, and still dated when the start began.
func TestFailedStartStartEventFails(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	repo := newUDPRepo(t)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
sources:
  mllp:
    - name: main
      listen: %s
`, t.TempDir(), repo.URL(), taken.Addr().String())
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if gw.Start(context.Background()) == nil {
		t.Fatal("the gateway started on a port in use")
	}
	defer gw.Shutdown(context.Background())
	start := repo.next() // while the sink runs, as in TestFailedStartAudited
	wantIn(t, "start event", start, `csd-code="110120"`, `EventOutcomeIndicator="8"`, "did not start", taken.Addr().String())
	if strings.Contains(start, `EventOutcomeIndicator="0"`) {
		t.Errorf("start event of a failed start: %s", start)
	}
}
