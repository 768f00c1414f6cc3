package v2fhir

import (
	"bytes"
	"encoding/base64"
	"os"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestMDMCDAConfidentiality: an MDM whose OBX carries a CDA document
// (multipart^x-hl7-cda-level-one) and leaves TXA-18 empty, as EHRs
// sending a consult note do, went out with no label at all though the
// document's own confidentialityCode says R (a behavioral health consult),
// so exchange.hold let it through; STANDARDS.md §7 has the gateway carry
// labels over from a C-CDA's confidentialityCode. The document's code,
// and a section's above it (the high-water mark, as ccdafhir reads a
// C-CDA), now label the DocumentReference, its securityLabel and the
// Bundle, beside TXA-18's; the higher one wins.
func TestMDMCDAConfidentiality(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/ccda/Consultation_Note.xml")
	if err != nil {
		t.Fatal(err)
	}
	const normal = `<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>`
	if !bytes.Contains(raw, []byte(normal)) {
		t.Fatal("corpus document has no normal confidentialityCode")
	}
	restricted := bytes.Replace(raw, []byte(normal), []byte(`<confidentialityCode code="R" codeSystem="2.16.840.1.113883.5.25"/>`), 1)
	section := bytes.Replace(raw, []byte(`<section>`), []byte(`<section><confidentialityCode code="V" codeSystem="2.16.840.1.113883.5.25"/>`), 1)
	if bytes.Equal(section, raw) {
		t.Fatal("corpus document has no section")
	}
	latin1 := bytes.Replace(restricted, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1)
	for _, tc := range []struct {
		name   string
		doc    []byte
		txa18  string
		want   string
		bundle string
	}{
		{"restricted document", restricted, "", "R", "R"},
		{"restricted document in ISO-8859-1", latin1, "", "R", "R"},
		{"very restricted section", section, "", "V", "V"},
		{"TXA-18 higher than the document", restricted, "V", "V", "V"},
		{"normal document", raw, "", "N", "N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|CDA2|P|2.5.1\n" +
				"EVN|T02|20240401103000\n" +
				"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
				"TXA|1|CN|TX|20240401100000||20240401101000||||||DOC-CDA2^EHR|||||AU|" + tc.txa18 + "|AV\n" +
				"OBX|1|ED|11488-4^Consult note^LN||^multipart^x-hl7-cda-level-one^Base64^" + base64.StdEncoding.EncodeToString(tc.doc) + "||||||F\n"
			b, _ := convertMDM(t, ModeID, msg)
			dr := documentRef(b)
			if dr == nil || len(dr.Content) != 1 || dr.Content[0].Attachment.ContentType != "text/xml" {
				t.Fatalf("DocumentReference %+v", dr)
			}
			conf := func(cs []fhir.Coding) string {
				for _, c := range cs {
					if c.System == fhir.SystemConfidentiality {
						return c.Code
					}
				}
				return ""
			}
			var label []fhir.Coding
			for _, cc := range dr.SecurityLabel {
				label = append(label, cc.Coding...)
			}
			var meta, bmeta []fhir.Coding
			if dr.Meta != nil {
				meta = dr.Meta.Security
			}
			if b.Meta != nil {
				bmeta = b.Meta.Security
			}
			if conf(meta) != tc.want || conf(label) != tc.want || conf(bmeta) != tc.bundle {
				t.Errorf("DocumentReference meta %q, securityLabel %q, Bundle %q; want %s, %s, %s",
					conf(meta), conf(label), conf(bmeta), tc.want, tc.want, tc.bundle)
			}
		})
	}
}

// TestORUCDAConfidentiality: a result whose OBX carries the report as a
// CDA document (a pathology report, ED multipart^x-hl7-cda-level-one)
// is the DiagnosticReport's presentedForm, and the document's
// confidentialityCode R labelled nothing, so the report went out
// unlabelled past exchange.hold; it labels the report (and, through the
// high-water mark, the Binary and the Bundle) as ORC-28 does, while the
// other order group's report stays as it was.
func TestORUCDAConfidentiality(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/ccda/Diagnostic_Imaging_Report.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := bytes.Replace(raw, []byte(`<confidentialityCode code="N"`), []byte(`<confidentialityCode code="R"`), 1)
	if bytes.Equal(doc, raw) {
		t.Fatal("corpus document has no normal confidentialityCode")
	}
	msg := "MSH|^~\\&|LABSYS|ACMELAB|FERRY|SPRINGCLINIC|20240317143000-0500||ORU^R01^ORU_R01|LAB-6602|P|2.5.1\r" +
		"PID|1||A100^^^HOSP^MR||Roe^Sam||19850505|M\r" +
		"ORC|RE|ORD-4457^SPRINGCLINIC|F-77003^ACMELAB\r" +
		"OBR|1|ORD-4457^SPRINGCLINIC|F-77003^ACMELAB|11529-5^Surgical pathology study^LN|||20240317091500-0500||||||||||||||||20240317142500-0500||SP|F\r" +
		"OBX|1|ED|11529-5^Surgical pathology study^LN||^multipart^x-hl7-cda-level-one^Base64^" + base64.StdEncoding.EncodeToString(doc) + "||||||F\r" +
		"ORC|RE|ORD-4458^SPRINGCLINIC|F-77004^ACMELAB\r" +
		"OBR|2|ORD-4458^SPRINGCLINIC|F-77004^ACMELAB|2345-7^Glucose [Mass/volume] in Serum or Plasma^LN|||20240317091500-0500||||||||||||||||20240317142500-0500||CH|F\r" +
		"OBX|1|NM|2345-7^Glucose [Mass/volume] in Serum or Plasma^LN||95|mg/dL^mg/dL^UCUM|70-99|N|||F\r"
	b, res, err := testConverter(t).ConvertRaw([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	conf := func(m *fhir.Meta) string {
		if m == nil {
			return ""
		}
		for _, c := range m.Security {
			if c.System == fhir.SystemConfidentiality {
				return c.Code
			}
		}
		return ""
	}
	got := map[string]string{}
	for _, e := range b.Entry {
		if dr, ok := e.Resource.(*fhir.DiagnosticReport); ok {
			got[dr.Code.Coding[0].Code] = conf(dr.Meta)
		}
	}
	if got["11529-5"] != "R" || got["2345-7"] != "" {
		t.Errorf("reports labelled %v; want the pathology report R, the glucose unlabelled", got)
	}
	if conf(b.Meta) != "R" {
		t.Errorf("Bundle labelled %q, want R", conf(b.Meta))
	}
	if len(res.Labels) == 0 || res.Labels[0].Code != "R" {
		t.Errorf("Result.Labels %v, want R (what exchange.hold reads)", res.Labels)
	}
}
