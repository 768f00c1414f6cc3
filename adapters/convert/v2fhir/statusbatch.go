package v2fhir

import (
	"github.com/ferry-health/ferry/adapters/fhir"
)

// finalPatch is the JSON Patch (RFC 6902) that makes a stored Observation
// final. It replaces the status and nothing else, so the value, range and
// interpretation the preliminary result carried stay; applied twice (a
// redelivery) it changes nothing more.
var finalPatch = []byte(`[{"op":"replace","path":"/status","value":"final"}]`)

// JSONPatchType is fhir.JSONPatchType.
const JSONPatchType = fhir.JSONPatchType

// StatusBatch returns the batch Bundle that moves the results res.Finals
// names to final, or nil when there are none. Each is an OBX-11 "U"
// without a value: the lab says a result it sent as preliminary is now
// final, without sending it again. Writing such an OBX as an Observation
// would replace the stored result with one without a value, so Convert
// leaves it out of b (the report still refers to it) and this bundle
// PATCHes the stored Observation's status instead.
//
// It is a batch, not a transaction, and is delivered after b's
// transactions: when the exchange never received the preliminary result,
// that PATCH answers 404 on its own and the delivery is dead-lettered with
// that reason, instead of failing the whole report with it. The bundle
// carries b's security labels, so a disclosure policy that holds the
// report holds its status change too, and b's identifier with
// "#status-final" appended.
func StatusBatch(b *fhir.Bundle, res Result) *fhir.Bundle {
	return fhir.PatchBatch(b, "#status-final", len(res.Finals), func(i int) (string, []byte) { return res.Finals[i], finalPatch })
}
