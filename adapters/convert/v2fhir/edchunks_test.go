package v2fhir

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// edChunkPDF is a small PDF and its base64 split in three pieces at i and
// j, as senders split a long ED over several OBX.
func edChunkPDF(i, j int) (pdf []byte, chunks []string) {
	pdf = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	b64 := base64.StdEncoding.EncodeToString(pdf)
	return pdf, []string{b64[:i], b64[i:j], b64[j:]}
}

// edChunkOBX is the OBX of a PDF split over three OBX with the same OBX-3
// and OBX-4: the first with ED.2-4, the others with ED.5 only.
func edChunkOBX(chunks []string, code string) string {
	return "OBX|1|ED|" + code + "|1|^application^pdf^Base64^" + chunks[0] + "||||||F\n" +
		"OBX|2|ED|" + code + "|1|^^^^" + chunks[1] + "||||||F\n" +
		"OBX|3|ED|" + code + "|1|^^^^" + chunks[2] + "||||||F\n"
}

// TestEDSplitOverOBXIsOneDocument: a PDF whose base64 a sender split over
// consecutive OBX (OBX-2 ED, the same OBX-3 and OBX-4 sub-ID, the first
// with the type and encoding, the rest with the data only) was refused
// because its first piece is no whole base64 on its own, or, cut on a
// multiple of 4, delivered as a truncated PDF beside attachments of base64
// text. It is one attachment whose bytes are the PDF, in MDM and ORU.
func TestEDSplitOverOBXIsOneDocument(t *testing.T) {
	// Pieces that are no whole base64 on their own, and pieces that are.
	for _, cut := range [][2]int{{37, 75}, {36, 76}} {
		t.Run(itoa(cut[0]), func(t *testing.T) { edSplitOneDocument(t, cut[0], cut[1]) })
	}
}

func edSplitOneDocument(t *testing.T, i, j int) {
	pdf, chunks := edChunkPDF(i, j)
	mdm := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|EDC1|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|DS|TX|20240401100000||20240401101000||||||DOC-EDC1^EHR|||||AU||AV\n" +
		edChunkOBX(chunks, "18842-5^Discharge summary^LN")
	for _, mode := range mdmModes {
		b, _ := convertMDM(t, mode, mdm)
		dr := documentRef(b)
		if dr == nil {
			t.Fatalf("%s: no DocumentReference", mode)
		}
		if len(dr.Content) != 1 || !bytes.Equal(dr.Content[0].Attachment.Data, pdf) || dr.Content[0].Attachment.ContentType != "application/pdf" {
			t.Errorf("%s: MDM has %d contents, want the one PDF", mode, len(dr.Content))
		}
	}
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|EDC2|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		edChunkOBX(chunks, "24627-2^Chest CT report^LN")
	b, _, err := testConverter(t).ConvertRaw([]byte(oru))
	if err != nil {
		t.Fatalf("ORU: %v", err)
	}
	drs := entriesOf[fhir.DiagnosticReport](b)
	if len(drs) != 1 {
		t.Fatalf("reports: %d", len(drs))
	}
	pf := drs[0].PresentedForm
	if len(pf) != 1 || !bytes.Equal(pf[0].Data, pdf) || pf[0].ContentType != "application/pdf" {
		t.Errorf("ORU has %d presented forms, want the one PDF", len(pf))
	}
	if obs := entriesOf[fhir.Observation](b); len(obs) != 0 {
		t.Errorf("ORU: %d observations for the pieces of the PDF", len(obs))
	}
}

// TestEDSplitAfterShiftedHead: a sender that leaves out ED.1 with its
// separator (application^pdf^Base64) and sends all the data in the OBX
// after it gets the one PDF too, not the base64 text as a document.
func TestEDSplitAfterShiftedHead(t *testing.T) {
	pdf, chunks := edChunkPDF(37, 75)
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|EDC5|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|ED|24627-2^Chest CT report^LN|1|application^pdf^Base64||||||F\n"
	for _, c := range chunks {
		oru += "OBX|2|ED|24627-2^Chest CT report^LN|1|^^^^" + c + "||||||F\n"
	}
	drs := entriesOf[fhir.DiagnosticReport](mustConvert(t, testConverter(t), oru))
	if len(drs) != 1 || len(drs[0].PresentedForm) != 1 || !bytes.Equal(drs[0].PresentedForm[0].Data, pdf) || drs[0].PresentedForm[0].ContentType != "application/pdf" {
		t.Errorf("want the one PDF as the report's presented form")
	}
}

// TestEDSeparateDocumentsStaySeparate: documents in consecutive ED OBX
// that each carry their own type of data, or a different OBX-4 sub-ID,
// are separate documents and stay separate attachments.
func TestEDSeparateDocumentsStaySeparate(t *testing.T) {
	for name, obx := range map[string]string{
		"own type": "OBX|1|ED|18842-5^Discharge summary^LN|1|^application^pdf^Base64^QQ==||||||F\n" +
			"OBX|2|ED|18842-5^Discharge summary^LN|1|^application^pdf^Base64^Qg==||||||F\n",
		"other sub-ID": "OBX|1|ED|18842-5^Discharge summary^LN|1|^application^pdf^Base64^QQ==||||||F\n" +
			"OBX|2|ED|18842-5^Discharge summary^LN|2|^application^pdf^Base64^Qg==||||||F\n",
	} {
		mdm := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|EDC3|P|2.5.1\n" +
			"EVN|T02|20240401103000\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
			"TXA|1|DS|TX|20240401100000||20240401101000||||||DOC-EDC3^EHR|||||AU||AV\n" + obx
		b, _ := convertMDM(t, mdmModes[0], mdm)
		dr := documentRef(b)
		if dr == nil || len(dr.Content) != 2 {
			t.Errorf("%s: want two contents, got %v", name, dr)
		}
	}
}

