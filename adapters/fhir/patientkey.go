package fhir

import (
	"crypto/sha256"
	"encoding/hex"
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
