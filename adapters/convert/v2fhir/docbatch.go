package v2fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/queue/merges"
)

// Change is a change a message makes to a resource an earlier message
// wrote, without sending that resource again: the DocumentReference an
// MDM replacement (T09/T10) supersedes, the one a cancel (T11) withdraws,
// the one whose completion status a status change without content (T03)
// moves, or the ServiceRequest whose status an ORC alone changes (cancel,
// discontinue, hold, release).
type Change struct {
	// URL is the resource's request URL at the exchange: the id ferry
	// gave it when it converted it ("DocumentReference/<id>", derived
	// from its business key as every write derives it), or, where the
	// exchange chooses ids (ModeConditional), the conditional
	// "DocumentReference?identifier=<system>|<value>".
	URL string
	// Status is the new status ("superseded", "entered-in-error",
	// "revoked", "on-hold", "active"), or "" to leave it.
	Status string
	// DocStatus is the new DocumentReference.docStatus ("final",
	// "preliminary"), or "" to leave it.
	DocStatus string
	// Location is the new Encounter.location list as JSON (a cancelled
	// transfer's, see changeVisit), or "" to leave it.
	Location string
}

// patch renders the change as a JSON Patch (RFC 6902). status is
// required in every DocumentReference, so it is replaced; docStatus may
// be absent, so it is added ("add" of an object member that exists
// replaces it). Applied twice (a redelivery) it changes nothing more. The
// status values come from fixed code lists, never from the message; a
// location list is JSON-encoded.
func (d Change) patch() []byte {
	var ops []string
	if d.Status != "" {
		ops = append(ops, `{"op":"replace","path":"/status","value":"`+d.Status+`"}`)
	}
	if d.DocStatus != "" {
		ops = append(ops, `{"op":"add","path":"/docStatus","value":"`+d.DocStatus+`"}`)
	}
	if d.Location != "" {
		// "add" replaces the list the exchange holds, or sets one where
		// it holds none; applied again it changes nothing more.
		ops = append(ops, `{"op":"add","path":"/location","value":`+d.Location+`}`)
	}
	return []byte("[" + strings.Join(ops, ",") + "]")
}

// ChangeBatch returns the batch Bundle that applies res.Changes, or
// nil when there are none: it marks the document a replacement (MDM
// T09/T10) names in TXA-13 superseded (HL7 v2 chapter 9: the original
// becomes obsolete; FHIR R4 DocumentReference.status "superseded"), the
// document a cancel (T11) names entered-in-error (withdrawn from the
// record it was filed to; "this reference was created in error"), and
// moves the docStatus of the document a status change without content
// (T03) names. It is the v2 counterpart of ccdafhir.SupersedeBatch and
// is queued the same way: after b's transactions, as a batch of its own.
// A replacement's batch carries queue.AttrMissingOK, because the parent
// may never have reached the exchange (it predates ferry, or went another
// way): then that PATCH answers 404 and there is nothing to supersede,
// which counts as done instead of a dead letter. A cancel's or a status
// change's 404 is a dead letter (adapters/pipeline onlySupersedes). b is
// stored either way. The
// bundle carries b's security labels, so a disclosure policy that holds
// the message holds this change too, and b's identifier with
// "#document-status" appended.
func ChangeBatch(b *fhir.Bundle, res Result) *fhir.Bundle {
	return fhir.PatchBatch(b, "#document-status", len(res.Changes), func(i int) (string, []byte) {
		return res.Changes[i].URL, res.Changes[i].patch()
	})
}

// documentKey is the business identifier a document's DocumentReference
// is written under (see document): TXA-12, else TXA-16. ok is false when
// the TXA has neither, and so names no document a later message could
// find again.
func (x *conv) documentKey(txa hl7v2.Segment) (key fhir.Identifier, ok bool) {
	if id, ok := x.eiValue(txa.Field(12), "", "document"); ok {
		return id, true
	}
	return x.eiValue(txa.Field(16), "", "document-file")
}

// changeURL is where the resource of type typ written under key is at
// the exchange: the id put gives it, or the conditional search by the
// identifier where the exchange chooses ids.
func (x *conv) changeURL(typ string, key fhir.Identifier) string {
	if x.byURN(typ) {
		return identifierSearch(typ, key)
	}
	var urn [urnLen]byte
	uuid5URN(&urn, typ, key.System, key.Value)
	return typ + "/" + string(urn[len("urn:uuid:"):])
}

// changeDocument notes a change to the document key names, once.
func (x *conv) changeDocument(key fhir.Identifier, status, docStatus string) {
	x.changeResource("DocumentReference", key, status, docStatus)
}

// changeResource notes a change to the resource of type typ key names,
// once.
func (x *conv) changeResource(typ string, key fhir.Identifier, status, docStatus string) {
	d := Change{URL: x.changeURL(typ, key), Status: status, DocStatus: docStatus}
	for _, e := range x.changes {
		if e == d {
			return
		}
	}
	x.changes = append(x.changes, d)
}

