package v2fhir

import (
	"errors"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// DefaultMaxEntries is the entry limit ConvertParts uses when
// Converter.MaxEntries is 0: Medplum (and the exchange stand-in) refuse a
// transaction with more than 50 updates.
const DefaultMaxEntries = 50

// ErrNotSplittable is returned by Split for a bundle written in
// ModeConditional: its urn:uuid references only resolve inside one bundle.
var ErrNotSplittable = errors.New("bundle uses conditional writes and cannot be split")

// Split divides a ModeID transaction into parts of at most max entries,
// in order. Every reference in such a bundle is literal (Type/id), so a
// part may point at a resource written by an earlier part; deliver the
// parts in order (same queue key). Each part's identifier is the
// original's with "#i/n" appended. A bundle within the limit is returned
// as is.
func Split(b *fhir.Bundle, max int) ([]*fhir.Bundle, error) {
	if max <= 0 || len(b.Entry) <= max {
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

// ConvertParts is Convert followed by Split at MaxEntries
// (DefaultMaxEntries when 0). In ModeConditional the bundle is not split.
func (c *Converter) ConvertParts(msg *hl7v2.Message, raw []byte) ([]*fhir.Bundle, Result, error) {
	b, res, err := c.Convert(msg, raw)
	if err != nil {
		return nil, res, err
	}
	if c.Mode == ModeConditional {
		return []*fhir.Bundle{b}, res, nil
	}
	max := c.MaxEntries
	if max == 0 {
		max = DefaultMaxEntries
	}
	parts, err := Split(b, max)
	return parts, res, err
}
