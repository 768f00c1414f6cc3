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

// ConvertParts is Convert followed by Parts.
func (c *Converter) ConvertParts(msg *hl7v2.Message, raw []byte) ([]*fhir.Bundle, Result, error) {
	b, res, err := c.Convert(msg, raw)
	if err != nil {
		return nil, res, err
	}
	parts, err := c.Parts(b)
	return parts, res, err
}

// Parts splits a bundle Convert made into the transactions to deliver, in
// order, under one queue key. In ModeID they hold at most MaxEntries
// (default DefaultMaxEntries). In ModePatientConditional a bundle with a
// conditional Patient entry splits at MaxEntries (default
// fhir.MaxConditionalEntries, Medplum's cap), each part repeating the
// Patient entry (fhir.SplitSharingAll); one without
// splits as in ModeID. A ModeConditional bundle of more than MaxEntries
// (default fhir.MaxConditionalEntries) is cut by fhir.SplitSeeding: parts
// that create what the exchange lacks, by identifier, then the bundle whole.
func (c *Converter) Parts(b *fhir.Bundle) ([]*fhir.Bundle, error) {
	switch c.Mode {
	case ModeConditional:
		max := c.MaxEntries
		if max <= 0 {
			max = fhir.MaxConditionalEntries
		}
		return fhir.SplitSeeding(b, max)
	case ModePatientConditional:
		for _, e := range b.Entry {
			if fhir.Conditional(e) {
				max := c.MaxEntries
				if max <= 0 {
					max = fhir.MaxConditionalEntries
				}
				return fhir.SplitSharingAll(b, max)
			}
		}
	}
	return Split(b, c.MaxEntries)
}
