package ehrdrop

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// TestNDJSONBadLeadingLines: an NDJSON file whose first two lines are
// bad (a resource cut short, an object without resourceType) was
// "cannot classify ...: not valid JSON" whole, and none of the
// resources after them was sent, where one bad first line, or bad
// lines further on, are refused each by its number and the others
// sent. Bad lines at the start are now refused as any others are. A
// pretty-printed resource named .ndjson is still one resource.
func TestNDJSONBadLeadingLines(t *testing.T) {
	lines := []string{
		`{"resourceType":"Patient","id":"c","name":[{"fam`,
		`{"name":[{"family":"Doe"}]}`,
		``,
		`{"resourceType":"Observation","status":"final"`,
		`{"resourceType":"Patient","id":"a"}`,
		`{"resourceType":"Patient","id":"b"}`,
	}
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	err := src.Feed(context.Background(), adapters.Raw{Name: "Patient.ndjson", Body: []byte(strings.Join(lines, "\r\n") + "\r\n"), Meta: map[string]string{}})
	if err == nil || !queue.IsPermanent(err) {
		t.Fatalf("err %v: want a permanent error for the bad lines", err)
	}
	for _, want := range []string{"line 1", "line 2", "line 4"} {
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "cannot classify") {
			t.Errorf("err %q: want %s named, not the file unclassified", err, want)
		}
	}
	if n := len(q.all()); n != 2 {
		t.Errorf("queued %d resources, want the 2 good lines", n)
	}

	for _, pretty := range []string{
		"{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p\"\n}\n",
		"{\n{\"resourceType\": \"Patient\",\n  \"id\": \"p\"\n}\n",
	} {
		if got, err := Sniff(strings.NewReader(pretty), "Patient.ndjson"); err != nil && !isUnknown(err) || got.Format == FormatFHIRNDJSON {
			t.Errorf("%q named .ndjson sniffed as %+v, %v", pretty, got, err)
		}
	}
}
