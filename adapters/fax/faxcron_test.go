package fax

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// verdicts answers each fax by name: a permanent failure (to failed/), a
// transient one (stays in processing/), or success (to done/).
type verdicts struct{ calls atomic.Int64 }

func (v *verdicts) Consume(_ context.Context, in adapters.Raw) error {
	v.calls.Add(1)
	switch in.Meta[folder.MetaFile] {
	case "fax000000001.tif":
		return queue.Permanent(errors.New("not a fax"))
	case "fax000000002.tif":
		return errors.New("exchange down")
	}
	return nil
}

// faxcron does what HylaFAX's faxcron does to the receive queue
// (util/faxcron.sh.in: `find recvq -type f -mtime +7 ! -name seqf`, then
// rm of every file found), from spool, and returns what it removed. It
// runs the real find(1) where there is one, else walks the tree alike.
func faxcron(t *testing.T, spool string) []string {
	t.Helper()
	var found []string
	if _, err := exec.LookPath("find"); err == nil && runtime.GOOS != "windows" { // Windows' find.exe searches text
		cmd := exec.Command("find", "recvq", "-type", "f", "-mtime", "+7", "!", "-name", "seqf")
		cmd.Dir = spool
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("find: %v", err)
		}
		found = strings.Fields(string(out))
	} else {
		cutoff := time.Now().Add(-8 * 24 * time.Hour)
		filepath.WalkDir(filepath.Join(spool, "recvq"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && d.Name() != "seqf" {
				if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
					rel, _ := filepath.Rel(spool, p)
					found = append(found, rel)
				}
			}
			return nil
		})
	}
	for _, f := range found {
		if err := os.Remove(filepath.Join(spool, f)); err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// TestFaxcronCannotDeleteWhatFerryKeeps runs a HylaFAX inbox configured
// as the README shows (kind hylafax, path …/recvq, nothing else), leaves a
// fax in failed/, one in processing/ (the exchange is down) and one in
// done/, ages every file by ten days, as faxes received ten days ago are
// (a rename keeps the time), and runs faxcron's purge: it finds nothing of
// ferry's, because ferry's work folder is beside the recvq, not in it.
func TestFaxcronCannotDeleteWhatFerryKeeps(t *testing.T) {
	spool := t.TempDir()
	recvq := filepath.Join(spool, "recvq")
	if err := os.Mkdir(recvq, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(recvq, "seqf"), []byte("4"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fax000000001.tif", "fax000000002.tif", "fax000000003.tif"} {
		// Contents differ, or the seen-set would take two for duplicates.
		if err := os.WriteFile(filepath.Join(recvq, n), []byte("II*\x00"+n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v := &verdicts{}
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path = "hylafax", recvq
	s := start(t, cfg, v)

	p := s.Engine().Paths()
	if want := filepath.Join(spool, "ferry"); p.Work != want {
		t.Fatalf("work folder %s, want %s beside the recvq", p.Work, want)
	}
	failed := filepath.Join(p.Failed, "fax000000001.tif")
	waiting := filepath.Join(p.Processing, "fax000000002.tif")
	deadline := time.Now().Add(10 * time.Second)
	for {
		done, _ := filepath.Glob(filepath.Join(p.Done, "*", "fax000000003.tif"))
		_, ferr := os.Stat(failed)
		_, werr := os.Stat(waiting)
		if len(done) == 1 && ferr == nil && werr == nil && v.calls.Load() >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("faxes not settled: done %v, failed %v, processing %v", done, ferr, werr)
		}
		s.Engine().Rescan()
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	old := time.Now().Add(-10 * 24 * time.Hour)
	filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	if gone := faxcron(t, spool); len(gone) != 0 {
		t.Errorf("faxcron deleted %v", gone)
	}
	for _, f := range []string{failed, failed + ".error.txt", waiting} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if ents, _ := os.ReadDir(recvq); len(ents) != 1 || ents[0].Name() != "seqf" {
		t.Errorf("recvq holds %v; ferry must keep nothing there", ents)
	}

	// The layout ferry used before, .ferry inside the recvq, is what
	// faxcron empties: the purge above is a real one.
	legacy := filepath.Join(recvq, ".ferry", "failed", "fax000000009.tif")
	os.MkdirAll(filepath.Dir(legacy), 0o700)
	os.WriteFile(legacy, []byte("II*\x00"), 0o600)
	os.Chtimes(legacy, old, old)
	if gone := faxcron(t, spool); !slices.Equal(gone, []string{filepath.Join("recvq", ".ferry", "failed", "fax000000009.tif")}) {
		t.Errorf("faxcron removed %v from the old layout", gone)
	}
}

// TestOldWorkFolderInRecvqIsAdopted: files an earlier ferry left in
// recvq/.ferry/processing (claimed, not yet sent) and failed/ move to the
// new work folder at start; the claimed one is then consumed.
func TestOldWorkFolderInRecvqIsAdopted(t *testing.T) {
	spool := t.TempDir()
	recvq := filepath.Join(spool, "recvq")
	for _, d := range []string{"processing", "failed", "done/2026-11-01"} {
		if err := os.MkdirAll(filepath.Join(recvq, ".ferry", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(recvq, ".ferry", "processing", "fax000000005.tif"))
	os.WriteFile(filepath.Join(recvq, ".ferry", "failed", "fax000000004.tif"), []byte("junk"), 0o600)
	os.WriteFile(filepath.Join(recvq, ".ferry", "failed", "fax000000004.tif.error.txt"), []byte("reason: junk\n"), 0o600)

	c := newCollector(t)
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path = "hylafax", recvq
	s := start(t, cfg, c)
	if g := c.next(t, s); g.raw.Meta[folder.MetaFile] != "fax000000005.tif" {
		t.Fatalf("consumed %q", g.raw.Meta[folder.MetaFile])
	}
	p := s.Engine().Paths()
	for _, f := range []string{"fax000000004.tif", "fax000000004.tif.error.txt"} {
		if _, err := os.Stat(filepath.Join(p.Failed, f)); err != nil {
			t.Errorf("failed file not moved out of recvq: %v", err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(recvq, ".ferry", "processing")); len(ents) != 0 {
		t.Errorf("old processing/ still holds %v", ents)
	}
}

// TestHylaFAXWorkFolderInsideRecvqIsRefused: a configuration that puts
// ferry's work, done or failed folder back into the recvq is refused,
// naming faxcron.
func TestHylaFAXWorkFolderInsideRecvqIsRefused(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(c *Config)
	}{
		{"work_dir", func(c *Config) { c.WorkDir = "/var/spool/hylafax/recvq/.ferry" }},
		{"done_dir", func(c *Config) { c.DoneDir = "/var/spool/hylafax/recvq/done" }},
		{"failed_dir", func(c *Config) { c.FailedDir = "/var/spool/hylafax/recvq/x/failed" }},
	} {
		cfg := DefaultConfig(KindHylaFAX)
		cfg.Name, cfg.Path = "hylafax", "/var/spool/hylafax/recvq"
		tc.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), "faxcron") {
			t.Errorf("%s inside recvq: %v", tc.field, err)
		}
	}
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.WorkDir = "hylafax", "/var/spool/hylafax/recvq", "/var/spool/hylafax/ferry-work"
	if err := cfg.Validate(); err != nil {
		t.Errorf("work_dir beside recvq: %v", err)
	}
}