// TestEDContinuationOfRepeatingEDRefused: pieces following an OBX whose
// OBX-5 repeats could continue any of its documents; the message is
// refused naming the OBX rather than one of them delivered broken.
func TestEDContinuationOfRepeatingEDRefused(t *testing.T) {
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|EDC4|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|ED|24627-2^Chest CT report^LN|1|^application^pdf^Base64^QQ==~^application^pdf^Base64^QUFB||||||F\n" +
		"OBX|2|ED|24627-2^Chest CT report^LN|1|^^^^QkI=||||||F\n"
	_, _, err := testConverter(t).ConvertRaw([]byte(oru))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "OBX-5" || ce.Pos != 4 || !strings.Contains(ce.Reason, "continue") {
		t.Errorf("err %v, want a content error naming the first OBX-5", err)
	}
}

// TestEDPieceWithoutItsDocumentRefused: data alone (ED.2 to ED.4 empty)
// that continues no ED before it (another OBX-4, another OBX-3, or no ED
// OBX at all) was delivered as a document of its base64 text
// (application/octet-stream), or, in ED.4, dropped without a word; it is
// refused naming its OBX-5.
func TestEDPieceWithoutItsDocumentRefused(t *testing.T) {
	for name, obx := range map[string]string{
		"other sub-ID": "OBX|1|ED|18842-5^Discharge summary^LN|1|^application^pdf^Base64^QQ==||||||F\n" +
			"OBX|2|ED|18842-5^Discharge summary^LN|2|^^^^QUFB||||||F\n",
		"other code": "OBX|1|ED|18842-5^Discharge summary^LN|1|^application^pdf^Base64^QQ==||||||F\n" +
			"OBX|2|ED|11506-3^Progress note^LN|1|^^^^QUFB||||||F\n",
		"alone in ED.4": "OBX|1|TX|18842-5^Discharge summary^LN||Seen today.||||||F\n" +
			"OBX|2|ED|18842-5^Discharge summary^LN|1|^^^QUFB||||||F\n",
	} {
		mdm := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|EDC6|P|2.5.1\n" +
			"EVN|T02|20240401103000\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
			"TXA|1|DS|TX|20240401100000||20240401101000||||||DOC-EDC6^EHR|||||AU||AV\n" + obx
		_, _, err := testConverter(t).ConvertRaw([]byte(mdm))
		var ce *ContentError
		if !errors.As(err, &ce) || ce.Field != "OBX-5" || ce.Pos != 6 {
			t.Errorf("%s: err %v, want a content error naming the second OBX-5", name, err)
		}
	}
}

// TestEDJoinedPiecesUndecodableNamesThem: when the joined data of a
// document split over several OBX does not decode, the reason named only
// the first OBX and an offset past its end (the offset is in the joined
// data); it now says which OBX were joined to it.
func TestEDJoinedPiecesUndecodableNamesThem(t *testing.T) {
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|EDC7|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|ED|24627-2^Chest CT report^LN|1|^application^pdf^Base64^QUFB||||||F\n" +
		"OBX|2|ED|24627-2^Chest CT report^LN|1|^^^^QQ==||||||F\n" +
		"OBX|3|ED|24627-2^Chest CT report^LN|1|^^^^Qg==||||||F\n"
	_, _, err := testConverter(t).ConvertRaw([]byte(oru))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "OBX-5" || ce.Pos != 4 || !strings.Contains(ce.Reason, "segments 5 to 6") {
		t.Errorf("err %v, want a content error naming the first OBX-5 and the OBX joined to it", err)
	}
}

// TestEDBareValueAfterEDRefused: an ED OBX whose OBX-5 is a bare value
// (only ED.1, the source application, by position) right after an ED OBX
// with the same OBX-3 and OBX-4 is most likely the rest of that document
// sent without its separators; it was dropped without a word and the
// first part delivered as the whole PDF. It is refused naming its OBX-5.
func TestEDBareValueAfterEDRefused(t *testing.T) {
	oru := "MSH|^~\\&|RIS|RAD|HIE|HIE|20240101120000||ORU^R01^ORU_R01|EDC8|P|2.5.1\n" +
		"PID|1||111^^^HOSP^MR||Doe^Jane||19900101|F\n" +
		"OBR|1||F-2^RAD|24627-2^Chest CT^LN|||20240101110000|||||||||||||||20240101115000|||F\n" +
		"OBX|1|ED|24627-2^Chest CT report^LN|1|^application^pdf^Base64^QUFB||||||F\n" +
		"OBX|2|ED|24627-2^Chest CT report^LN|1|QkJC||||||F\n"
	_, _, err := testConverter(t).ConvertRaw([]byte(oru))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "OBX-5" || ce.Pos != 5 {
		t.Errorf("err %v, want a content error naming the second OBX-5", err)
	}
}
