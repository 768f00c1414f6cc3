package v2fhir

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMDMDocumentConfidentiality: TXA-18 (Document Confidentiality
// Status, table 0272) labels the document, as the IG's TXA[DocumentReference]
// map has it (securityLabel) and STANDARDS.md §7 asks of every v2 label:
// R and V are v3-Confidentiality R and V on the DocumentReference, its
// securityLabel, the Binary that carries the text, the Bundle and
// Result.Labels (which exchange.hold judges); U (usual control) is N,
// not v3 U (unrestricted). The patient and the visit are not the
// document and stay unlabelled.
func TestMDMDocumentConfidentiality(t *testing.T) {
	for _, tc := range []struct{ txa18, want string }{{"R", "R"}, {"V", "V"}, {"U", "N"}} {
		t.Run(tc.txa18, func(t *testing.T) {
			msg := strings.Replace(mdm("T02", "D-C", "DOC-C^EHR", "", "AU", "AV", true), "|AU||AV", "|AU|"+tc.txa18+"|AV", 1)
			b, res := convertMDM(t, ModePatientConditional, msg)
			if b.Meta == nil || codes(b.Meta.Security) != tc.want {
				t.Errorf("bundle labels %s, want %s", toJSON(b.Meta), tc.want)
			}
			if got := codes(res.Labels); got != tc.want {
				t.Errorf("Result.Labels %q, want %s", got, tc.want)
			}
			dr := documentRef(b)
			if dr.Meta == nil || codes(dr.Meta.Security) != tc.want {
				t.Errorf("DocumentReference meta %s, want %s", toJSON(dr.Meta), tc.want)
			}
			if len(dr.SecurityLabel) != 1 || len(dr.SecurityLabel[0].Coding) != 1 ||
				dr.SecurityLabel[0].Coding[0].System != fhir.SystemConfidentiality || dr.SecurityLabel[0].Coding[0].Code != tc.want {
				t.Errorf("DocumentReference.securityLabel %s, want %s", toJSON(dr.SecurityLabel), tc.want)
			}
			for _, e := range b.Entry {
				m, typ := metaOf(e.Resource)
				switch typ {
				case "Binary", "MessageHeader", "Provenance":
					if *m == nil || codes((*m).Security) != tc.want {
						t.Errorf("%s labels %s, want %s", typ, toJSON(*m), tc.want)
					}
				case "Patient", "Encounter":
					if *m != nil {
						t.Errorf("%s labelled %s", typ, toJSON(*m))
					}
				}
			}
		})
	}
}

// TestMDMDocumentSecurityLabelIsHighWaterMark: the DocumentReference's
// securityLabel is the document's high-water mark (STANDARDS.md §7: "Bundle
// and DocumentReference labels carry the high-water mark"), so it carries
// every label that labels the document, not TXA-18's alone: a message
// labelled R in MSH-8 with TXA-18 empty, or a protected visit (PV2-22 Y)
// with TXA-18 U (usual control, N), is an R document, as its
// meta.security already says. The refrain code of the message stays out.
func TestMDMDocumentSecurityLabelIsHighWaterMark(t *testing.T) {
	base := mdm("T02", "D-H", "DOC-H^EHR", "", "AU", "AV", true)
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"MSH-8 R, TXA-18 empty", strings.Replace(base, "20240401103000||MDM", "20240401103000|R|MDM", 1), "R"},
		{"MSH-8 R NODSCLCD SUD, TXA-18 empty", strings.Replace(base, "20240401103000||MDM", "20240401103000|R,NODSCLCD,SUD|MDM", 1), "R,SUD"},
		{"PV2-22 Y, TXA-18 U", strings.Replace(strings.Replace(base, "|AU||AV", "|AU|U|AV", 1),
			"TXA|", "PV2||||||||||||||||||||||Y\nTXA|", 1), "R"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := convertMDM(t, ModePatientConditional, tc.msg)
			dr := documentRef(b)
			if dr.Meta == nil || codes(fhir.HighWaterMark(dr.Meta.Security)) != tc.want {
				t.Fatalf("DocumentReference meta %s, want its high-water mark %s", toJSON(dr.Meta), tc.want)
			}
			var got []fhir.Coding
			for _, l := range dr.SecurityLabel {
				got = append(got, l.Coding...)
			}
			if codes(got) != tc.want {
				t.Errorf("DocumentReference.securityLabel %s, want %s", toJSON(dr.SecurityLabel), tc.want)
			}
		})
	}
}
