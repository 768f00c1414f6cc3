package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

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
	if _, _, err := ingestPipeline(cfg, nil, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil); err != nil {
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
