package v2fhir

import (
	"bytes"
	"encoding/base64"
	"os"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// A CDA document an OBX ED carries labels the DocumentReference (MDM) or
// the DiagnosticReport (ORU) by its confidentialityCode, but only when it
// was filed text/xml: one sent as TEXT^XML was, one sent as
// application^xml (or AP^XML), as AP with no subtype, or inside a MIME
// package kept whole for the images it references (message/rfc822) was
// not read, so a restricted note with TXA-18 and ORC-28 empty went out
// unlabelled and exchange.hold let it through (STANDARDS.md §7: labels
// carried over from a C-CDA's confidentialityCode). Whatever the type of
// data says, a CDA document the ED carries labels what carries it.
func TestEDCDALabelsWhateverItsType(t *testing.T) {
	raw, err := os.ReadFile("../../../../shared/corpus/ccda/Consultation_Note.xml")
	if err != nil {
		t.Fatal(err)
	}
	const normal = `<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>`
	restricted := bytes.Replace(raw, []byte(normal), []byte(`<confidentialityCode code="R" codeSystem="2.16.840.1.113883.5.25"/>`), 1)
	if bytes.Equal(restricted, raw) {
		t.Fatal("corpus document has no normal confidentialityCode")
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	pkg := "MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"B\"; type=\"text/xml\"\r\n\r\n" +
		"--B\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(restricted) + "\r\n" +
		"--B\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B--\r\n"
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
	c := testConverter(t)
	for _, tc := range []struct{ name, ed string }{
		{"application^xml", "^application^xml^Base64^" + b64(restricted)},
		{"AP^XML", "^AP^XML^Base64^" + b64(restricted)},
		{"AP without subtype", "^AP^^Base64^" + b64(restricted)},
		{"package with an image", "^multipart^x-hl7-cda-level-one^Base64^" + b64([]byte(pkg))},
		{"TEXT^XML", "^TEXT^XML^Base64^" + b64(restricted)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := convertMDM(t, ModeID, "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|CDAL|P|2.5.1\n"+
				"EVN|T02|20240401103000\n"+
				"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
				"TXA|1|CN|AP|20240401100000||20240401101000||||||DOC-CDAL^EHR|||||AU||AV\n"+
				"OBX|1|ED|11488-4^Consult note^LN||"+tc.ed+"||||||F\n")
			d := documentRef(b)
			if d == nil || conf(d.Meta) != "R" || conf(b.Meta) != "R" {
				t.Errorf("MDM: DocumentReference labelled %q, Bundle %q; want R", conf(d.Meta), conf(b.Meta))
			}
			b = mustConvert(t, c, "MSH|^~\\&|LAB|LABFAC|FERRY|HIE|20240401103000||ORU^R01^ORU_R01|CDAO|P|2.5.1\n"+
				"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
				"OBR|1|P1|F1|11488-4^Consult note^LN|||20240401090000|||||||||||||||20240401100000|||F\n"+
				"OBX|1|ED|11488-4^Consult note^LN||"+tc.ed+"||||||F\n")
			drs := entriesOf[fhir.DiagnosticReport](b)
			if len(drs) != 1 || conf(drs[0].Meta) != "R" || conf(b.Meta) != "R" {
				t.Errorf("ORU: report %+v, Bundle labelled %q; want R", drs, conf(b.Meta))
			}
		})
	}
}