// namedDocument is the message's TXA and the key of the document it
// names (documentKey), or a ContentError naming the field: missing says
// what a message without TXA-12 and TXA-16 fails to name.
func (x *conv) namedDocument(missing string) (hl7v2.Segment, fhir.Identifier, error) {
	txa, ok := x.m.Segment("TXA")
	if !ok {
		return txa, fhir.Identifier{}, &ContentError{Segment: "TXA", Field: "TXA", Reason: "required segment missing"}
	}
	key, ok := x.documentKey(txa)
	if !ok {
		return txa, key, &ContentError{Segment: "TXA", Pos: txa.Pos(), Field: "TXA-12", Reason: missing + " (TXA-12 and TXA-16 are empty)"}
	}
	return txa, key, nil
}

// cancelDocument converts MDM^T11: the document TXA-12 names is withdrawn
// (HL7 v2 chapter 9: it was filed to the wrong patient's record, and is
// to be removed from general access there but kept for reference). ferry
// never deletes at the receiver: ChangeBatch marks its DocumentReference
// entered-in-error. The message carries no content, and even when a
// sender adds OBX the cancelled document is not written again.
func (x *conv) cancelDocument() error {
	_, key, err := x.namedDocument("MDM^T11 names no document to cancel")
	if err != nil {
		return err
	}
	if err := x.patientContext(); err != nil {
		return err
	}
	x.changeDocument(key, "entered-in-error", "")
	// Remembered, so that the document arriving after its cancel (an
	// interface engine's error queue replayed) is not filed current
	// again in the wrong patient's record (see document).
	x.replaces = append(x.replaces, x.cancelKeys(key)...)
	return nil
}

// documentStatus converts MDM^T03, a status change without the document:
// the document TXA-12 names gets the docStatus of TXA-17 (and, when TXA-19
// says it, the status: CA entered-in-error, OB superseded) by a PATCH
// (ChangeBatch) that leaves its content as it is. A T03 that carries the
// document anyway is written in place, as a T04.
func (x *conv) documentStatus() error {
	if hasDocumentContent(x.m) {
		return x.document()
	}
	txa, key, err := x.namedDocument("MDM^T03 names no document whose status changed")
	if err != nil {
		return err
	}
	status := availability[strings.ToUpper(txa.Field(19).Text(1))]
	doc := docStatus[strings.ToUpper(txa.Field(17).Text(1))]
	if status == "" && doc == "" {
		return &ContentError{Segment: "TXA", Pos: txa.Pos(), Field: "TXA-17", Reason: "MDM^T03 gives no document completion status FHIR knows (TXA-17 " + orStr(txa.Field(17).Text(1), "empty") + ")"}
	}
	if err := x.patientContext(); err != nil {
		return err
	}
	if status == "superseded" && x.withdrawn(key) {
		// Withdrawn by a cancel (T11) first: it stays entered-in-error,
		// as it does against a replacement (see document).
		status = ""
	}
	if status == "" && doc == "" {
		return nil
	}
	x.changeDocument(key, status, doc)
	// As a cancel (T11) or a replacement is, so that the document's
	// earlier version arriving or retried after this does not undo it.
	x.replaces = append(x.replaces, x.retiredKeys(status, key)...)
	return nil
}

// retiredKeys are the registry keys that remember the document key names
// as retired by a status (TXA-19): "entered-in-error" (CA, deleted) as a
// cancel (T11) records it, "superseded" (OB, obsolete) as a replacement
// does; none for any other status.
func (x *conv) retiredKeys(status string, key fhir.Identifier) []string {
	switch status {
	case "entered-in-error":
		return x.cancelKeys(key)
	case "superseded":
		return x.retiringKeys("replaced", key)
	}
	return nil
}

// cancelKeys are the registry keys that remember the document key names
// as cancelled: retiringKeys("cancelled", key), and the key of its cancel
// for any patient (anyCancelKey), by which a document filed to another
// patient after it is known as refiled there (see document).
func (x *conv) cancelKeys(key fhir.Identifier) []string {
	return append(x.retiringKeys("cancelled", key), anyCancelKey(key))
}

// anyCancelKey is the registry key of a cancel of the document key names,
// whichever patient it was cancelled for.
func anyCancelKey(key fhir.Identifier) string {
	return registryKeyOf("", "cancelled-any", key)
}

// cancelledHere reports whether a cancel (T11) of the document key names
// was accepted for the message's patient, or for a record merged into it
// (knownKey) unless the document was filed again to this patient after a
// cancel elsewhere (its "refiled" key): a document filed to a duplicate
// record, cancelled there and filed to the right one, is that record's
// own once the registrar merges the duplicate into it, and the cancel
// withdrew it from the duplicate only.
func (x *conv) cancelledHere(key fhir.Identifier) bool {
	if x.known(x.registryKey("cancelled", key)) {
		return true
	}
	if x.known(x.registryKey("refiled", key)) {
		return false
	}
	return x.knownKey("cancelled", key)
}

