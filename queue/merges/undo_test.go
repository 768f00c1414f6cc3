package merges

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue/seal"
)

func testKey(t *testing.T) *seal.Key {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	k, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestUndoSurvivesReopen: after a merge sent in error is undone, the
// retired identifier is its own patient again, in this process and
// after a restart, sealed or not; the rest of a chain stays (A into B,
// B into C; undoing B leaves A tied to B); an undone merge can be
// recorded again (the EHR merges for real later).
func TestUndoSurvivesReopen(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(t *testing.T) {
			var opts Options
			if sealed {
				opts.Key = testKey(t)
			}
			path := filepath.Join(t.TempDir(), "merges.log")
			r := mustOpen(t, path, opts)
			mustRecord(t, r, "A", "B")
			mustRecord(t, r, "B", "C")
			mustRecord(t, r, "X", "Y")
			st, _ := os.Stat(path)
			if err := r.Undo(id("B")); err != nil {
				t.Fatalf("Undo: %v", err)
			}
			if st2, _ := os.Stat(path); st2.Size() <= st.Size() {
				t.Errorf("Undo wrote nothing (file %d bytes, before %d)", st2.Size(), st.Size())
			}
			check := func(r *Registry) {
				t.Helper()
				if got, ok := survivor(t, r, "B"); ok {
					t.Errorf("B still retired into %s after the undo", got)
				}
				if got, ok := survivor(t, r, "A"); !ok || got != "B" {
					t.Errorf("Survivor(A) = %s, %v; want B (the chain ends where the undo cut it)", got, ok)
				}
				if got, ok := survivor(t, r, "X"); !ok || got != "Y" {
					t.Errorf("Survivor(X) = %s, %v; want Y (another merge is untouched)", got, ok)
				}
				if r.Len() != 2 {
					t.Errorf("Len = %d, want 2", r.Len())
				}
			}
			check(r)
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r = mustOpen(t, path, opts)
			check(r)
			if sealed {
				if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(sys)) {
					t.Errorf("sealed file holds an identifier system in clear")
				}
			}
			// The merge made again for real is recorded again.
			mustRecord(t, r, "B", "C")
			if got, ok := survivor(t, r, "A"); !ok || got != "C" {
				t.Errorf("after the merge is recorded again, Survivor(A) = %s, %v; want C", got, ok)
			}
			r.Close()
			r = mustOpen(t, path, opts)
			defer r.Close()
			if got, ok := survivor(t, r, "B"); !ok || got != "C" {
				t.Errorf("after reopen, Survivor(B) = %s, %v; want C", got, ok)
			}
		})
	}
}

// TestUndoNotRetired: undoing an identifier that is not retired (a
// survivor, a typo) is refused with ErrNotRetired and writes nothing; an
// undo after Close is ErrClosed.
func TestUndoNotRetired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	st, _ := os.Stat(path)
	for _, v := range []string{"B", "Z"} {
		if err := r.Undo(id(v)); !errors.Is(err, ErrNotRetired) {
			t.Errorf("Undo(%s) = %v, want ErrNotRetired", v, err)
		}
	}
	if st2, _ := os.Stat(path); st2.Size() != st.Size() {
		t.Errorf("a refused undo grew the file from %d to %d bytes", st.Size(), st2.Size())
	}
	r.Close()
	if err := r.Undo(id("A")); !errors.Is(err, ErrClosed) {
		t.Errorf("Undo after Close = %v, want ErrClosed", err)
	}
}

// TestUndoCompactedOnReseal: a key rotation rewrites the file; the undone
// merge is gone from it (no merge, no undo record left), the others keep
// the time they were recorded.
func TestUndoCompactedOnReseal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	t0 := time.Date(2024, 3, 21, 9, 0, 0, 0, time.UTC)
	clock := t0
	r := mustOpen(t, path, Options{Clock: func() time.Time { return clock }})
	mustRecord(t, r, "A", "B")
	clock = t0.Add(time.Hour)
	mustRecord(t, r, "X", "Y")
	if err := r.Undo(id("A")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	k := testKey(t)
	clock = t0.Add(48 * time.Hour)
	r = mustOpen(t, path, Options{Key: k, Clock: func() time.Time { return clock }})
	defer r.Close()
	if _, ok := survivor(t, r, "A"); ok {
		t.Error("A retired again after the reseal")
	}
	es := r.Entries()
	if len(es) != 1 || es[0].Retired != id("X") || es[0].Survivor != id("Y") || !es[0].Recorded.Equal(t0.Add(time.Hour)) {
		t.Errorf("Entries after reseal = %+v; want X into Y recorded %s", es, t0.Add(time.Hour))
	}
	ins, err := Inspect(path, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || ins[0] != es[0] {
		t.Errorf("Inspect = %+v, want %+v", ins, es)
	}
}

// TestInspectReadsOnly: Inspect lists what a running gateway's file
// holds without writing to it (not even cutting a torn tail, which is
// the owner's to cut), and a sealed file without the key is an error.
func TestInspectReadsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	k := testKey(t)
	r := mustOpen(t, path, Options{Key: k})
	mustRecord(t, r, "A", "B")
	mustRecord(t, r, "C", "D")
	if err := r.Undo(id("C")); err != nil {
		t.Fatal(err)
	}
	r.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{9, 0, 0}) // a torn tail
	f.Close()
	before, _ := os.ReadFile(path)
	es, err := Inspect(path, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Retired != id("A") || es[0].Survivor != id("B") || es[0].Recorded.IsZero() {
		t.Errorf("Inspect = %+v, want A into B", es)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Inspect changed the file")
	}
	if _, err := Inspect(path, nil); err == nil {
		t.Error("Inspect of a sealed file without a key succeeded")
	}
	if es, err := Inspect(filepath.Join(t.TempDir(), "none.log"), nil); err != nil || len(es) != 0 {
		t.Errorf("Inspect of a missing file = %v, %v; want nothing", es, err)
	}
}
