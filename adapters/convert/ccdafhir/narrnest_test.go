package ccdafhir

import (
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestNestedNarrativeIDsBounded: the narrative index gathers the text of
// every element with an ID, each open one getting every character and
// every separator until it closes, so n nested elements with IDs cost n²
// bytes and steps: a 780 KB section text of 30,000 nested <content ID>
// took 34 s and 860 MB to convert, and a few MB (the limit is 32 MiB)
// more than the gateway has. Narratives nest a few IDs (a row, a cell, a
// span); the text of a referenced element stays as it was.
func TestNestedNarrativeIDsBounded(t *testing.T) {
	const n = 8000
	sec := `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.5.1" extension="2015-08-01"/>
 <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
 <text><table><tbody><tr ID="row1"><td ID="cell1"><content ID="p1">Asthma, mild</content> since 2020</td></tr></tbody></table>` +
		strings.Repeat(`<content ID="n">`, n) + "x" + strings.Repeat(`</content>`, n) + `</text>` +
		problemSection[strings.Index(problemSection, "<entry>"):]
	sec = strings.Replace(sec, `displayName="Asthma"/>`, `><originalText><reference value="#p1"/></originalText></value>`, 1)
	doc := []byte(reviewDoc("d1", "s1", "", sec))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, _, err := ConvertBytes(doc, Options{NoBinary: true})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc, limit := after.TotalAlloc-before.TotalAlloc, 64*uint64(len(doc)); alloc > limit {
		t.Errorf("%.1f MB allocated to convert a %.0f KB document, want at most %.1f MB",
			float64(alloc)/(1<<20), float64(len(doc))/(1<<10), float64(limit)/(1<<20))
	}
	var text string
	for _, e := range b.Entry {
		if c, ok := e.Resource.(*fhir.Condition); ok && c.Code != nil {
			text = c.Code.Text
		}
	}
	if text != "Asthma, mild" {
		t.Errorf("the problem's text from the narrative is %q, want %q", text, "Asthma, mild")
	}
}
