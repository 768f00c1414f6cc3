package ccdafhir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSplit: a large CCD is cut into parts of at most 50 entries whose
// concatenation is the original, each part's references resolving either
// within itself or to an earlier part.
func TestSplit(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(corpusDir, "Patient-1.xml"))
	if err != nil {
		t.Skip("corpus not present")
	}
	b, _, err := ConvertBytes(raw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Entry) <= MaxTransactionEntries {
		t.Fatalf("test document too small: %d entries", len(b.Entry))
	}
	parts, err := Split(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	i := 0
	for n, p := range parts {
		if len(p.Entry) > MaxTransactionEntries {
			t.Errorf("part %d has %d entries", n, len(p.Entry))
		}
		if p.Identifier == nil || p.Identifier.Value == b.Identifier.Value {
			t.Errorf("part %d identifier %+v", n, p.Identifier)
		}
		for _, e := range p.Entry {
			if e.FullURL != b.Entry[i].FullURL {
				t.Fatalf("entry %d out of order", i)
			}
			i++
		}
	}
	if i != len(b.Entry) {
		t.Errorf("parts hold %d of %d entries", i, len(b.Entry))
	}
	if resourceType(t, parts[0].Entry[0]) != "Patient" {
		t.Error("first part does not start with the Patient")
	}
	small, _, _ := ConvertBytes(readCase(t, "ccda-allergy"), Options{})
	if ps, _ := Split(small, 0); len(ps) != 1 || ps[0] != small {
		t.Error("a small bundle must come back as is")
	}
	cond, _, _ := ConvertBytes(raw, Options{Mode: ModeConditional})
	if _, err := Split(cond, 0); !errors.Is(err, ErrNotSplittable) {
		t.Errorf("conditional bundle: err = %v", err)
	}
}
