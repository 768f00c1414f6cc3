package v2fhir

import (
	"encoding/base64"
	"strings"
	"testing"
)

// cdaDoc stands for a CDA document an MDM message carries.
const cdaDoc = `<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3" extension="D1"/></ClinicalDocument>`

// mdmCDA is an MDM^T02 whose OBX-5 is an ED of type
// multipart^x-hl7-cda-level-one with the given encoding and data.
func mdmCDA(enc, data string) string {
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^T02^MDM_T02|CDA1|P|2.5.1\n" +
		"EVN|T02|20240401103000\n" +
		"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
		"TXA|1|CN|TX|20240401100000||20240401101000||||||DOC-CDA1^EHR|||||AU||AV\n" +
		"OBX|1|ED|11488-4^Consult note^LN||^multipart^x-hl7-cda-level-one^" + enc + "^" + data + "||||||F\n"
}

// An MDM whose OBX ED carries a CDA document (type of data multipart,
// subtype x-hl7-cda-level-one, the HL7 v2 way of sending CDA) was filed
// as application/octet-stream, which no viewer at the exchange opens as a
// document. The ED holds either the CDA itself or, as the CDA standard's
// "CDA Document Exchange in HL7 Messages" packages it, a MIME
// multipart/related package (RFC 2557) whose root part is the CDA: the
// attachment is the CDA document, text/xml, as ferry files a C-CDA
// (ccdafhir) and XDS/MHD give a CDA's mimeType. A package with more parts
// than the document (attested multimedia) is kept whole, as the MIME
// message it is, rather than cut.
func TestMDMCDAContentType(t *testing.T) {
	pkg := func(parts ...string) string {
		var b strings.Builder
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"HL7-CDA-boundary\"; type=\"text/xml\"; start=\"<doc1@example>\"\r\n\r\n")
		for _, p := range parts {
			b.WriteString("--HL7-CDA-boundary\r\n" + p + "\r\n")
		}
		b.WriteString("--HL7-CDA-boundary--\r\n")
		return b.String()
	}
	docPart := "Content-Type: text/xml\r\nContent-ID: <doc1@example>\r\n\r\n" + cdaDoc
	b64Part := "Content-Type: text/xml\r\nContent-ID: <doc1@example>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(cdaDoc))
	imgPart := "Content-Type: image/png\r\nContent-ID: <img1@example>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo="
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, enc, data string
		wantType        string
		want            string
	}{
		{"bare CDA, Base64", "Base64", b64(cdaDoc), "text/xml", cdaDoc},
		{"MIME package, Base64", "Base64", b64(pkg(docPart)), "text/xml", cdaDoc},
		{"MIME package, part in base64", "Base64", b64(pkg(b64Part)), "text/xml", cdaDoc},
		// Encoding A: the package in the field as text, its line breaks
		// escaped (\X0D0A\) and XML's < > as they are.
		{"MIME package, as text", "A", strings.ReplaceAll(pkg(docPart), "\r\n", `\X0D0A\`), "text/xml", cdaDoc},
		{"MIME package with an image", "Base64", b64(pkg(docPart, imgPart)), "message/rfc822", pkg(docPart, imgPart)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := convertMDM(t, ModeID, mdmCDA(tc.enc, tc.data))
			dr := documentRef(b)
			if dr == nil || len(dr.Content) != 1 {
				t.Fatalf("DocumentReference %+v", dr)
			}
			att := dr.Content[0].Attachment
			if att.ContentType != tc.wantType || string(att.Data) != tc.want || att.Size != int64(len(tc.want)) {
				t.Errorf("attachment %s (%d bytes) %q, want %s %q", att.ContentType, att.Size, att.Data, tc.wantType, tc.want)
			}
		})
	}
}
