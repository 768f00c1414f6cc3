package ops

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/folder"
)

// TestStatusJSONNames pins the /api/status field names: the gateway
// encodes Status and `ferry status` (possibly an older or newer binary)
// decodes it, so a renamed field would silently read as zero.
func TestStatusJSONNames(t *testing.T) {
	s := Status{
		Started: time.Unix(1, 0),
		Sources: []SourceStatus{{Name: "lab", Kind: "mllp", Open: 2}},
		Folders: []FolderStatus{{Name: "fax", Kind: "fax", Path: "/srv/fax", Stats: folder.Stats{Waiting: 2, ClaimsFailing: true,
			LastClaimError: "permission denied", LastClaimErrorAt: time.Unix(1, 0), OldestWaiting: time.Unix(1, 0)}}},
		Certificates: []CertStatus{{Use: "exchange CA", NotAfter: time.Unix(0, 0).UTC()}},
		Online:       true,
		Address:      "127.0.0.1:1",
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"certificates", "data_dir", "delivery", "encryption", "exchange", "folders", "ingest", "now", "queue", "sources", "started", "version"}
	if !slices.Equal(keys, want) {
		t.Errorf("top-level keys %v, want %v", keys, want)
	}
	if string(top["encryption"]) != `{"on":false}` {
		t.Errorf("encryption %s", top["encryption"])
	}
	on, _ := json.Marshal(Encryption{On: true, KeyID: "0123456789abcdef"})
	if string(on) != `{"on":true,"key_id":"0123456789abcdef"}` || (Encryption{On: true, KeyID: "0123456789abcdef"}).String() != "on (key 0123456789abcdef)" || (Encryption{}).String() != "off" {
		t.Errorf("encryption on: %s", on)
	}
	var src []map[string]any
	json.Unmarshal(top["sources"], &src)
	if len(src) != 1 || src[0]["open_connections"] != float64(2) || src[0]["kind"] != "mllp" {
		t.Errorf("sources %s", top["sources"])
	}
	var folders []map[string]any
	json.Unmarshal(top["folders"], &folders)
	if len(folders) != 1 {
		t.Fatalf("folders %s", top["folders"])
	}
	var fkeys []string
	for k := range folders[0] {
		fkeys = append(fkeys, k)
	}
	slices.Sort(fkeys)
	fwant := []string{"claim_errors", "claimed", "claims_failing", "done", "duplicates", "empty", "failed", "kind", "last_claim_error", "last_claim_error_at", "name", "oldest_waiting", "path", "retrying", "special_files", "symlinks", "waiting"}
	if !slices.Equal(fkeys, fwant) {
		t.Errorf("folder keys %v, want %v", fkeys, fwant)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Online || back.Address != "" || back.Sources[0].Name != "lab" {
		t.Errorf("round trip %+v", back)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := &Histogram{BoundsSeconds: []float64{0.001, 0.01, 0.1}, Counts: []int64{50, 40, 9, 1}}
	for _, c := range []struct {
		q    float64
		want string
	}{{0.5, "≤ 1ms"}, {0.9, "≤ 10ms"}, {0.99, "≤ 100ms"}, {1, "> 100ms"}} {
		if got := h.bound(c.q); got != c.want {
			t.Errorf("bound(%v) = %q, want %q", c.q, got, c.want)
		}
	}
}

// TestPrintStatusLongLabels: labels are padded to a column of 19, and
// those longer than it ran into their figures ("convert
// fhir-ndjson:p50 ≤ 500µs", "mllp lab-from-the-lis:0 messages"), as the
// ehr folder's NDJSON drops and any source name of more than 12 letters
// made them. A label always keeps a space before its figures.
func TestPrintStatusLongLabels(t *testing.T) {
	h := &Histogram{BoundsSeconds: []float64{0.001}, Counts: []int64{1, 0}}
	s := &Status{
		Online:  true,
		Convert: map[string]*Histogram{"fhir-ndjson": h, "hl7v2-batch": h},
		Sources: []SourceStatus{{Name: "lab-from-the-lis", Kind: "mllp"}},
		Folders: []FolderStatus{{Name: "ehr-exports-nightly", Kind: "ehr"}},
	}
	var b bytes.Buffer
	PrintStatus(&b, s)
	for _, want := range []string{"convert fhir-ndjson: p50", "convert hl7v2-batch: p50", "mllp lab-from-the-lis: 0 messages", "ehr ehr-exports-nightly: 0 waiting"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
