package v2fhir

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// An ED whose sender left out ED.1 (source application) and its
// separator, writing application^pdf^Base64^<data> where HL7 v2 has
// ^application^pdf^Base64^<data> (ED.2 type of data, ED.3 subtype, ED.4
// encoding, ED.5 data), was read as an ED without data (ED.5 empty):
// the lab's PDF report was dropped from the DiagnosticReport without a
// word, and an MDM carrying its document so was refused as one without
// content. ED.3 is then the encoding, which no subtype is, and ED.4 the
// data; an ED that gives no data at all (^application^pdf^Base64^)
// still carries nothing.
func TestEDWithoutSourceApplication(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n")
	b64 := base64.StdEncoding.EncodeToString(pdf)
	c := testConverter(t)
	for _, tc := range []struct{ name, ed string }{
		{"four components", "application^pdf^Base64^" + b64},
		{"five components", "^application^pdf^Base64^" + b64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustConvert(t, c, "MSH|^~\\&|LAB|LABFAC|FERRY|HIE|20240401103000||ORU^R01^ORU_R01|ED-"+tc.name[:4]+"|P|2.5.1\n"+
				"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
				"OBR|1|P1|F1|11502-2^Laboratory report^LN|||20240401090000|||||||||||||||20240401100000|||F\n"+
				"OBX|1|ED|11502-2^Laboratory report^LN||"+tc.ed+"||||||F\n")
			drs := entriesOf[fhir.DiagnosticReport](b)
			if len(drs) != 1 || len(drs[0].PresentedForm) != 1 {
				t.Fatalf("the report's presentedForm is lost: %+v", drs)
			}
			if pf := drs[0].PresentedForm[0]; pf.ContentType != "application/pdf" || !bytes.Equal(pf.Data, pdf) {
				t.Errorf("presentedForm %s, %q; want application/pdf, the PDF", pf.ContentType, pf.Data)
			}

			d := documentRef(mustConvert(t, c, "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|EDM-"+tc.name[:4]+"|P|2.5.1\n"+
				"EVN|T02|20240401103000\n"+
				"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
				"TXA|1|CN|AP|20240401100000||20240401101000||||||DOC-ED1^EHR|||||AU||AV\n"+
				"OBX|1|ED|11488-4^Consult note^LN||"+tc.ed+"||||||F\n"))
			if d == nil || len(d.Content) != 1 || d.Content[0].Attachment.ContentType != "application/pdf" || !bytes.Equal(d.Content[0].Attachment.Data, pdf) {
				t.Errorf("MDM document content: %+v", d)
			}
		})
	}
	// No data anywhere: nothing to attach, as before.
	b := mustConvert(t, c, "MSH|^~\\&|LAB|LABFAC|FERRY|HIE|20240401103000||ORU^R01^ORU_R01|ED-none|P|2.5.1\n"+
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n"+
		"OBR|1|P1|F1|11502-2^Laboratory report^LN|||20240401090000|||||||||||||||20240401100000|||F\n"+
		"OBX|1|ED|11502-2^Laboratory report^LN||^application^pdf^Base64^||||||F\n"+
		"OBX|2|NM|2345-7^Glucose^LN||95|mg/dL^^UCUM|||||F\n")
	if drs := entriesOf[fhir.DiagnosticReport](b); len(drs) != 1 || len(drs[0].PresentedForm) != 0 {
		t.Errorf("an ED without data: %+v", drs)
	}
}
