package v2fhir

import (
	"strings"
	"testing"
)

// TXA-2 is a CWE from v2.6 on, and senders put a LOINC document code
// there with its coding system in TXA-2.3 ("11488-4^Consult note^LN"):
// the code is LOINC's, and being a LOINC document code it is the type US
// Core's required binding asks for. It was written as a code of table
// 0270 (v2-0270#11488-4, a code that table does not have) beside UNK, so
// the exchange filed a consult note as a document of unknown type. A
// table 0270 code (CN), with or without TXA-2.3, keeps its mapping.
func TestDocumentTypeCodingSystem(t *testing.T) {
	for txa2, want := range map[string]string{
		"11488-4^Consult note^LN":    "http://loinc.org#11488-4",
		"11488-4^Consult note^LOINC": "http://loinc.org#11488-4",
		"CN^Consultation^HL70270":    "http://loinc.org#11488-4 http://terminology.hl7.org/CodeSystem/v2-0270#CN",
		"CN":                         "http://loinc.org#11488-4 http://terminology.hl7.org/CodeSystem/v2-0270#CN",
		"ZZ^Odd note^HL70270":        "http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK http://terminology.hl7.org/CodeSystem/v2-0270#ZZ",
		"ZZ^Odd note^HL70270^11488-4^Consult note^LN":     "http://loinc.org#11488-4 http://terminology.hl7.org/CodeSystem/v2-0270#ZZ",
		"CN^Consultation^HL70270^11488-4^Consult note^LN": "http://loinc.org#11488-4 http://terminology.hl7.org/CodeSystem/v2-0270#CN",
		"NOTE-7^Visit note^2.16.840.1.113883.3.999.9":     "http://terminology.hl7.org/CodeSystem/v3-NullFlavor#UNK urn:oid:2.16.840.1.113883.3.999.9#NOTE-7",
	} {
		if got := documentTypeOf(t, txa2); got != want {
			t.Errorf("TXA-2 %q: type %s, want %s", txa2, got, want)
		}
	}
}

// documentTypeOf converts an MDM^T02 whose TXA-2 is txa2 and returns its
// DocumentReference.type codings as "system#code", space-separated.
func documentTypeOf(t *testing.T, txa2 string) string {
	t.Helper()
	msg := strings.Replace(mdm("T02", "DT-1", "DOC-1^EHR", "", "AU", "AV", true), "TXA|1|PN|", "TXA|1|"+txa2+"|", 1)
	b, _ := convertMDM(t, ModeID, msg)
	var s []string
	for _, c := range documentRef(b).Type.Coding {
		s = append(s, c.System+"#"+c.Code)
	}
	return strings.Join(s, " ")
}
