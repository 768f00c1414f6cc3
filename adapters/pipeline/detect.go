package pipeline

import (
	"bytes"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/unicode"
)

// Detect names the format of an input from its first bytes, with the file
// extension only as a tie-breaker: exports are often misnamed (.txt HL7,
// .dat C-CDA). It returns "" when nothing fits. Text saved as UTF-16
// with its byte-order mark (Notepad's "Unicode", PowerShell 5's Out-File),
// which the HL7 v2, C-CDA and FHIR JSON converters read through its mark,
// is told from the text it holds.
func Detect(name string, body []byte) string {
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		// body may be the file's head, cut in the middle of a
		// character: only whole ones are decoded. ExpectBOM: the mark
		// decides the byte order.
		text, err := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Bytes(b[:len(b)&^1])
		if err != nil {
			return ""
		}
		b = text
	}
	b = bytes.TrimLeft(b, " \t\r\n\x0b")
	switch {
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "fax"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "fax"
	case bytes.HasPrefix(b, []byte("MSH")), bytes.HasPrefix(b, []byte("FHS")), bytes.HasPrefix(b, []byte("BHS")):
		return "hl7v2"
	case bytes.HasPrefix(b, []byte("<")):
		head := b
		if len(head) > 4096 {
			head = head[:4096]
		}
		if bytes.Contains(head, []byte("ClinicalDocument")) {
			return "ccda"
		}
	case bytes.HasPrefix(b, []byte("{")):
		ext := strings.ToLower(filepath.Ext(name))
		if ext == ".ndjson" || looksNDJSON(b) {
			return "fhir-ndjson"
		}
		return "fhir-json"
	}
	return ""
}

// looksNDJSON reports whether the first line is a complete JSON object
// followed by another line starting with '{'.
func looksNDJSON(b []byte) bool {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return false
	}
	first := bytes.TrimSpace(b[:i])
	rest := bytes.TrimSpace(b[i+1:])
	return len(first) > 1 && first[len(first)-1] == '}' && len(rest) > 0 && rest[0] == '{'
}
