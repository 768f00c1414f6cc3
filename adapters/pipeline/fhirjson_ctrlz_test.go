package pipeline

import (
	"context"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestFHIRJSONEndOfFileMark: a Ctrl-Z (0x1A) ending a JSON or NDJSON file,
// the end-of-file mark Windows' `copy a.ndjson+b.ndjson c.ndjson` (without
// /b) appends and DOS-era tools still write, refused a JSON document
// ("invalid character") and quarantined an NDJSON file's last line, or a
// line of its own, as not valid JSON, though the HL7 v2 batch reader and
// the CSV reader skip it. It is skipped, and the file converts as it
// does without it.
func TestFHIRJSONEndOfFileMark(t *testing.T) {
	const o1 = `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`
	const o2 = `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`
	for name, tc := range map[string]struct {
		format, body string
		want         int
	}{
		"document":                 {"fhir-json", o1 + "\r\n\x1a", 1},
		"document without its end": {"fhir-json", o1 + "\x1a", 1},
		"ndjson mark on a line":    {"fhir-ndjson", o1 + "\r\n" + o2 + "\r\n\x1a", 2},
		"ndjson mark after a line": {"fhir-ndjson", o1 + "\r\n" + o2 + "\x1a", 2},
		"ndjson joined parts":      {"fhir-ndjson", o1 + "\r\n\x1a" + o2 + "\r\n\x1a", 2},
	} {
		t.Run(name, func(t *testing.T) {
			p, q := dedupedPipeline(t, map[string]Converter{"fhir-json": FHIRJSON{}, "fhir-ndjson": FHIRJSON{}})
			in := adapters.Raw{Source: "folder/ehr", Format: tc.format, Name: "export.json", Body: []byte(tc.body)}
			if err := p.Consume(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			if n := q.Len(); n != tc.want {
				t.Errorf("%d bundles queued, want %d", n, tc.want)
			}
		})
	}
}
