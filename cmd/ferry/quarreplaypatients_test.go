package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestQuarantineReplayNamesEveryPatient: an EHR export's CSV file is
// quarantined whole when a row does not map (here no mapping matched its
// name), every patient in it. Replayed once the mapping is fixed, each
// of those patients' data is converted again and sent on by a person's
// decision: the trail must name each patient, as the deliveries will.
// DICOM's Patient Record message (PS3.15 A.5.3.9) names one patient, so
// there is one replay event per patient, each with that patient's first
// queue item. Before, the event named the first patient only, and a
// security officer asking who sent the second patient's record on found
// no replay.
func TestQuarantineReplayNamesEveryPatient(t *testing.T) {
	repo := newUDPRepo(t)
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	if err := os.MkdirAll(drop, 0o700); err != nil {
		t.Fatal(err)
	}
	folders := func(match string) string {
		return fmt.Sprintf(`sources:
  folders:
    - name: ehr
      kind: ehr
      path: %q
      csv:
        - match: %q
          resource: Patient
          identifier: {column: MRN, system: "urn:oid:1.2.3"}
          columns: {Last: name.family}
`, drop, match)
	}
	_, cfg := auditCfgFile(t, dir, repo.URL(), folders("other*.csv"))
	body := "MRN,Last\n7,Doe\n8,Roe\n"
	sum := sha256.Sum256([]byte(body))
	in := adapters.Raw{Source: "folder/ehr", Format: "csv", Name: "patients_1.csv", Body: []byte(body), Size: int64(len(body)), Received: time.Now().UTC(),
		Meta: map[string]string{folder.MetaFolder: "ehr", folder.MetaFile: "patients_1.csv", folder.MetaSHA256: hex.EncodeToString(sum[:])}}
	if errs := ingest(t, cfg, in); !queue.IsPermanent(errs[0]) {
		t.Fatalf("%v, want quarantined", errs[0])
	}
	cfgFile, cfg := auditCfgFile(t, dir, repo.URL(), folders("patients*.csv"))
	ids := quarantineIDs(t, cfg)
	if len(ids) != 1 {
		t.Fatalf("quarantined: %v, want the file as one entry", ids)
	}
	if out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	q, err := diskq.Open(cfg.Path("queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pend := q.Pending(0)
	q.Close(context.Background())
	items := map[string]string{} // patient key to its first queue item
	for _, p := range pend {
		if _, ok := items[p.Key]; !ok && p.Key != "" {
			items[p.Key] = p.ID
		}
	}
	if len(items) != 2 {
		t.Fatalf("queued: %+v, want two patients' bundles", pend)
	}
	// A purge of no entry records one event after the replay's: the
	// events are read up to it.
	runQuarantine(t, "purge", "01NOSUCHID0000000000000000", "--config", cfgFile)
	var replays []string
	for ev := repo.next(); !strings.Contains(ev, "quarantine-purge"); ev = repo.next() {
		if strings.Contains(ev, "quarantine-replay") {
			replays = append(replays, ev)
		}
	}
	for k, qid := range items {
		found := false
		for _, ev := range replays {
			if strings.Contains(ev, `ParticipantObjectID="`+k+`"`) {
				found = true
				wantIn(t, "the replay's event of patient "+k, ev, `ParticipantObjectID="`+ids[0]+`"`, `ParticipantObjectID="`+qid+`"`,
					`EventOutcomeIndicator="0"`, `UserID="`+me(t)+`"`)
			}
		}
		if !found {
			t.Errorf("no replay event names patient %s (queue item %s); the replay's events:\n%s", k, qid, strings.Join(replays, "\n"))
		}
	}
	for _, ev := range replays {
		if n := strings.Count(ev, `ParticipantObjectTypeCode="1"`); n != 1 {
			t.Errorf("a replay event names %d patients, want 1 (DICOM Patient Record):\n%s", n, ev)
		}
	}
}
