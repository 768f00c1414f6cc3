package pipeline

import (
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// TestDetectUTF16: a file saved as UTF-16 with its byte-order mark
// (Notepad's "Unicode", PowerShell 5's > and Out-File, a Windows EHR's
// C-CDA export) is read by the HL7 v2, C-CDA and FHIR JSON converters
// through its mark, and an EHR drop takes it (ehrdrop.Sniff), but Detect
// looked at its bytes as they were, so `ferry backfill DIR` listed it as
// skipped and `ferry convert` could not tell its format. It is told from
// the text the mark says it is.
func TestDetectUTF16(t *testing.T) {
	ccda := "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<?xml-stylesheet type=\"text/xsl\" href=\"CDA.xsl\"?>\r\n" +
		"<ClinicalDocument xmlns=\"urn:hl7-org:v3\">\r\n  <realmCode code=\"US\"/>\r\n</ClinicalDocument>\r\n"
	cases := map[string]string{
		"MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||ADT^A01|1|P|2.5.1\r": "hl7v2",
		ccda:                                  "ccda",
		`{"resourceType":"Bundle"}`:           "fhir-json",
		"{\"a\":1}\r\n{\"b\":2}\r\n":          "fhir-ndjson",
		"\r\n  <ClinicalDocument xmlns=\"\">": "ccda",
	}
	for text, want := range cases {
		for _, order := range []unicode.Endianness{unicode.LittleEndian, unicode.BigEndian} {
			b, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			// backfill hands Detect the file's first 4 KiB.
			head := b[:min(len(b), 4096)]
			if got := Detect("export.txt", head); got != want {
				t.Errorf("Detect(UTF-16 %v %.30q) = %q, want %q", order, text, got, want)
			}
			// A head cut in the middle of a character still decides.
			if len(head) > 3 {
				if got := Detect("export.txt", head[:len(head)-1]); got != want {
					t.Errorf("Detect(UTF-16 %v %.30q, odd length) = %q, want %q", order, text, got, want)
				}
			}
		}
	}
}
