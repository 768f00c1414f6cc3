package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// TestQuarantineReplayNDJSONLineTooLong: an NDJSON line longer than the
// 64 MiB ferry reads (a DocumentReference with its scan inline) was
// quarantined with only its first 64 KiB, so `ferry quarantine replay`
// fed that start as an NDJSON file of its own and quarantined it again
// as "not valid JSON" of line 1, the real reason (and the line's number
// in the file) gone. Such a line keeps its reason and its number through
// a replay, which says the file in failed/ holds it; each long line of
// the file is an entry of its own, once.
func TestQuarantineReplayNDJSONLineTooLong(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, "")
	path := filepath.Join(dir, "DocumentReference.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("JVBERi0xLjQK", 1<<16)
	for i := 1; i <= 4; i++ {
		if i%2 == 1 {
			fmt.Fprintf(f, `{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`+"\n", i)
			continue
		}
		fmt.Fprintf(f, `{"resourceType":"DocumentReference","id":"d%d","status":"current","content":[{"attachment":{"data":"`, i)
		for range 64<<20/len(chunk) + 1 {
			f.WriteString(chunk)
		}
		f.WriteString(`"}}]}` + "\n")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "folder/ehr", Format: "fhir-ndjson", Name: "DocumentReference.ndjson", Received: time.Now().UTC(),
		Meta: map[string]string{folder.MetaFolder: "ehr", folder.MetaFile: "DocumentReference.ndjson", folder.MetaSHA256: "5eed"},
		Open: func() (io.ReadCloser, error) { return os.Open(path) }}
	// Taken twice, as after a later batch found the queue full: its
	// lines are quarantined once.
	again := in
	again.Meta = maps.Clone(in.Meta)
	again.Meta[folder.MetaAttempt] = "2"
	for _, err := range ingest(t, cfg, in, again) {
		if !queue.IsPermanent(err) {
			t.Fatalf("Consume = %v, want the long lines quarantined", err)
		}
	}
	check := func(when string) []string {
		t.Helper()
		ids := quarantineIDs(t, cfg)
		quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		key, _ := opsKey(cfg)
		quar.SetKey(key)
		var units []string
		for _, id := range ids {
			e, err := quar.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(e.Reason, "longer than 64 MiB") {
				t.Errorf("%s: entry %s (%s) has reason %q, want the line too long", when, id, e.Meta["unit"], e.Reason)
			}
			units = append(units, e.Meta["unit"])
		}
		if got := strings.Join(units, ", "); got != "line 2, line 4" {
			t.Errorf("%s: the quarantine holds %q, want line 2, line 4", when, got)
		}
		return ids
	}
	ids := check("quarantined")
	if len(ids) == 0 {
		t.FailNow()
	}
	out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile)
	if err == nil {
		t.Errorf("replay of the long line succeeded:\n%s", out)
	}
	check("after a replay")
}

// TestQuarantineReplayNDJSONLineKeepsNumber: an NDJSON line quarantined
// is kept as that line alone, named by its number in the file ("line
// 3"); replayed while it still fails, it was read as a file of one line
// and quarantined again as "line 1", the error and `ferry quarantine
// show` then sending the contractor to the file's first line. It keeps
// its number.
func TestQuarantineReplayNDJSONLineKeepsNumber(t *testing.T) {
	dir := t.TempDir()
	cfgFile, cfg := quarCfg(t, dir, "")
	obs := func(i int) string {
		return fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`+"\n", i)
	}
	body := obs(1) + obs(2) + `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}` + "\n" + obs(4)
	in := adapters.Raw{Source: "folder/ehr", Format: "fhir-ndjson", Name: "Observation.ndjson", Received: time.Now().UTC(), Body: []byte(body),
		Meta: map[string]string{folder.MetaFolder: "ehr", folder.MetaFile: "Observation.ndjson", folder.MetaSHA256: "5eed"}}
	if err := ingest(t, cfg, in)[0]; !queue.IsPermanent(err) || !strings.Contains(err.Error(), "line 3: ") {
		t.Fatalf("Consume = %v, want line 3 quarantined", err)
	}
	ids := quarantineIDs(t, cfg)
	if len(ids) != 1 {
		t.Fatalf("quarantine holds %v", ids)
	}
	out, err := runQuarantine(t, "replay", ids[0], "--config", cfgFile)
	if err == nil || !strings.Contains(out, "still fails") {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	ids = quarantineIDs(t, cfg)
	if len(ids) != 1 {
		t.Fatalf("after the replay the quarantine holds %v", ids)
	}
	out, err = runQuarantine(t, "show", ids[0], "--config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "unit:      line 3\n") || strings.Contains(out, "line 1") {
		t.Errorf("after a replay the entry shows:\n%s\nwant it named line 3", out)
	}
}
