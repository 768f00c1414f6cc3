package pipeline

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters"
)

// TestFHIRJSONUTF16CutShort: a FHIR JSON or NDJSON file saved as UTF-16
// (by its byte-order mark) and cut short in the middle of a character (a
// copy that stopped, a download cut off) was read with a U+FFFD in place
// of the odd byte, and refused, or its last line quarantined, as "not
// valid JSON: invalid character 'ï'", a character the file does not
// hold; an HL7 v2 file so cut is refused saying it is UTF-16 that does
// not decode. So is this one, in memory or streamed.
func TestFHIRJSONUTF16CutShort(t *testing.T) {
	const o1 = `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`
	for _, f := range []struct{ format, text string }{
		{"fhir-json", o1 + "\r\n"},
		{"fhir-ndjson", o1 + "\r\n" + strings.Replace(o1, "o1", "o2", 1) + "\r\n"},
	} {
		for _, order := range []unicode.Endianness{unicode.LittleEndian, unicode.BigEndian} {
			b, err := unicode.UTF16(order, unicode.UseBOM).NewEncoder().Bytes([]byte(f.text))
			if err != nil {
				t.Fatal(err)
			}
			b = b[:len(b)-1]
			p, _ := dedupedPipeline(t, map[string]Converter{"fhir-json": FHIRJSON{}, "fhir-ndjson": FHIRJSON{}})
			err = p.Consume(context.Background(), adapters.Raw{Source: "folder/ehr", Format: f.format, Name: "export.json", Body: b})
			if err == nil || !strings.Contains(err.Error(), "UTF-16") || strings.Contains(err.Error(), "invalid character") {
				t.Errorf("%s in UTF-16 (%v) cut short: %v, want an error saying it is UTF-16 that does not decode", f.format, order, err)
			}
		}
	}
}
