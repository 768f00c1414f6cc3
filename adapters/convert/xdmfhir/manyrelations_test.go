package xdmfhir

import (
	"fmt"
	"testing"
	"time"
)

// TestManyRelationsLinear: each association of METADATA.XML from the
// document was checked against every relatesTo kept before it, work
// growing with the square of the associations, of which the 16 MiB
// METADATA.XML holds tens of thousands. The checks must grow with the
// associations; a relation stated twice is still written once.
func TestManyRelationsLinear(t *testing.T) {
	const n = 2000
	e := Entry{EntryUUID: "Document01", UniqueID: "1.2.840.99999.8.1.2", MimeType: "application/pdf", SubmissionTime: "20260305090000"}
	for i := range n {
		e.Related = append(e.Related, Relation{Type: "urn:ihe:iti:2007:AssociationType:RPLC", TargetUniqueID: fmt.Sprint("1.2.840.99999.9.", i)})
	}
	e.Related = append(e.Related, e.Related[0])
	checks := 0
	countRelationChecks = func() { checks++ }
	defer func() { countRelationChecks = nil }()
	d := (&Converter{}).Document(e, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC))
	if limit := 20 * n; checks > limit {
		t.Errorf("%d associations: %d checks, want at most %d", n+1, checks, limit)
	}
	if len(d.RelatesTo) != n || len(d.Supersedes) != n {
		t.Errorf("%d relatesTo, %d supersedes, want %d each", len(d.RelatesTo), len(d.Supersedes), n)
	}
}

// TestManyReplacedKeysLinear: the registry keys of the documents an
// entry replaces were each checked against all those kept before, work
// growing with the square of its RPLC associations. The checks must
// grow with them; each replaced document's key is still kept once.
func TestManyReplacedKeysLinear(t *testing.T) {
	const n = 2000
	e := Entry{EntryUUID: "Document01", UniqueID: "1.2.840.99999.8.1.2", MimeType: "application/pdf", SubmissionTime: "20260305090000"}
	for i := range n {
		e.Related = append(e.Related, Relation{Type: "urn:ihe:iti:2007:AssociationType:RPLC", TargetUniqueID: fmt.Sprint("1.2.840.99999.9.", i)})
	}
	e.Related = append(e.Related, e.Related[0])
	c := &Converter{}
	d := c.Document(e, time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC))
	checks := 0
	countRelationChecks = func() { checks++ }
	defer func() { countRelationChecks = nil }()
	if err := c.registry(&d, e); err != nil {
		t.Fatal(err)
	}
	if limit := 20 * n; checks > limit {
		t.Errorf("%d associations: %d checks, want at most %d", n+1, checks, limit)
	}
	if len(d.Replaces) != n {
		t.Errorf("%d replaced keys, want %d", len(d.Replaces), n)
	}
}
