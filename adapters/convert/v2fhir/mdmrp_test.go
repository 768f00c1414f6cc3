package v2fhir

import "testing"

// TestDocumentByReferencePointer: an MDM whose document is an OBX RP, a
// pointer to where the sender keeps it (an imaging system's PDF), is the
// DocumentReference's content by URL, as the v2-to-FHIR IG's RP to
// DocumentReference map writes it (RP.1 content.attachment.url, RP.3
// contentType), not refused as a document without content.
func TestDocumentByReferencePointer(t *testing.T) {
	msg := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|RP1|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|DI|TX|20240401100000||20240401101000||||||DOC-RP^EHR|||||AU||AV\n" +
		"OBX|1|RP|18748-4^Diagnostic imaging study^LN||https://pacs.example.org/reports/77.pdf^EHR^application^pdf||||||F\n"
	for _, mode := range mdmModes {
		b, _ := convertMDM(t, mode, msg)
		dr := documentRef(b)
		if dr == nil {
			t.Fatalf("%s: no DocumentReference", mode)
		}
		if len(dr.Content) != 1 {
			t.Fatalf("%s: %d contents, want 1", mode, len(dr.Content))
		}
		a := dr.Content[0].Attachment
		if a.URL != "https://pacs.example.org/reports/77.pdf" || a.ContentType != "application/pdf" || len(a.Data) != 0 {
			t.Errorf("%s: attachment url %q contentType %q data %d bytes, want the pointer's URL, application/pdf, no data", mode, a.URL, a.ContentType, len(a.Data))
		}
	}
}
