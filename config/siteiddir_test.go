package config

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue/durable"
)

// TestSiteIDSyncsNewDataDir: EnsureSiteID made a missing data_dir with
// os.MkdirAll and synced only the data_dir itself after linking the id
// in, so the data_dir's own entry in its parent was never synced: a
// power cut after `ferry backfill` or `ferry quarantine replay` on a new
// installation (which make the data_dir this way) could lose the site id
// and everything stored beside it, and the next start would mint a new
// id, giving every identifier ferry minted new systems. Every folder it
// makes now has its parent synced, as durable.MkdirAll does.
func TestSiteIDSyncsNewDataDir(t *testing.T) {
	base := t.TempDir()
	c := Default()
	c.DataDir = filepath.Join(base, "ferry", "data")
	var mu sync.Mutex
	synced := map[string]bool{}
	defer durable.TraceSyncDir(func(dir string) {
		mu.Lock()
		synced[filepath.Clean(dir)] = true
		mu.Unlock()
	})()
	if _, err := c.EnsureSiteID(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, dir := range []string{base, filepath.Join(base, "ferry"), c.DataDir} {
		if !synced[dir] {
			t.Errorf("%s was not synced after EnsureSiteID made a folder in it", dir)
		}
	}
}