// withdrawn reports whether the document key names stands withdrawn at
// the exchange by a cancel (T11): one for this patient or a record merged
// into it (cancelledHere), or one for another patient, the document not
// filed to this one since (its DocumentReference is one, keyed by its
// number, whichever patient it was filed to).
func (x *conv) withdrawn(key fhir.Identifier) bool {
	if x.cancelledHere(key) {
		return true
	}
	return x.known(anyCancelKey(key)) && !x.known(x.registryKey("refiled", key))
}

// retiringKeys are registryKey(what, ids...) of the message's patient and
// of every record merged into it (ADT^A40, A47; down chains of merges).
// A document converted before its patient's record was merged knows its
// cancel or replacement by the merged record's key (the queue attributes
// adapters/pipeline SupersedeReplaced reads when it is retried); recorded
// under the survivor's key alone, as a message converted after the merge
// is scoped, the retry would miss it and file the document current again.
func (x *conv) retiringKeys(what string, ids ...fhir.Identifier) []string {
	keys := []string{x.registryKey(what, ids...)}
	for _, k := range x.mergedKeys() {
		keys = append(keys, registryKeyOf(k, what, ids...))
	}
	return keys
}

// mergedKeys are the order keys of the retired identifier the message
// names (retiredKey) and of every record merged into the message's
// patient, directly or down chains (C into B, then B into A: A has both),
// each once and never the patient's own. Merged answers from the merge
// registry's index of survivors, so the walk visits those records only,
// never the whole registry, and it is done once per message.
func (x *conv) mergedKeys() []string {
	if x.mergedFor == x.orderKey && x.mergedDone {
		return x.merged
	}
	x.merged, x.mergedFor, x.mergedDone = x.merged[:0], x.orderKey, true
	seen := map[string]bool{x.orderKey: true}
	add := func(orderKey string) bool {
		if seen[orderKey] {
			return false
		}
		seen[orderKey] = true
		x.merged = append(x.merged, orderKey)
		return true
	}
	if x.retiredKey != "" {
		add(x.retiredKey)
	}
	ml, ok := x.c.Merges.(MergedLookup)
	if !ok {
		return x.merged
	}
	todo := []merges.ID{{System: x.orderID.System, Value: x.orderID.Value}}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, m := range ml.Merged(id) {
			if add(fhir.PatientKey(m.System, m.Value)) {
				todo = append(todo, m)
			}
		}
	}
	return x.merged
}

// availability maps the TXA-19 codes (table 0273) that retire a document
// to DocumentReference.status; AV (available) and UN leave it current.
var availability = map[string]string{"CA": "entered-in-error", "OB": "superseded"}

// hasDocumentContent reports whether m carries document content: an OBX
// of a type document reads.
func hasDocumentContent(m *hl7v2.Message) bool {
	for _, obx := range m.All("OBX") {
		switch strings.ToUpper(obx.Field(2).Text(1)) {
		case "TX", "FT", "ST", "ED":
			return true
		}
	}
	return false
}

// registryKey is a key of the registry of replaced documents
// (Result.Replaces, Converter.Replaced): what ("replaced", "cancelled", or
// a relation "replaces"/"appends" of ids[0] to ids[1]) of the documents
// ids name, for the message's patient (two patients' documents with one
// number never meet). It is a hash, so neither the document numbers nor the patient's
// show in it; the registry is kept in the data directory.
func (x *conv) registryKey(what string, ids ...fhir.Identifier) string {
	return registryKeyOf(x.orderKey, what, ids...)
}

// registryKeyOf is registryKey for the patient whose order key is
// orderKey.
func registryKeyOf(orderKey, what string, ids ...fhir.Identifier) string {
	h := sha256.New()
	part := func(s string) {
		h.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		h.Write([]byte(s))
	}
	part(orderKey)
	for _, id := range ids {
		part(id.System)
		part(id.Value)
	}
	return "v2 " + what + " " + hex.EncodeToString(h.Sum(nil)[:16])
}

// known reports whether the registry of replaced documents holds key.
func (x *conv) known(key string) bool {
	return x.c.Replaced != nil && x.c.Replaced(key)
}

// knownKey reports whether the registry holds registryKey(what, ids...)
// of the message's patient or of a record merged into it (mergedKeys):
// a cancel or a replacement accepted before the merge was recorded under
// the merged record's key, whether the message names that retired
// identifier or the survivor (a sender that moved its queued messages to
// the surviving record).
func (x *conv) knownKey(what string, ids ...fhir.Identifier) bool {
	if x.known(x.registryKey(what, ids...)) {
		return true
	}
	if x.c.Replaced == nil {
		return false
	}
	for _, k := range x.mergedKeys() {
		if x.known(registryKeyOf(k, what, ids...)) {
			return true
		}
	}
	return false
}
