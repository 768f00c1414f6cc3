package fhir

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/google/uuid"
)

// PatientKey is the queue ordering key (queue.Item.Key) for the patient
// identified by system and value, an identifier such as the clinic's MRN.
// Every converter derives its key here so that one patient's items keep
// their order whatever the source: a fax or C-CDA must not overtake the
// HL7 ADT^A01 that registers the patient at the exchange. It is the first
// 16 bytes of SHA-256 over "system|value", in hex, so queue metadata,
// logs and the status page hold no MRN in clear. Being unkeyed, it can be
// matched to a chart number by hashing candidates: with data at rest
// sealed, the pipeline replaces it with seal.Key.Pseudonym of it before
// anything stores it. An empty value gives "" (no ordering).
func PatientKey(system, value string) string {
	if value == "" {
		return ""
	}
	h := sha256.Sum256([]byte(system + "|" + value))
	return hex.EncodeToString(h[:16])
}

// idNamespace is the UUIDv5 namespace of the ids ferry gives resources
// keyed by a business identifier: the HL7 v2 converter's, under which the
// Patients of existing deployments were written.
var idNamespace = [16]byte{0x6b, 0x1e, 0x3f, 0x52, 0x0c, 0x4d, 0x5a, 0x8e, 0x9f, 0x21, 0x7a, 0x44, 0x13, 0xd0, 0xe5, 0x66}

// PatientID is the literal id (Patient/<id>) of the Patient whose
// business identifier is system|value, for every converter that writes
// or refers to a Patient by id (hl7v2.writes ids): one chart number that
// arrives by the ADT feed, a C-CDA export and a CSV export must be one
// Patient at the exchange, since two Patients with one identifier split
// the patient's data and make every later conditional write by that
// identifier fail (412, multiple matches). It is the RFC 9562 version 5
// UUID of "Patient|system|value" in the HL7 v2 converter's namespace, so
// the ids that converter has always written stay as they are.
func PatientID(system, value string) string {
	return uuid.NewSHA1(uuid.UUID(idNamespace), []byte("Patient|"+system+"|"+value)).String()
}
