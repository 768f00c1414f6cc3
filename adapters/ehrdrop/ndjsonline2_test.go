package ehrdrop

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// A bad second line of an NDJSON file is a bad line like any other: the
// file's other resources are sent and the error names the file and the
// line, as for a bad third line. It used to make the whole file "cannot
// classify", none of its resources sent, for a line that only a later
// position would have let through.
func TestNDJSONBadSecondLine(t *testing.T) {
	for _, tc := range []struct{ name, line2 string }{
		{"no resourceType", `{"name":[{"family":"Doe"}]}`},
		{"not JSON", `Patient,c,Doe`},
		{"bad third line", ""}, // the baseline: line 2 good, line 3 bad
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := []string{`{"resourceType":"Patient","id":"a"}`, tc.line2, `{"resourceType":"Patient","id":"b"}`}
			bad := 2
			if tc.line2 == "" {
				lines = []string{`{"resourceType":"Patient","id":"a"}`, `{"resourceType":"Patient","id":"b"}`, `{"name":1}`}
				bad = 3
			}
			pipe, q := newPipeline(t)
			src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
			err := src.Feed(context.Background(), adapters.Raw{Name: "Patient.ndjson", Body: []byte(strings.Join(lines, "\n") + "\n"), Meta: map[string]string{}})
			if err == nil || !queue.IsPermanent(err) {
				t.Fatalf("err %v: want a permanent error for the bad line", err)
			}
			if want := "line " + string(rune('0'+bad)); !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "cannot classify") {
				t.Errorf("err %q: want the bad %s named, not the file unclassified", err, want)
			}
			if n := len(q.all()); n != 2 {
				t.Errorf("queued %d resources, want the 2 good lines", n)
			}
		})
	}
}
