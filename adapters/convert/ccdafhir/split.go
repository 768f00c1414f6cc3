package ccdafhir

import "github.com/ferry-health/ferry/adapters/fhir"

// MaxTransactionEntries is the largest transaction a Medplum-based exchange
// accepts when every entry is an update (at most 50 PUTs per transaction).
const MaxTransactionEntries = fhir.MaxTransactionEntries

// ErrNotSplittable is returned by Split for bundles whose entries refer to
// each other by urn:uuid (ModeConditional): only one transaction can
// resolve those.
var ErrNotSplittable = fhir.ErrNotSplittable

// Split cuts a ModePutID bundle into transactions of at most max entries
// (MaxTransactionEntries when max ≤ 0), keeping entry order, so referenced
// resources (Patient, Organization, Practitioner first) are written before
// what refers to them; see fhir.SplitTransaction.
func Split(b *fhir.Bundle, max int) ([]*fhir.Bundle, error) {
	return fhir.SplitTransaction(b, max)
}

// Parts cuts a bundle made in mode into the transactions to deliver, in
// order: Split at MaxTransactionEntries in ModePutID (ErrNotSplittable for
// a larger ModeConditional bundle), and fhir.SplitShared at
// fhir.MaxConditionalEntries in ModePatientConditional.
func Parts(b *fhir.Bundle, mode Mode) ([]*fhir.Bundle, error) {
	if mode == ModePatientConditional {
		return fhir.SplitShared(b, fhir.MaxConditionalEntries)
	}
	return Split(b, 0)
}
