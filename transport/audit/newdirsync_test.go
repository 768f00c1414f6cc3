package audit

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue/durable"
)

// traceSyncs records the directories synced until the test ends.
func traceSyncs(t *testing.T) func(dir string) bool {
	var mu sync.Mutex
	synced := map[string]bool{}
	t.Cleanup(durable.TraceSyncDir(func(dir string) {
		mu.Lock()
		synced[filepath.Clean(dir)] = true
		mu.Unlock()
	}))
	return func(dir string) bool {
		mu.Lock()
		defer mu.Unlock()
		return synced[filepath.Clean(dir)]
	}
}

// TestNewAuditFoldersSyncedIntoParents: the spool and the hand-off
// folder were made with os.MkdirAll, and only their own entries synced
// (a segment's, a hand-off file's), never theirs in the folder above: a
// power cut after the first events were spooled, or after a command
// handed its events off and exited, could lose the folder and every
// event in it, an audit trail (ATNA) with a hole no one is told of. Each
// folder made is now synced into its parent.
func TestNewAuditFoldersSyncedIntoParents(t *testing.T) {
	base := t.TempDir()
	synced := traceSyncs(t)
	sp, err := openSpool(filepath.Join(base, "spool-parent", "spool"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	e, err := NewEmitter(Options{URL: "udp://127.0.0.1:514", SourceID: "x", HandoffDir: filepath.Join(base, "handoff-parent", "handoff")})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	for _, dir := range []string{base, filepath.Join(base, "spool-parent"), filepath.Join(base, "handoff-parent")} {
		if !synced(dir) {
			t.Errorf("%s not synced after a folder was made in it", dir)
		}
	}
}
