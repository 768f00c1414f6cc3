package ehrdrop

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding/unicode"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestFHIRDropByteOrderMarks: FHIR JSON and NDJSON saved by a Windows
// program start with a UTF-8 byte-order mark, or are UTF-16 with one
// (Notepad's "Unicode"). The sniffer accepts them as FHIR, so the
// pass-through must read them too: each file's resources reach the queue
// as UTF-8 JSON, keyed to their patient, and the file goes to done/.
func TestFHIRDropByteOrderMarks(t *testing.T) {
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
	// Each file is about a patient of its own, so that the duplicate
	// filter keeps none of them back.
	nd := func(id string) string {
		return "{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"name\":[{\"family\":\"Müller\"}]}\r\n" +
			"{\"resourceType\":\"Observation\",\"id\":\"o-" + id + "\",\"status\":\"final\",\"code\":{\"text\":\"k\"},\"subject\":{\"reference\":\"Patient/" + id + "\"}}\r\n"
	}
	u16le, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(nd("p2")))
	u16be, _ := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(nd("p3")))
	one := "{\"resourceType\":\"Patient\",\"id\":\"p4\",\"name\":[{\"family\":\"Müller\"}]}"
	for _, f := range []struct {
		name string
		data []byte
		n    int
	}{
		{"bom.ndjson", append([]byte("\xEF\xBB\xBF"), nd("p1")...), 2},
		{"utf16le.ndjson", u16le, 2},
		{"utf16be.ndjson", u16be, 2},
		{"bom.json", append([]byte("\xEF\xBB\xBF"), one...), 1},
	} {
		before := len(q.all())
		copyIn(t, dir, f.name, f.data)
		if reason := settled(t, s, f.name, false); reason != "" {
			t.Fatalf("%s: %s", f.name, reason)
		}
		items := q.all()[before:]
		if len(items) != f.n {
			t.Fatalf("%s: %d items queued, want %d", f.name, len(items), f.n)
		}
		for _, it := range items {
			var b struct {
				Entry []struct {
					Resource struct {
						Name []struct{ Family string }
					}
				}
			}
			if err := json.Unmarshal(it.Body, &b); err != nil {
				t.Fatalf("%s: queued %q: %v", f.name, it.Body, err)
			}
			if it.Key != items[0].Key || it.Key == "" {
				t.Errorf("%s: keys %q and %q: the patient's lines are not ordered together", f.name, items[0].Key, it.Key)
			}
			if n := b.Entry[0].Resource.Name; len(n) > 0 && n[0].Family != "Müller" {
				t.Errorf("%s: family %q", f.name, n[0].Family)
			}
		}
	}
}

// TestNDJSONByteOrderMarkInside: NDJSON parts joined into one file
// (copy /b Patient.000.ndjson+Patient.001.ndjson), each saved with a
// UTF-8 byte-order mark, carry the second part's mark at the start of a
// line inside the file. That line is its resource, as the first line is
// after the file's mark, not one refused as "not valid JSON".
func TestNDJSONByteOrderMarkInside(t *testing.T) {
	body := "\xEF\xBB\xBF{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n" +
		"\xEF\xBB\xBF{\"resourceType\":\"Patient\",\"id\":\"b\"}\r\n"
	pipe, q := newPipeline(t)
	src := &Source{next: pipe, zip: defaultZipLimits, maxBody: 64 << 20}
	if err := src.Feed(context.Background(), adapters.Raw{Name: "Patient.ndjson", Body: []byte(body), Meta: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if n := len(q.all()); n != 2 {
		t.Errorf("queued %d resources, want 2", n)
	}
}
