package v2fhir

import (
	"testing"
)

// A document sent a line to an OBX has its paragraphs apart by an OBX
// whose OBX-5 is empty, the blank line between them (as transcription
// systems write them, and document systems read them). Such an OBX has
// no repetition to read, so the blank lines were dropped and the
// DocumentReference's text ran its paragraphs together: "HISTORY: ...",
// "IMPRESSION: ..." on consecutive lines, its headings no longer set
// apart. An empty OBX-5 is an empty line now.
func TestMDMBlankLines(t *testing.T) {
	msg := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|BL1|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|CN|TX|20240401100000||20240401101000||||||DOC-BL1^EHR|||||AU||AV\n" +
		"OBX|1|TX|11488-4^Consult note^LN|1|HISTORY:||||||F\n" +
		"OBX|2|TX|11488-4^Consult note^LN|1|Cough for two weeks.||||||F\n" +
		"OBX|3|TX|11488-4^Consult note^LN|1|||||||F\n" +
		"OBX|4|TX|11488-4^Consult note^LN|1|IMPRESSION:||||||F\n" +
		"OBX|5|TX|11488-4^Consult note^LN|1|Bronchitis.||||||F\n"
	b, _ := convertMDM(t, ModeID, msg)
	d := documentRef(b)
	if d == nil || len(d.Content) != 1 {
		t.Fatalf("document: %+v", d)
	}
	want := "HISTORY:\nCough for two weeks.\n\nIMPRESSION:\nBronchitis."
	if got := string(d.Content[0].Attachment.Data); got != want {
		t.Errorf("document text:\n%q\nwant\n%q", got, want)
	}
}
