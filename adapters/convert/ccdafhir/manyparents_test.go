package ccdafhir

import (
	"fmt"
	"strings"
	"testing"
)

// TestManyParentDocumentsLinear: each relatedDocument a document states,
// and each relation its envelope states (Options.Related), was checked
// against all those kept before it (the envelope's against the
// document's, every superseded version against Result.Supersedes and
// Replaces): work growing with the square of the parents, of which a
// 32 MiB document names a quarter of a million (20,000 took 1.4 s). The
// checks must grow with the parents; each parent is still superseded
// once, and a relation both state is written once.
func TestManyParentDocumentsLinear(t *testing.T) {
	const n = 2000
	var rel strings.Builder
	var opts Options
	for i := range n {
		fmt.Fprintf(&rel, `<relatedDocument typeCode="RPLC"><parentDocument><id root="1.2.3.4" extension="old%d"/></parentDocument></relatedDocument>
`, i)
		opts.Related = append(opts.Related, RelatedDocument{TypeCode: "RPLC", Root: "1.2.3.4", Extension: fmt.Sprint("old", i)})
	}
	// The first parent again, and one only the envelope names.
	rel.WriteString(`<relatedDocument typeCode="RPLC"><parentDocument><id root="1.2.3.4" extension="old0"/></parentDocument></relatedDocument>`)
	opts.Related = append(opts.Related, RelatedDocument{TypeCode: "RPLC", Root: "1.2.3.4", Extension: "envelope"})
	opts.NoBinary = true
	checks := 0
	countRelatedChecks = func() { checks++ }
	defer func() { countRelatedChecks = nil }()
	_, res, err := ConvertBytes([]byte(reviewDoc("d1", "s1", rel.String(), problemSection)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if limit := 20 * n; checks > limit {
		t.Errorf("%d parent documents: %d checks, want at most %d", n, checks, limit)
	}
	if len(res.Supersedes) != n+1 || len(res.Replaces) != n+1 {
		t.Errorf("%d supersedes, %d replaces, want %d each", len(res.Supersedes), len(res.Replaces), n+1)
	}
}
