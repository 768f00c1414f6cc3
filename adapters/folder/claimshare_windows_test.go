package folder

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestClaimSharingViolationIsNotReady: another process opens a settled
// file between the engine's check that no one holds it and its move into
// processing/ (a virus scanner looks at every file a writer closed; an
// indexer, a preview pane). Windows refuses to rename a file open without
// FILE_SHARE_DELETE (ERROR_SHARING_VIOLATION), which is the file not
// being free yet, as the check itself takes it: it waited for the next
// pass as a held file does. It was counted a failed claim: the folder
// showed as FOLDER STUCK (ferry_folder_claims_failing 1) and a WARN told
// the contractor ferry lacked permission on the folder.
func TestClaimSharingViolationIsNotReady(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	set := adapters.Settings{ID: "folder/test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e, err := New(set, testConfig(dir), rec)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		scanner *os.File
		opened  = make(chan struct{})
	)
	e.testHookClaim = func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if name != "export.xml" || scanner != nil {
			return
		}
		f, err := os.Open(filepath.Join(dir, name)) // shares reading and writing, not deletion
		if err != nil {
			t.Error(err)
			return
		}
		scanner = f
		close(opened)
	}
	dropFile(t, dir, "export.xml", []byte("<ClinicalDocument/>"))
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	waitFor(t, "the scanner's open", func() bool {
		e.Rescan()
		select {
		case <-opened:
			return true
		default:
			return false
		}
	})
	waitPasses(t, e, 1) // the pass that met the open has ended
	st := e.Stats()
	if st.ClaimErrors != 0 || st.ClaimsFailing || st.LastClaimError != "" {
		t.Errorf("a file another process had open for an instant counts as a failed claim: %d errors, failing %v (%s)",
			st.ClaimErrors, st.ClaimsFailing, st.LastClaimError)
	}
	if e.heldSkips.Load() == 0 {
		t.Errorf("the file was not held back as a file still in use is")
	}
	mu.Lock()
	scanner.Close()
	mu.Unlock()
	waitFor(t, "the file taken once the scanner let go", func() bool { e.Rescan(); return doneHas(t, e, "export.xml")() })
	if n := len(rec.all()); n != 1 {
		t.Errorf("consumed %d times, want 1", n)
	}
}
