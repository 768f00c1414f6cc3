package ccdafhir

import (
	"errors"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// MaxTransactionEntries is the largest transaction a Medplum-based exchange
// accepts when every entry is an update (at most 50 PUTs per transaction).
const MaxTransactionEntries = 50

// ErrNotSplittable is returned by Split for bundles whose entries refer to
// each other by urn:uuid (ModeConditional): only one transaction can
// resolve those.
var ErrNotSplittable = errors.New("bundle uses conditional entries and urn:uuid references")

// Split cuts a ModePutID bundle into transactions of at most max entries,
// keeping entry order, so referenced resources (Patient, Organization,
// Practitioner first) are written before what refers to them. Because
// every entry is "PUT Type/<id>" and references are "Type/<id>", each part
// stands alone and re-sending any part is harmless. A bundle that fits is
// returned as is. Parts carry the bundle's security labels; their
// identifiers get a "/<n>" suffix so each part is distinct.
func Split(b *fhir.Bundle, max int) ([]*fhir.Bundle, error) {
	if max <= 0 {
		max = MaxTransactionEntries
	}
	if len(b.Entry) <= max {
		return []*fhir.Bundle{b}, nil
	}
	for _, e := range b.Entry {
		if e.Request != nil && strings.Contains(e.Request.URL, "?") {
			return nil, ErrNotSplittable
		}
	}
	n := (len(b.Entry) + max - 1) / max
	parts := make([]*fhir.Bundle, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := i*max, min((i+1)*max, len(b.Entry))
		p := &fhir.Bundle{ResourceType: "Bundle", Type: b.Type, Meta: b.Meta, Timestamp: b.Timestamp,
			Entry: b.Entry[lo:hi:hi]}
		if b.Identifier != nil {
			id := *b.Identifier
			id.Value += "/" + strconv.Itoa(i+1)
			p.Identifier = &id
		}
		parts = append(parts, p)
	}
	return parts, nil
}
