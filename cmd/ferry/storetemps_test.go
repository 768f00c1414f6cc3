package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
)

// TestIngestPipelineRemovesCrashTemps: a crash while a quarantine or held
// entry (or a held bundle) was being written leaves a dot-named temporary
// file holding the input, in the clear without a key. No listing shows
// it and no purge removes it; building the pipeline (the gateway, backfill
// and quarantine replay, all holding the queue's lock) removes it, and
// leaves the stored entries alone.
func TestIngestPipelineRemovesCrashTemps(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	leftovers := map[string]string{}
	for _, store := range []string{"quarantine", "held"} {
		dir := cfg.Path(store)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, ".01JB0000000000000000000000.json.tmp-123456")
		if err := os.WriteFile(tmp, []byte(`{"raw":"MSH|^~\\&|...PID|||MRN-31337||DOE^JANE"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		entry := filepath.Join(dir, "01JB0000000000000000000001.json")
		if err := os.WriteFile(entry, []byte(`{}`), 0o600); err != nil {
			t.Fatal(err)
		}
		leftovers[tmp] = entry
	}
	if _, _, err := ingestPipeline(cfg, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil); err != nil {
		t.Fatal(err)
	}
	for tmp, entry := range leftovers {
		if _, err := os.Stat(tmp); err == nil {
			t.Errorf("%s: a crash's half-written entry is still there", tmp)
		}
		if _, err := os.Stat(entry); err != nil {
			t.Errorf("%s: a stored entry went: %v", entry, err)
		}
	}
}

// TestIngestPipelineRemovesHeldOrphans: a crash while a spilled bundle (a
// fax) was being held, after its copy into the held store was committed
// and before its entry was, leaves <id>.bundle.json (the whole document,
// hundreds of MB) and <id>.later without an entry. No listing shows them,
// no discard can name them (the input is held again under a new id when
// the source sends it again), so they stayed for good; building the
// pipeline removes them, and leaves the entries' own files alone.
func TestIngestPipelineRemovesHeldOrphans(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		t.Fatal(err)
	}
	spill := filepath.Join(t.TempDir(), "fax.json")
	if err := os.WriteFile(spill, []byte(`{"resourceType":"Bundle","type":"transaction","entry":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := held.Put(adapters.Raw{Source: "fax/in", Format: "fax", Name: "fax1.pdf"}, &pipeline.Unit{Name: "fax", BodyFile: spill}, "R")
	if err != nil {
		t.Fatal(err)
	}
	kept := []string{id + ".json", id + ".bundle.json"}
	// What the crash left of the next fax held.
	orphan := "01JB0000000000000000000009"
	left := []string{orphan + ".bundle.json", orphan + ".later"}
	for _, n := range left {
		if err := os.WriteFile(filepath.Join(cfg.Path("held"), n), []byte(`{"resourceType":"Bundle"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ingestPipeline(cfg, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range left {
		if _, err := os.Stat(filepath.Join(cfg.Path("held"), n)); err == nil {
			t.Errorf("%s: left by a crash without its entry, still there", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(cfg.Path("held"), n)); err != nil {
			t.Errorf("%s: a held entry's file went: %v", n, err)
		}
	}
}
