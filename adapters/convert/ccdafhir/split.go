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
// order, of at most max entries: Split in ModePutID (max ≤ 0:
// MaxTransactionEntries; ErrNotSplittable for a larger ModeConditional
// bundle), and fhir.SplitShared in ModePatientConditional (max ≤ 0:
// fhir.MaxConditionalEntries).
func Parts(b *fhir.Bundle, mode Mode, max int) ([]*fhir.Bundle, error) {
	if mode == ModePatientConditional {
		return fhir.SplitShared(b, max)
	}
	return Split(b, max)
}
