package v2fhir

import (
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// DefaultMaxEntries is the entry limit ConvertParts uses when
// Converter.MaxEntries is 0: Medplum (and the exchange stand-in) refuse a
// transaction with more than 50 updates.
const DefaultMaxEntries = fhir.MaxTransactionEntries

// ErrNotSplittable is returned by Split for a bundle written in
// ModeConditional: its urn:uuid references only resolve inside one bundle.
var ErrNotSplittable = fhir.ErrNotSplittable

// Split divides a ModeID transaction into parts of at most max entries
// (DefaultMaxEntries when max ≤ 0); see fhir.SplitTransaction.
func Split(b *fhir.Bundle, max int) ([]*fhir.Bundle, error) {
	if max <= 0 {
		max = DefaultMaxEntries
	}
	return fhir.SplitTransaction(b, max)
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
