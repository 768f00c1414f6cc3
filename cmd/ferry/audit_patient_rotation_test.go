package main

import (
	"bytes"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// TestItemPatientAfterKeyRotation: an identifier sealed into a queue item
// before a key rotation still opens with the old key kept as a previous
// key, so the Export of its delivery names the patient; an item queued
// before the release (no attribute) and audit.patient_identity key name
// no identifier.
func TestItemPatientAfterKeyRotation(t *testing.T) {
	oldKey, _ := seal.NewKey(bytes.Repeat([]byte{1}, 32))
	newKey, _ := seal.NewKey(bytes.Repeat([]byte{2}, 32))
	id := fhir.Identifier{System: "urn:oid:1.2.3", Value: "MRN^&~\\|7"}
	it := &queue.Item{Key: "pk-1", Attrs: map[string]string{pipeline.AttrPatient: patientAttr(oldKey)("pk-1", id)}}
	trail := &auditTrail{identifiers: true, key: newKey.WithPrevious(oldKey)}
	if got := trail.itemPatient(it); got != (audit.PatientID{System: id.System, Value: id.Value}) {
		t.Errorf("after rotation: %+v", got)
	}
	if got := (&auditTrail{identifiers: false, key: oldKey}).itemPatient(it); got.Value != "" {
		t.Errorf("patient_identity key: %+v", got)
	}
	if got := trail.itemPatient(&queue.Item{Key: "pk-1"}); got.Value != "" {
		t.Errorf("item without the attribute: %+v", got)
	}
}
