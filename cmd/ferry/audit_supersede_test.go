package main

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/audit"
)

// events keeps what is recorded.
type events []audit.Event

func (e *events) Record(ev audit.Event) { *e = append(*e, ev) }

// TestXDMSupersedeBatchIsNoITI65Export: an XDM document that replaces
// another goes as its ITI-65 bundle and then a batch of its own that
// PATCHes the replaced DocumentReference superseded (the unit the
// pipeline queues with queue.AttrMissingOK, format xdm, no
// SubmissionSet). That batch was audited as an ITI-65 Provide Document
// Bundle, an Export with event type ITI-65 naming no submission set,
// though it is no Provide Document Bundle (which holds exactly one
// SubmissionSet) and MHD's ITI-65 source audit requires the submission
// set as an entity. It is recorded as the supersede batch of a C-CDA is,
// a FHIR transaction naming the bundle; the bundle itself stays ITI-65.
func TestXDMSupersedeBatchIsNoITI65Export(t *testing.T) {
	var got events
	trail := &auditTrail{rec: &got, faxIsMHD: true, gateway: "ferry", host: "gw", exchangeURL: "https://hie.example/fhir", exchangeHost: "hie.example"}
	trail.export(&queue.Item{ID: "item-1", Key: "p1", Attrs: map[string]string{"format": xdmfhir.Format, "submission_set": "urn:oid:2.25.1"}}, audit.OutcomeSuccess, "")
	trail.export(&queue.Item{ID: "item-2", Key: "p1", Attrs: map[string]string{"format": xdmfhir.Format, queue.AttrMissingOK: "true"}}, audit.OutcomeSuccess, "")
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	if got[0].Type != audit.TypeITI65 {
		t.Errorf("the document bundle's Export: type %v, want ITI-65", got[0].Type)
	}
	if got[1].Type == audit.TypeITI65 {
		t.Errorf("the supersede batch's Export is typed ITI-65 (a Provide Document Bundle), with objects %+v", got[1].Objects)
	}
	named := false
	for _, o := range got[1].Objects {
		named = named || o.ID == "item-2" && o.IDType == audit.IDBundle
	}
	if !named {
		t.Errorf("the supersede batch's Export does not name its bundle: %+v", got[1].Objects)
	}
}
