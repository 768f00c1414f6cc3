package pipeline

import (
	"bytes"
	"path/filepath"
	"strings"
)

// Detect names the format of an input from its first bytes, with the file
// extension only as a tie-breaker: exports are often misnamed (.txt HL7,
// .dat C-CDA). It returns "" when nothing fits.
func Detect(name string, body []byte) string {
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
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
