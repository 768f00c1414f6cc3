package ehrdrop

import (
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestFHIRDropEndOfFileMark: FHIR JSON and NDJSON files ending in a Ctrl-Z
// (0x1A), the end-of-file mark Windows' copy appends when it joins files
// without /b (copy a.ndjson+b.ndjson all.ndjson), as an HL7 v2 or CSV
// file may: a one-line JSON document so ended was refused as "text
// follows the first JSON object", a pretty-printed one and NDJSON passed
// the sniffer but were refused or had their last line quarantined as not
// valid JSON. Each goes to done/, its resources queued.
func TestFHIRDropEndOfFileMark(t *testing.T) {
	dir := t.TempDir()
	quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	pipe := pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatFHIRNDJSON: pipeline.FHIRJSON{},
		FormatFHIRJSON:   pipeline.FHIRJSON{},
	}, nil)
	s := startCSVSource(t, dir, []csvfhir.Mapping{}, pipe)
	patient := func(id string) string {
		return `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Doe"}]}`
	}
	obs := func(id string) string {
		return `{"resourceType":"Observation","id":"o-` + id + `","status":"final","code":{"text":"k"},"subject":{"reference":"Patient/` + id + `"}}`
	}
	for _, f := range []struct {
		name, data string
		n          int
	}{
		{"one.json", patient("p1") + "\r\n\x1a", 1},
		{"pretty.json", "{\r\n  \"resourceType\": \"Patient\",\r\n  \"id\": \"p2\"\r\n}\r\n\x1a", 1},
		{"joined.ndjson", patient("p3") + "\r\n" + obs("p3") + "\r\n\x1a", 2},
		{"nolf.ndjson", patient("p4") + "\r\n" + obs("p4") + "\x1a", 2},
		{"nolf.json", patient("p5") + "\x1a", 1},
	} {
		before := len(q.all())
		copyIn(t, dir, f.name, []byte(f.data))
		paths := s.Engine().Paths()
		var done, failed []string
		waitFor(t, f.name+" in done/ or failed/", func() bool {
			done, _ = filepath.Glob(filepath.Join(paths.Done, "*", f.name))
			failed, _ = filepath.Glob(filepath.Join(paths.Failed, f.name+".error.txt"))
			return len(done)+len(failed) > 0
		})
		if len(failed) > 0 {
			t.Errorf("%s: in failed/: %s", f.name, readFile(t, failed[0]))
			continue
		}
		if n := len(q.all()) - before; n != f.n {
			t.Errorf("%s: %d items queued, want %d", f.name, n, f.n)
		}
	}
}
