package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
)

// TestQuarantineReplayRefusedAudited: a replay refused because newer
// data of the input's patient waits in the queue (the operator is to
// check the patient's record first) converted the input and weighed that
// patient's data: its event must name the patient, whose key the refusal
// prints, and say the replay was refused by that rule, not that it
// failed (DICOM outcome 4, minor failure: not performed, as a hold by
// policy is recorded). Before, it named no patient, with outcome 8,
// "replay failed", as a crash would be.
func TestQuarantineReplayRefusedAudited(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	_, cfg := auditCfgFile(t, dir, repo.URL(), tooSmall)
	ingest(t, cfg, mllpInput(fmt.Sprintf(testADT, 1, 1), 1))
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL(), "")
	id := quarantineIDs(t, cfg)[0]
	a08 := strings.Replace(fmt.Sprintf(testADT, 2, 1), "A01", "A08", 2)
	if errs := ingest(t, cfg, mllpInput(a08, 2)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pend := q.Pending(0)
	q.Close(context.Background())
	if len(pend) != 1 {
		t.Fatalf("queued: %+v", pend)
	}
	out, err := runQuarantine(t, "replay", id, "--config", cfgFile)
	if err == nil || !strings.Contains(out, "--force") {
		t.Fatalf("replay past newer data waiting: %v\n%s", err, out)
	}
	ev := repo.next()
	for !strings.Contains(ev, "quarantine-replay") {
		ev = repo.next()
	}
	wantIn(t, "the refused replay's event", ev, `ParticipantObjectID="`+id+`"`, `ParticipantObjectID="`+pend[0].Key+`"`,
		`EventOutcomeIndicator="4"`, "refused")
}
