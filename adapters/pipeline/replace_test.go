package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
)

// TestCCDAReplacementSupersedes: a C-CDA that replaces an earlier version
// (relatedDocument RPLC) is queued as its transaction and then, last and
// under the same patient key, the batch that PATCHes the replaced
// version's DocumentReference to superseded; an original document gets
// no such batch.
func TestCCDAReplacementSupersedes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml"))
	if err != nil {
		t.Fatal(err)
	}
	orig := string(raw)
	units, err := CCDA{}.Convert(context.Background(), adapters.Raw{Format: "ccda", Body: raw})
	if err != nil || len(units) != 1 {
		t.Fatalf("original: %d units, %v", len(units), err)
	}
	rplc := strings.Replace(orig, "<component>", `<relatedDocument typeCode="RPLC"><parentDocument>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="PARENT-1"/></parentDocument></relatedDocument>
  <component>`, 1)
	if rplc == orig {
		t.Fatal("test document changed: no component")
	}
	units, err = CCDA{}.Convert(context.Background(), adapters.Raw{Format: "ccda", Body: []byte(rplc)})
	if err != nil || len(units) != 2 {
		t.Fatalf("replacement: %d units, %v", len(units), err)
	}
	doc, sup := units[0], units[1]
	if sup.Attrs[queue.AttrMissingOK] != "true" || doc.Attrs[queue.AttrMissingOK] != "" {
		t.Errorf("only the supersede batch may find its target missing: %v, %v", sup.Attrs, doc.Attrs)
	}
	if sup.Name != "supersede replaced document" || sup.Key != doc.Key || sup.Key == "" || sup.Dedup == doc.Dedup {
		t.Errorf("batch unit %q key %q dedup %x; document key %q", sup.Name, sup.Key, sup.Dedup[:4], doc.Key)
	}
	var b fhir.Bundle
	if err := json.Unmarshal(sup.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "batch" || len(b.Entry) != 1 || b.Entry[0].Request.Method != "PATCH" ||
		!strings.HasPrefix(b.Entry[0].Request.URL, "DocumentReference/") {
		t.Errorf("batch %s", sup.Bundle)
	}
}
