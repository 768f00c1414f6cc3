package folder

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestSharedArchiveKeepsBothFiles: two folders may name one done_dir or
// failed_dir (two fax lines' inboxes archiving in one place), and each
// engine chose a free name there and moved its file in on its own, so
// two files of one name settled at the same moment (the nightly
// export.xml of two EHRs, written by one schedule) both took that name:
// the second replaced the first, and its .error.txt the first's reason,
// and a file that never reached the exchange was lost. Each file keeps
// a name of its own.
func TestSharedArchiveKeepsBothFiles(t *testing.T) {
	for _, failed := range []bool{false, true} {
		t.Run(map[bool]string{false: "done", true: "failed"}[failed], func(t *testing.T) {
			archive := t.TempDir()
			// Both engines reach the archive before either has moved
			// its file in: the first waits, with the name it chose,
			// until the second has come too.
			var came sync.WaitGroup
			came.Add(2)
			hook := func(stage string) {
				switch stage {
				case "come":
					came.Done()
				case "named":
					came.Wait()
				}
			}
			var engines []*Engine
			for i, body := range []string{"<first/>", "<second/>"} {
				dir := t.TempDir()
				cfg := testConfig(dir)
				cfg.Name = "ehr" + string(rune('1'+i))
				if failed {
					cfg.FailedDir = archive
				} else {
					cfg.DoneDir = archive
				}
				c := adapters.ConsumerFunc(func(context.Context, adapters.Raw) error {
					if failed {
						return queue.Permanent(errors.New("not a document"))
					}
					return nil
				})
				e, err := New(adapters.Settings{ID: "folder/" + cfg.Name, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, cfg, c)
				if err != nil {
					t.Fatal(err)
				}
				e.testHookArchive = hook
				writeFile(t, filepath.Join(dir, "export.xml"), []byte(body))
				engines = append(engines, e)
			}
			for _, e := range engines {
				if err := e.Start(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := e.Shutdown(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			settled := func() bool {
				for _, e := range engines {
					if st := e.Stats(); st.Done+st.Failed != 1 {
						return false
					}
				}
				return true
			}
			waitFor(t, "both files settled", settled)
			var inputs, reasons []string
			for _, f := range filesUnder(t, archive) {
				if strings.HasSuffix(f, ".error.txt") {
					reasons = append(reasons, f)
				} else {
					inputs = append(inputs, f)
				}
			}
			if len(inputs) != 2 {
				t.Errorf("the archive holds %q, want both export.xml files", inputs)
			}
			if failed && len(reasons) != 2 {
				t.Errorf("the archive holds the reasons %q, want one for each file", reasons)
			}
		})
	}
}
