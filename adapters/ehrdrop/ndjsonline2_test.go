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

// The same for a bad first line of a file named .ndjson: the lines after
// it are resources, and are sent; the first is refused by its number. A
// pretty-printed resource named .ndjson is still one resource.
func TestNDJSONBadFirstLine(t *testing.T) {
	for _, tc := range []struct{ name, line1 string }{
		{"no resourceType", `{"name":[{"family":"Doe"}]}`},
		{"cut short", `{"resourceType":"Patient","id":"c","name":[{"fam`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.line1 + "\n \r\n\n" + `{"resourceType":"Patient","id":"a"}` + "\r\n\n" + `{"resourceType":"Patient","id":"b"}` + "\n"
			pipe, q := newPipeline(t)
			src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
			err := src.Feed(context.Background(), adapters.Raw{Name: "Patient.ndjson", Body: []byte(body), Meta: map[string]string{}})
			if err == nil || !queue.IsPermanent(err) {
				t.Fatalf("err %v: want a permanent error for the bad line", err)
			}
			if !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "cannot classify") {
				t.Errorf("err %q: want the bad line 1 named, not the file unclassified", err)
			}
			if n := len(q.all()); n != 2 {
				t.Errorf("queued %d resources, want the 2 good lines", n)
			}
		})
	}
	pretty := "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p\"\n}\n"
	if got, err := Sniff(strings.NewReader(pretty), "Patient.ndjson"); err != nil || got.Format != FormatFHIRJSON || got.Type != "Patient" {
		t.Errorf("a pretty-printed Patient named .ndjson sniffed as %+v, %v", got, err)
	}
}
