package merges

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

const sys = "urn:oid:2.16.840.1.113883.3.999.1"

func id(v string) ID { return ID{System: sys, Value: v} }

func mustOpen(t *testing.T, path string, opts Options) *Registry {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func mustRecord(t *testing.T, r *Registry, retired, survivor string) {
	t.Helper()
	if err := r.Record(Merge{Retired: id(retired), Survivor: id(survivor)}); err != nil {
		t.Fatalf("Record %s into %s: %v", retired, survivor, err)
	}
}

func survivor(t *testing.T, r *Registry, v string) (string, bool) {
	t.Helper()
	s, ok, err := r.Survivor(id(v))
	if err != nil {
		t.Fatalf("Survivor(%s): %v", v, err)
	}
	return s.Value, ok
}

// TestRecordSurvivesReopen: a merge Record returned for is there after
// the process restarts, chains resolve to their end, and recording a
// merge again writes nothing.
func TestRecordSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "merges.log")
	r := mustOpen(t, path, Options{})
	if _, ok := survivor(t, r, "A"); ok {
		t.Fatal("A retired in an empty registry")
	}
	mustRecord(t, r, "A", "B")
	mustRecord(t, r, "B", "C")
	st, _ := os.Stat(path)
	mustRecord(t, r, "A", "B") // a resent A40
	if st2, _ := os.Stat(path); st2.Size() != st.Size() {
		t.Errorf("recording a known merge grew the file from %d to %d bytes", st.Size(), st2.Size())
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = mustOpen(t, path, Options{})
	defer r.Close()
	for v, want := range map[string]string{"A": "C", "B": "C"} {
		if got, ok := survivor(t, r, v); !ok || got != want {
			t.Errorf("Survivor(%s) = %s, %v; want %s", v, got, ok, want)
		}
	}
	if got, ok := survivor(t, r, "C"); ok {
		t.Errorf("survivor C is retired into %s", got)
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2", r.Len())
	}
	// Another system's "A" is another patient.
	if _, ok, _ := r.Survivor(ID{System: "urn:other", Value: "A"}); ok {
		t.Error("A of another system is retired")
	}
	// The newest merge of a record wins: A merged again into D.
	mustRecord(t, r, "A", "D")
	if got, _ := survivor(t, r, "A"); got != "D" {
		t.Errorf("A re-merged into D resolves to %s", got)
	}
}

// TestRecordRefusesCycle: a merge whose survivor was merged, directly
// or through a chain, into the record it retires would leave no record
// standing; it is refused and not written.
func TestRecordRefusesCycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	defer r.Close()
	mustRecord(t, r, "A", "B")
	mustRecord(t, r, "B", "C")
	for _, m := range []Merge{{Retired: id("C"), Survivor: id("A")}, {Retired: id("B"), Survivor: id("A")}, {Retired: id("A"), Survivor: id("A")}, {Retired: id("C"), Survivor: id("B")}} {
		if err := r.Record(m); !errors.Is(err, ErrCycle) {
			t.Errorf("Record %s into %s: %v, want ErrCycle", m.Retired.Value, m.Survivor.Value, err)
		}
	}
	if got, _ := survivor(t, r, "A"); got != "C" {
		t.Errorf("after refused cycles A resolves to %s", got)
	}
}

// TestTornTailCutOff: a crash mid-append leaves part of a record, whose
// merge was never acknowledged: Open cuts it off and keeps the rest, and
// the next record lands after the last whole one.
func TestTornTailCutOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	r.Close()
	whole, _ := os.ReadFile(path)
	r = mustOpen(t, path, Options{})
	mustRecord(t, r, "X", "Y")
	r.Close()
	full, _ := os.ReadFile(path)
	for cut := len(whole) + 1; cut < len(full); cut += 3 {
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		r = mustOpen(t, path, Options{})
		if _, ok := survivor(t, r, "X"); ok {
			t.Fatalf("cut at %d: the torn record's merge is known", cut)
		}
		if got, _ := survivor(t, r, "A"); got != "B" {
			t.Fatalf("cut at %d: A resolves to %q", cut, got)
		}
		mustRecord(t, r, "P", "Q")
		r.Close()
		r = mustOpen(t, path, Options{})
		if got, _ := survivor(t, r, "P"); got != "Q" {
			t.Fatalf("cut at %d: the record written after the cut is lost", cut)
		}
		r.Close()
	}
	// A damaged last record (a torn write that reached its full length
	// with garbage) is a torn tail too.
	bad := bytes.Clone(full)
	bad[len(bad)-6] ^= 0xff
	os.WriteFile(path, bad, 0o600)
	r = mustOpen(t, path, Options{})
	if _, ok := survivor(t, r, "X"); ok {
		t.Error("damaged last record read")
	}
	r.Close()
}

