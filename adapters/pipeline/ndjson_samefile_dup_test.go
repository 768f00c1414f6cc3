package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestNDJSONRepeatedLineQueuedOnce: an NDJSON file that holds the same
// line twice (an export appended to itself, a resource a paged export
// wrote on two pages) queued it twice when both lines fell in one
// commit, the duplicate filter knowing only what earlier commits
// remembered, though the same line met again in a later commit of the
// file is dropped as a resend. A line the file already stored is
// dropped as one too, and a line with other content is not.
func TestNDJSONRepeatedLineQueuedOnce(t *testing.T) {
	const o1 = `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`
	const o2 = `{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/p1"}}`
	o1Amended := strings.Replace(o1, "final", "amended", 1)
	for name, tc := range map[string]struct {
		lines []string
		want  int
	}{
		"back to back":    {[]string{o1, o1}, 1},
		"another between": {[]string{o1, o2, o1}, 2},
		"other content":   {[]string{o1, o1Amended}, 2},
		"three times":     {[]string{o1, o2, o1, o2, o1}, 2},
		"each once":       {[]string{o1, o2}, 2},
	} {
		for _, scoped := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				p, q := dedupedPipeline(t, map[string]Converter{"fhir-ndjson": FHIRJSON{}})
				in := adapters.Raw{Source: "folder/ehr", Format: "fhir-ndjson", Name: "Observation.ndjson", Body: []byte(strings.Join(tc.lines, "\n") + "\n")}
				if scoped {
					in.Meta = map[string]string{folder.MetaSHA256: "5eed"}
				}
				if err := p.Consume(context.Background(), in); err != nil {
					t.Fatal(err)
				}
				if n := q.Len(); n != tc.want {
					t.Errorf("%d bundles queued, want %d", n, tc.want)
				}
				if n, want := p.Stats().Duplicates.Load(), int64(len(tc.lines)-tc.want); n != want {
					t.Errorf("%d counted duplicates, want %d", n, want)
				}
			})
		}
	}
}
