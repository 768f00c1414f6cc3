package ehrdrop

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestWholeFileLimitFailed: a FHIR JSON document over the limit of files
// read whole (pipeline.TestWholeFileBounded) dropped in an EHR folder goes
// to failed/, kept as it came, its .error.txt naming the file and the
// limit; nothing of it is queued.
func TestWholeFileLimitFailed(t *testing.T) {
	dir := t.TempDir()
	quar, err := pipeline.OpenQuarantine(filepath.Join(t.TempDir(), "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	pipe := pipeline.New(q, &memSeen{}, quar, map[string]pipeline.Converter{
		FormatFHIRJSON: pipeline.FHIRJSON{MaxBytes: 1 << 20},
	}, nil)
	s := startCSVSource(t, dir, []csvfhir.Mapping{}, pipe)
	data := []byte("{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"transaction\",\n  \"entry\": [\n" +
		strings.Repeat("    {\"resource\": {\"resourceType\": \"Patient\", \"identifier\": [{\"system\": \"urn:x\", \"value\": \"1\"}]}, \"request\": {\"method\": \"POST\", \"url\": \"Patient\"}},\n", 20000) +
		"    {\"resource\": {\"resourceType\": \"Patient\"}, \"request\": {\"method\": \"POST\", \"url\": \"Patient\"}}\n  ]\n}\n")
	copyIn(t, dir, "bulk.json", data)
	reason := settled(t, s, "bulk.json", true)
	for _, want := range []string{"bulk.json", "1 MiB", "sources.max_whole_file_bytes", "NDJSON"} {
		if !strings.Contains(reason, want) {
			t.Errorf(".error.txt %q does not name %q", reason, want)
		}
	}
	if got := readFile(t, filepath.Join(s.Engine().Paths().Failed, "bulk.json")); string(got) != string(data) {
		t.Errorf("failed/bulk.json is %d bytes, want the %d dropped", len(got), len(data))
	}
	if n := len(q.all()); n != 0 {
		t.Errorf("%d items queued from a refused file", n)
	}
}
