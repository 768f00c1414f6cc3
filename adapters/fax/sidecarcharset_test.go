package fax

import (
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// utf16LE is s in UTF-16LE with its byte-order mark, as PowerShell 5's
// Out-File and ">" and Notepad's "Unicode" write text.
func utf16LE(s string) []byte {
	b := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// TestSidecarEncodings: sidecars that fax servers and the scripts around
// them on Windows write in another encoding than UTF-8 are read: an XML
// sidecar that declares ISO-8859-1 or windows-1252 (encoding/xml refused
// every one, "CharsetReader is nil"), one saved as UTF-16 with its BOM
// (PowerShell's ConvertTo-Json | Out-File, Notepad's "Unicode"), and a
// JSON sidecar in Windows-1252. Each was "unreadable", and its fax filed
// at the exchange under no patient.
func TestSidecarEncodings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sidecar []byte
	}{
		{"xml latin-1", []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<fax><MRN>4711</MRN><PatientName>M\xfcller, J\xfcrgen</PatientName></fax>")},
		{"xml windows-1252", []byte("<?xml version='1.0' encoding='windows-1252'?><fax><MRN>4711</MRN><PatientName>M\xfcller, J\xfcrgen</PatientName></fax>")},
		{"xml utf-16", utf16LE("<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<fax><MRN>4711</MRN><PatientName>Müller, Jürgen</PatientName></fax>\r\n")},
		{"json utf-16", utf16LE("{\r\n    \"MRN\":  \"4711\",\r\n    \"PatientName\":  \"Müller, Jürgen\"\r\n}\r\n")},
		{"json windows-1252", []byte("{\"MRN\": \"4711\", \"PatientName\": \"M\xfcller, J\xfcrgen\"}")},
	} {
		var f faxfhir.Fax
		if err := parseSidecar(&f, tc.sidecar, time.UTC); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if f.MRN != "4711" || f.PatientName != "Müller, Jürgen" {
			t.Errorf("%s: MRN %q, name %q; want 4711, Müller, Jürgen", tc.name, f.MRN, f.PatientName)
		}
	}
}
