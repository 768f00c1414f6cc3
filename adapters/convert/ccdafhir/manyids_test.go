package ccdafhir

import (
	"strconv"
	"testing"
)

// TestIdentifiersLinearInIDs: identifiers dropped a duplicate by
// comparing each id with every one kept before it, n*(n-1)/2 checks for
// n distinct ids. An element may carry any number of <id>s: about a
// million fit in a document within the 32 MiB limit, half a million
// million checks that held a conversion worker for hours. The checks
// must grow with the ids, not with their square; duplicates are still
// dropped and the order kept.
func TestIdentifiersLinearInIDs(t *testing.T) {
	const n = 5000
	ids := make([]ii, 0, n+2)
	for i := range n {
		ids = append(ids, ii{Root: "1.2.3.4", Extension: "X" + strconv.Itoa(i)})
	}
	ids = append(ids, ii{Root: "1.2.3.4", Extension: "X7"}, ii{Root: "1.2.3.4", Extension: " X9 "})
	checks := 0
	countIDChecks = func() { checks++ }
	defer func() { countIDChecks = nil }()
	out := identifiers(ids)
	if checks > 2*len(ids) {
		t.Errorf("%d ids took %d duplicate checks, want at most %d", len(ids), checks, 2*len(ids))
	}
	if len(out) != n {
		t.Fatalf("%d identifiers, want %d (duplicates dropped)", len(out), n)
	}
	for i, x := range out {
		if want := "X" + strconv.Itoa(i); x.Value != want {
			t.Fatalf("identifier %d is %q, want %q (order kept)", i, x.Value, want)
		}
	}
}
