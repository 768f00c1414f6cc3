package csvfhir

import (
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// TestByteOrderMarkOverEncoding: a mapping written for an export in the
// Windows code page (encoding: windows-1252, as README's example has it)
// read the file by it even when the file began with a UTF-8 byte-order
// mark (Excel's "CSV UTF-8", an EHR upgraded to write UTF-8): its
// "Müller" reached the exchange as "MÃ¼ller", with no error unless the
// first column was one the mapping reads. A UTF-16 file so mapped was
// refused as lacking its columns. The mark says what the file is, and
// wins over the mapping's encoding.
func TestByteOrderMarkOverEncoding(t *testing.T) {
	text := "Row,MRN,Last,First,Sex,DOB\r\n1,7,Müller,Zoë,F,1970-01-02\r\n"
	u16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"windows-1252", "iso-8859-1", "utf-8", "utf-16"} {
		for name, in := range map[string][]byte{"utf-8 bom": append([]byte{0xEF, 0xBB, 0xBF}, text...), "utf-16 bom": u16} {
			t.Run(enc+" "+name, func(t *testing.T) {
				m := patientsMapping()
				m.Encoding = enc
				p := onePatient(t, in, m)
				if p.Name[0].Family != "Müller" || p.Name[0].Given[0] != "Zoë" {
					t.Errorf("name %q %q, want Müller Zoë", p.Name[0].Family, p.Name[0].Given)
				}
			})
		}
	}
}
