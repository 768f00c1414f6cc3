package merges

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestRecordReverse: a sender that merged A into B (or A into B into C)
// and then merges the end of that chain back into A is correcting the
// direction: with Reverse, A's own merge is taken back and the new one
// recorded, in one write that a reopened registry reads the same way.
// Everything that led to the old survivor now leads to A. Without
// Reverse, and for a record into itself, the merge stays a refused cycle.
func TestRecordReverse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "B")
	mustRecord(t, r, "B", "C")
	mustRecord(t, r, "W", "A")
	if err := r.Record(Merge{Retired: id("C"), Survivor: id("A")}); !errors.Is(err, ErrCycle) {
		t.Fatalf("C into A without Reverse: %v, want ErrCycle", err)
	}
	if err := r.Record(Merge{Retired: id("A"), Survivor: id("A"), Reverse: true}); !errors.Is(err, ErrCycle) {
		t.Fatalf("A into itself with Reverse: %v, want ErrCycle", err)
	}
	if err := r.Record(Merge{Retired: id("C"), Survivor: id("A"), Reverse: true}); err != nil {
		t.Fatalf("C into A, reversing A into B into C: %v", err)
	}
	check := func(r *Registry, when string) {
		t.Helper()
		if _, ok := survivor(t, r, "A"); ok {
			t.Errorf("%s: A is still retired", when)
		}
		for _, v := range []string{"B", "C", "W"} {
			if got, ok := survivor(t, r, v); !ok || got != "A" {
				t.Errorf("%s: %s resolves to %q (retired %v), want A", when, v, got, ok)
			}
		}
		if n := r.Len(); n != 3 {
			t.Errorf("%s: %d retired identifiers, want 3 (B, C, W)", when, n)
		}
	}
	check(r, "after Record")
	r.Close()
	r = mustOpen(t, path, Options{})
	check(r, "reopened")
	// A Reverse merge that reverses nothing is a plain merge.
	if err := r.Record(Merge{Retired: id("P"), Survivor: id("Q"), Reverse: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := survivor(t, r, "P"); got != "Q" {
		t.Errorf("P resolves to %q, want Q", got)
	}
	r.Close()
}

// TestRecordReverseTorn: a crash inside the reversing write keeps at
// most its undo (the torn merge is cut off on Open): A is its own record
// again and C is not retired, nothing leads in a cycle, and the message,
// never acknowledged, records C into A as a plain merge when it comes
// again.
func TestRecordReverseTorn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merges.log")
	r := mustOpen(t, path, Options{})
	mustRecord(t, r, "A", "C")
	r.Close()
	before, _ := os.ReadFile(path)
	r = mustOpen(t, path, Options{})
	if err := r.Record(Merge{Retired: id("C"), Survivor: id("A"), Reverse: true}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	full, _ := os.ReadFile(path)
	for cut := len(before) + 1; cut < len(full); cut++ {
		if err := os.WriteFile(path, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		r = mustOpen(t, path, Options{})
		if _, ok := survivor(t, r, "C"); ok {
			t.Fatalf("cut at %d: the torn merge of C is known", cut)
		}
		if err := r.Record(Merge{Retired: id("C"), Survivor: id("A"), Reverse: true}); err != nil {
			t.Fatalf("cut at %d: C into A again: %v", cut, err)
		}
		if got, _ := survivor(t, r, "C"); got != "A" {
			t.Fatalf("cut at %d: C resolves to %q", cut, got)
		}
		if _, ok := survivor(t, r, "A"); ok {
			t.Fatalf("cut at %d: A retired", cut)
		}
		r.Close()
	}
}
