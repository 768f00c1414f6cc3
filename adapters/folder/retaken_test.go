package folder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestExportUndoingAChangeIsTaken: an export written under one name each
// night that undoes the night before's change is byte for byte an
// earlier night's. The seen-set took it for a re-drop and archived it
// unsent, so the exchange kept the change for good. It is taken (across
// a restart), carrying the key of the file it follows; dropped again it
// is a re-drop, and so is the same content under another name.
func TestExportUndoingAChangeIsTaken(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	rec := &recorder{}
	e := startEngine(t, cfg, rec)
	a, b := []byte("MRN,Status\n7,Active\n"), []byte("MRN,Status\n7,Held\n")
	dropFile(t, dir, "meds.csv", a)
	waitFor(t, "night 1 in done/", doneHas(t, e, "meds.csv"))
	dropFile(t, dir, "meds.csv", b)
	waitFor(t, "night 2 in done/", doneHas(t, e, "meds~2.csv"))
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	e = startEngine(t, cfg, rec)
	dropFile(t, dir, "meds.csv", a)
	waitFor(t, "night 3 in done/", doneHas(t, e, "meds~3.csv"))
	calls := rec.all()
	if len(calls) != 3 {
		t.Fatalf("consumed %d files, want 3: the export undoing night 2's change was skipped", len(calls))
	}
	kb := sha256.Sum256(b)
	if got := calls[2].raw.Meta[MetaRetaken]; got != hex.EncodeToString(kb[:16]) {
		t.Errorf("night 3's %s = %q, want night 2's key", MetaRetaken, got)
	}
	if got, ok := calls[1].raw.Meta[MetaRetaken]; ok {
		t.Errorf("night 2 carries %s %q, though its content is new", MetaRetaken, got)
	}
	dropFile(t, dir, "meds.csv", a)
	waitFor(t, "the re-drop in done/", doneHas(t, e, "meds~4.csv"))
	dropFile(t, dir, "meds copy.csv", a)
	waitFor(t, "the copy in done/", doneHas(t, e, "meds copy.csv"))
	if n := rec.count(); n != 3 {
		t.Errorf("consumed %d files, want 3: a re-drop was sent again", n)
	}
}

// TestRetakenFileLeftInProcessingIsNotSentAgain: a file taken again (its
// content taken before, another since under its name) that a crash left
// in processing/ after it was queued and recorded as the last taken is
// archived at the next start, not queued twice.
func TestRetakenFileLeftInProcessingIsNotSentAgain(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, ".ferry")
	if err := os.MkdirAll(filepath.Join(work, "processing"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := []byte("MRN,Status\n7,Active\n"), []byte("MRN,Status\n7,Held\n")
	sf, err := OpenSeenFile(filepath.Join(work, "seen.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(work, "last.sha256"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	lt, err := newLastTaken(f, f.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]byte{a, b, a} {
		k := sha256.Sum256(c)
		if err := sf.Add(k); err != nil {
			t.Fatal(err)
		}
		if err := lt.Set("meds.csv", k); err != nil {
			t.Fatal(err)
		}
	}
	sf.Close()
	lt.Close()
	writeFile(t, filepath.Join(work, "processing", "meds.csv"), a)
	rec := &recorder{}
	e := startEngine(t, testConfig(dir), rec)
	waitFor(t, "meds.csv in done/", doneHas(t, e, "meds.csv"))
	if n := rec.count(); n != 0 {
		t.Errorf("consumed %d times, want 0", n)
	}
}
