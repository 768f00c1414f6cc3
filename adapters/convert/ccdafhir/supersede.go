package ccdafhir

import "github.com/ferry-health/ferry/adapters/fhir"

// JSONPatchType is fhir.JSONPatchType.
const JSONPatchType = fhir.JSONPatchType

// supersedePatch replaces the status and nothing else; applied again (a
// redelivery) it changes nothing more.
var supersedePatch = []byte(`[{"op":"replace","path":"/status","value":"superseded"}]`)

// SupersedeBatch returns the batch Bundle that marks the DocumentReferences
// res.Supersedes names superseded, or nil when there are none: the
// versions b's document replaces (relatedDocument typeCode RPLC). FHIR R4
// gives DocumentReference.status "superseded" for a reference replaced by
// another, and IHE MHD 4.2 (ITI-65, as XDS's replace association
// deprecates the old entry) has the Document Source itself change the
// replaced DocumentReference's status to superseded in its submission,
// with a PATCH; a plain FHIR server as the recipient does nothing on its
// own about relatesTo.
//
// It is a batch, not an entry of b's transaction, and is delivered after
// b's transactions: a PATCH of a resource the exchange does not hold
// answers 404, which would fail the whole transaction, and the replaced
// version may never have reached the exchange (it came before ferry was
// installed, or went another way). In a batch that 404 stays on its own
// entry: b is stored either way, and the pipeline queues the batch with
// queue.AttrMissingOK, so that 404 counts as done (nothing to supersede)
// instead of a dead letter. The PATCH finds the replaced
// version at the id ferry gave it when it converted it, derived from its
// document id and the patient; with ModeConditional it is a conditional
// PATCH by identifier instead. The bundle carries b's security labels, so
// a disclosure policy that holds the document holds this change too, and
// b's identifier with "#supersede" appended.
func SupersedeBatch(b *fhir.Bundle, res Result) *fhir.Bundle {
	return fhir.PatchBatch(b, "#supersede", len(res.Supersedes), func(i int) (string, []byte) { return res.Supersedes[i], supersedePatch })
}
