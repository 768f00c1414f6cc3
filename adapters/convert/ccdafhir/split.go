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
//
// A ModePutID bundle of a document filed to a merge's survivor
// (Options.Merges) finds its Patient by a conditional create: it is cut
// as in ModePatientConditional, each part carrying that entry.
func Parts(b *fhir.Bundle, mode Mode, max int) ([]*fhir.Bundle, error) {
	if mode == ModePatientConditional || mode == ModePutID && findsPatient(b) {
		return fhir.SplitShared(b, max)
	}
	return Split(b, max)
}

// findsPatient reports whether b finds its Patient by a conditional
// create (a document filed to a merge's survivor).
func findsPatient(b *fhir.Bundle) bool {
	for _, e := range b.Entry {
		if _, ok := e.Resource.(*fhir.Patient); ok {
			return e.Request != nil && e.Request.IfNoneExist != ""
		}
	}
	return false
}