// TestDamagedRecordFailsOpen: a damaged record with others after it is
// not skipped (that would tie later results to a retired record again):
// Open fails and names the file and the offset.
func TestDamagedRecordFailsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	mustRecord(t, r, "X", "Y")
	r.Close()
	data, _ := os.ReadFile(path)
	data[int(headerLen)+10] ^= 0xff
	os.WriteFile(path, data, 0o600)
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "merges.log") || !strings.Contains(err.Error(), "offset 8") {
		t.Errorf("Open of a damaged registry: %v", err)
	}
	os.WriteFile(path, []byte("something else entirely"), 0o600)
	if _, err := Open(path, Options{}); err == nil {
		t.Error("Open of a file that is no registry succeeded")
	}
}

// TestSealedHoldsNoMRN: with a key the file holds no identifier in
// clear, reads back with the key, and is refused without one.
func TestSealedHoldsNoMRN(t *testing.T) {
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{Key: key})
	mustRecord(t, r, "MRN-55999", "MRN-55501")
	r.Close()
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("55999")) || bytes.Contains(data, []byte(sys)) {
		t.Error("sealed registry holds an identifier in clear")
	}
	r = mustOpen(t, path, Options{Key: key})
	if got, _ := survivor(t, r, "MRN-55999"); got != "MRN-55501" {
		t.Errorf("sealed record reads back as %q", got)
	}
	r.Close()
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "no encryption key") {
		t.Errorf("Open of a sealed registry without the key: %v", err)
	}
}

// TestRecordAfterClose fails rather than losing the merge silently.
func TestRecordAfterClose(t *testing.T) {
	r := mustOpen(t, filepath.Join(t.TempDir(), "merges.log"), Options{})
	r.Close()
	if err := r.Record(Merge{Retired: id("A"), Survivor: id("B")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Record after Close: %v", err)
	}
}

// TestKeyRotationReseals: records sealed with a previous key (or in
// clear before a key was configured) are sealed again with the current
// key on Open, so the previous key can be retired without losing the
// merges.
func TestKeyRotationReseals(t *testing.T) {
	newKey := func() *seal.Key {
		raw := make([]byte, seal.KeySize)
		rand.Read(raw)
		k, err := seal.NewKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	r.Close()
	old := newKey()
	r = mustOpen(t, path, Options{Key: old}) // encryption turned on
	mustRecord(t, r, "C", "D")
	r.Close()
	if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(sys)) {
		t.Error("records written before the key was configured are still in clear")
	}
	cur := newKey()
	r = mustOpen(t, path, Options{Key: cur.WithPrevious(old)}) // rotated
	r.Close()
	r = mustOpen(t, path, Options{Key: cur}) // previous key removed
	defer r.Close()
	for v, want := range map[string]string{"A": "B", "C": "D"} {
		if got, _ := survivor(t, r, v); got != want {
			t.Errorf("after rotation %s resolves to %q, want %s", v, got, want)
		}
	}
}

// TestMerged: the identifiers merged directly into a record, after a
// reopen, a merge moved on to another survivor, an undo and a merge
// turned round.
func TestMerged(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := ID{"s", "A"}, ID{"s", "B"}, ID{"s", "C"}, ID{"s", "D"}
	for _, m := range []Merge{{Retired: d, Survivor: c}, {Retired: a, Survivor: c}, {Retired: c, Survivor: b}} {
		if err := r.Record(m); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.Merged(c); !slices.Equal(got, []ID{a, d}) {
		t.Errorf("Merged(C) = %v, want A and D (sorted)", got)
	}
	if got := r.Merged(b); !slices.Equal(got, []ID{c}) {
		t.Errorf("Merged(B) = %v, want C alone (not through the chain)", got)
	}
	r.Close()
	if r, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Merged(c); !slices.Equal(got, []ID{a, d}) {
		t.Errorf("after reopen Merged(C) = %v, want A and D", got)
	}
	if err := r.Record(Merge{Retired: a, Survivor: b}); err != nil { // A moved on to B
		t.Fatal(err)
	}
	if err := r.Undo(d); err != nil {
		t.Fatal(err)
	}
	if got := r.Merged(c); len(got) != 0 {
		t.Errorf("Merged(C) = %v, want none", got)
	}
	if err := r.Record(Merge{Retired: b, Survivor: c, Reverse: true}); err != nil { // C into B turned round
		t.Fatal(err)
	}
	if got := r.Merged(b); !slices.Equal(got, []ID{a}) {
		t.Errorf("Merged(B) = %v, want A", got)
	}
	if got := r.Merged(c); !slices.Equal(got, []ID{b}) {
		t.Errorf("Merged(C) = %v, want B", got)
	}
}
