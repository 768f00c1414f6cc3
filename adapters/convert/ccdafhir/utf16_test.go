package ccdafhir

import (
	"bytes"
	"crypto/sha1"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"golang.org/x/text/encoding/unicode"
)

// TestUTF16Document: a C-CDA saved as UTF-16 with its byte-order mark
// (Notepad's "Unicode", PowerShell's Out-File, an EHR's "Unicode" export),
// which the EHR drop's sniffer takes for a C-CDA, was refused "xml:
// invalid UTF-8" and quarantined. XML 1.0 §4.3.3: "All XML processors
// MUST be able to read entities in both the UTF-8 and UTF-16 encodings."
// It converts as its UTF-8 form does, the Binary keeping the bytes sent.
func TestUTF16Document(t *testing.T) {
	doc := strings.Replace(reviewDoc("d1", "s1", "", problemSection), `<?xml version="1.0"?>`, `<?xml version="1.0" encoding="UTF-16"?>`, 1)
	want, wantRes, err := ConvertBytes([]byte(strings.Replace(doc, "UTF-16", "UTF-8", 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for end, order := range map[string]unicode.Endianness{"LE": unicode.LittleEndian, "BE": unicode.BigEndian} {
		raw, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().Bytes([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		b, res, err := ConvertBytes(raw, Options{})
		if err != nil {
			t.Fatalf("UTF-16 %s: %v", end, err)
		}
		if !equalCounts(res.Counts, wantRes.Counts) || res.PatientKey != wantRes.PatientKey {
			t.Errorf("UTF-16 %s: counts %v, patient %s; UTF-8 gives %v, %s", end, res.Counts, res.PatientKey, wantRes.Counts, wantRes.PatientKey)
		}
		var cond *fhir.Condition
		for _, e := range b.Entry {
			switch r := e.Resource.(type) {
			case *fhir.Condition:
				cond = r
			case *fhir.Binary:
				if !bytes.Equal(r.Data, raw) {
					t.Errorf("UTF-16 %s: Binary holds %d bytes, not the %d sent", end, len(r.Data), len(raw))
				}
			case *fhir.DocumentReference:
				if h := sha1.Sum(raw); !bytes.Equal(r.Content[0].Attachment.Hash, h[:]) {
					t.Errorf("UTF-16 %s: attachment hash is not the SHA-1 of the bytes sent", end)
				}
			}
		}
		if cond == nil || cond.Code == nil || len(cond.Code.Coding) == 0 || cond.Code.Coding[0].Code != conditionCode(t, want) {
			t.Errorf("UTF-16 %s: condition %+v, want the UTF-8 form's", end, cond)
		}
	}
}

// conditionCode is the first Condition's first code in b.
func conditionCode(t *testing.T, b *fhir.Bundle) string {
	t.Helper()
	for _, e := range b.Entry {
		if c, ok := e.Resource.(*fhir.Condition); ok && c.Code != nil && len(c.Code.Coding) > 0 {
			return c.Code.Coding[0].Code
		}
	}
	t.Fatal("no coded Condition")
	return ""
}
