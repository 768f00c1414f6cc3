package main

import (
	"context"
	"io"
	"testing"
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
