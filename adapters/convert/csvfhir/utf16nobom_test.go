package csvfhir

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// TestUTF16WithoutBOMNamed: a UTF-16 export without a byte-order mark
// (SQL Server's bcp -w, some PowerShell Out-File pipelines) is valid
// UTF-8 byte for byte, a NUL beside every ASCII letter, so it was read
// as UTF-8 and refused with "the header lacks the column(s) "MRN" ...",
// though the file shows an MRN column in any editor. The error now says
// what the file is and which setting reads it; with encoding: utf-16 it
// is read.
func TestUTF16WithoutBOMNamed(t *testing.T) {
	text := "MRN,Last,First,Sex,DOB\r\n7,Smith,John,M,1970-01-02\r\n"
	b, err := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Convert(b, patientsMapping(), Options{})
	if err == nil || !strings.Contains(err.Error(), "UTF-16") || !strings.Contains(err.Error(), "encoding: utf-16") {
		t.Fatalf("err %v, want it to name UTF-16 and encoding: utf-16", err)
	}
	m := patientsMapping()
	m.Encoding = "utf-16"
	if p := onePatient(t, b, m); p.Name[0].Family != "Smith" {
		t.Fatalf("with encoding utf-16: %+v", p)
	}
}
