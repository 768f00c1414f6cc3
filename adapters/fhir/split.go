package fhir

import (
	"errors"
	"strconv"
	"strings"
)

// MaxTransactionEntries is the largest transaction a Medplum-based
// exchange accepts when every entry is an update (at most 50 PUTs).
const MaxTransactionEntries = 50

// ErrNotSplittable is returned by SplitTransaction for a bundle with
// conditional entries: their urn:uuid references resolve only inside one
// transaction.
var ErrNotSplittable = errors.New("bundle uses conditional entries and cannot be split")

// SplitTransaction cuts a transaction whose entries are all "PUT Type/id"
// (with literal Type/id references) into parts of at most max entries
// (MaxTransactionEntries when max ≤ 0), keeping entry order: converters
// put what others refer to (Patient, Organization, Practitioner) first, so
// each part only points at resources written by itself or an earlier part.
// Deliver the parts in order under one queue key; re-sending any part is
// harmless. Each part keeps the bundle's meta (security labels) and gets
// the identifier "<value>#<i>/<n>". A bundle that fits is returned as is.
func SplitTransaction(b *Bundle, max int) ([]*Bundle, error) {
	if max <= 0 {
		max = MaxTransactionEntries
	}
	if len(b.Entry) <= max {
		return []*Bundle{b}, nil
	}
	for _, e := range b.Entry {
		if e.Request != nil && strings.Contains(e.Request.URL, "?") {
			return nil, ErrNotSplittable
		}
	}
	n := (len(b.Entry) + max - 1) / max
	parts := make([]*Bundle, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := i*max, min((i+1)*max, len(b.Entry))
		p := *b
		p.Entry = b.Entry[lo:hi:hi]
		if b.Identifier != nil {
			id := *b.Identifier
			id.Value += "#" + strconv.Itoa(i+1) + "/" + strconv.Itoa(n)
			p.Identifier = &id
		}
		parts = append(parts, &p)
	}
	return parts, nil
}
