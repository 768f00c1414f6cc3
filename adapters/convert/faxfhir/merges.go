package faxfhir

import (
	"fmt"

	"github.com/ferry-health/ferry/queue/merges"
)

// MergeLookup answers which record a retired patient identifier was
// merged into (merges.Registry; the same method as v2fhir.MergeLookup,
// declared here so that this package needs no other converter).
type MergeLookup interface {
	// Survivor follows the chain of merges from id to the record that
	// survived them all; ok is false when id is not retired.
	Survivor(id merges.ID) (survivor merges.ID, ok bool, err error)
}

// retie files d to the record its patient was merged into, when
// Converter.Merges knows the patient's identifier as retired, and
// reports 1 if it did. The document then names the survivor's
// identifier everywhere the patient is named (the subject's identifier,
// the conditional create of PatientLinkMatch, the conditional reference
// of PatientLinkConditional) and its ids and ordering key derive from
// it, as if the source had named the survivor. The retired record is
// never written: a search by its identifier would find it, inactive,
// and file the document to it. The name and birth date stay the
// source's; they are written only where the exchange has no record of
// the survivor at all (PatientLinkMatch's conditional create). The
// Comprehensive profile's sourcePatientInfo keeps the identifier the
// source gave, which is what that element records.
func (c *Converter) retie(d *Document) (int, error) {
	pt := d.Patient
	if c.Merges == nil || pt == nil || pt.System == "" || pt.Value == "" {
		return 0, nil
	}
	surv, ok, err := c.Merges.Survivor(merges.ID{System: pt.System, Value: pt.Value})
	if err != nil {
		return 0, fmt.Errorf("patient identifier: %w", err)
	}
	if !ok {
		return 0, nil
	}
	if d.SourcePatient == nil {
		src := *pt
		d.SourcePatient = &src
	}
	np := *pt
	np.System, np.Value = surv.System, surv.Value
	d.Patient = &np
	return 1, nil
}
