package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// TestGatewayStartStopAudited: ATNA's actor-start-stop trigger (ITI-20)
// and DICOM PS3.15 A.5.3.1: a secure application records its own start
// and stop as Application Activity (DCM 110100) with event type
// Application Start (110120) or Application Stop (110121), the
// application itself as the active participant in role 110150. A gap
// in the trail (ferry stopped, events not recorded) is otherwise
// invisible to the repository.
func TestGatewayStartStopAudited(t *testing.T) {
	repo := newUDPRepo(t)
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
`, t.TempDir(), repo.URL())
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := repo.next()
	wantIn(t, "start event", start, `csd-code="110100"`, `csd-code="110120"`, `EventActionCode="E"`, `EventOutcomeIndicator="0"`,
		`UserID="clinic-7-ferry"`, `csd-code="110150"`, `AuditSourceID="clinic-7-ferry"`)
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := repo.next()
	wantIn(t, "stop event", stop, `csd-code="110100"`, `csd-code="110121"`, `EventActionCode="E"`, `UserID="clinic-7-ferry"`,
		`csd-code="110150"`)
}

// TestUncleanStopAudited: a run that ended without stopping (its marker
// left in <data_dir>/audit, as a crash, kill -9 or a power cut leaves it)
// lost the events it had not yet sent or spooled. The next start tells
// the repository so, as Audit Recording Stopped naming that run, instead
// of leaving a start without a stop to be noticed. A clean stop removes
// the marker, so the start after it reports nothing; a backup leaves the
// marker out.
func TestUncleanStopAudited(t *testing.T) {
	repo := newUDPRepo(t)
	data := t.TempDir()
	cfg := parseConfig(t, `
data_dir: %q
audit: {url: %q, source_id: clinic-7-ferry}
`, data, repo.URL())
	marker := filepath.Join(data, "audit", ops.RunMarker)
	os.MkdirAll(filepath.Dir(marker), 0o700)
	if err := os.WriteFile(marker, []byte("pid=4242 started=2026-11-27T02:30:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *gateway {
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gw.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return gw
	}
	gw := start()
	wantIn(t, "start event", repo.next(), `csd-code="110120"`)
	wantIn(t, "gap alert", repo.next(), `csd-code="110113"`, `csd-code="110133"`, `EventOutcomeIndicator="8"`,
		`process 4242, started 2026-11-27T02:30:00Z`, `UserID="clinic-7-ferry"`)
	b, err := os.ReadFile(marker)
	if err != nil || !strings.Contains(string(b), fmt.Sprintf("pid=%d ", os.Getpid())) {
		t.Fatalf("this run's marker: %q, %v", b, err)
	}
	var archive bytes.Buffer
	m, err := ops.WriteBackup(&archive, ops.BackupOptions{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if strings.HasSuffix(f.Path, "/"+ops.RunMarker) {
			t.Errorf("the backup holds the run marker %s", f.Path)
		}
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantIn(t, "stop event", repo.next(), `csd-code="110121"`)
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("a clean stop left the marker: %v", err)
	}
	gw = start()
	wantIn(t, "start event after a clean stop", repo.next(), `csd-code="110120"`)
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := repo.next(); !strings.Contains(ev, `csd-code="110121"`) {
		t.Errorf("after a clean stop the next start reported more than its start: %s", ev)
	}
}
