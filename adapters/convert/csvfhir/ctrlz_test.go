package csvfhir

import "testing"

// TestDOSEndOfFileMark: exports of DOS-era databases (dBase, FoxPro,
// Clipper: COPY TO ... DELIMITED) end the file with a Ctrl-Z (0x1A), the
// old end-of-file mark. It was read as a last row of one field, and the
// whole nightly export refused for it ("1 fields, but the header has
// 5"), every night. A Ctrl-Z at the very end is the file's end; one
// anywhere else is still a cell's content.
func TestDOSEndOfFileMark(t *testing.T) {
	for _, in := range []string{
		"MRN,Last,First,Sex,DOB\r\n7,A,B,M,1970-01-02\r\n\x1a",
		"MRN,Last,First,Sex,DOB\r\n7,A,B,M,1970-01-02\r\n\x1a\r\n",
		"MRN,Last,First,Sex,DOB\r\n7,A,B,M,1970-01-02\x1a",
	} {
		parts, err := Convert([]byte(in), patientsMapping(), Options{})
		if err != nil || len(parts) != 1 {
			t.Errorf("%q: %d parts, %v", in, len(parts), err)
		}
	}
}
