package ehrdrop

import (
	"strings"
	"testing"
)

// TestManifestLineFollowedByResources: a manifest is archived unsent, so
// only a file that is a manifest and nothing else may be taken for one.
// A first line shaped like a manifest with resource lines after it (a
// tool that heads its NDJSON with the export's summary) must not send
// the Patients to done/ unsent: it is refused, naming what it found, and
// goes to failed/ where the operator sees it.
func TestManifestLineFollowedByResources(t *testing.T) {
	body := `{"transactionTime":"2026-03-01T02:00:00Z","request":"x","requiresAccessToken":true,"output":[],"error":[]}` + "\n" +
		`{"resourceType":"Patient","id":"p1"}` + "\n" +
		`{"resourceType":"Patient","id":"p2"}` + "\n"
	got, err := Sniff(strings.NewReader(body), "export.ndjson")
	if got.Format == FormatBulkManifest {
		t.Fatalf("a manifest line followed by resources is taken for a manifest (archived unsent)")
	}
	if err == nil {
		t.Fatalf("sniffed as %q without error", got.Format)
	}
	// A manifest alone, trailing blank lines included, is still one.
	got, err = Sniff(strings.NewReader(`{"transactionTime":"2026-03-01T02:00:00Z","output":[]}`+"\n\n"), "manifest.json")
	if err != nil || got.Format != FormatBulkManifest {
		t.Fatalf("manifest alone: %q, %v", got.Format, err)
	}
}

// TestPrettyManifestFollowedByResources: the same for a pretty-printed
// manifest with resource lines after its closing brace, and a blank
// line between a one-line manifest and the resources.
func TestPrettyManifestFollowedByResources(t *testing.T) {
	for _, body := range []string{
		"{\n  \"transactionTime\": \"2026-03-01T02:00:00Z\",\n  \"output\": []\n}\n{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n",
		"{\"transactionTime\":\"2026-03-01T02:00:00Z\",\"output\":[]}\n\n{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n",
	} {
		got, err := Sniff(strings.NewReader(body), "export.ndjson")
		if got.Format == FormatBulkManifest || err == nil {
			t.Errorf("%q: %q, %v; want refused", body, got.Format, err)
		}
	}
}
