package v2fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestDaysIn: the day check of parseDTM agrees with time.Date's
// normalisation for every month of four centuries.
func TestDaysIn(t *testing.T) {
	for y := 1600; y < 2400; y++ {
		for m := 1; m <= 12; m++ {
			want := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if got := daysIn(m, y); got != want {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", m, y, got, want)
			}
		}
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{{"20240229", true}, {"20230229", false}, {"21000229", false}, {"20000229", true}, {"20240431", false}, {"20241231235959", true}, {"20240100", false}} {
		if _, ok := parseDTM(c.s); ok != c.ok {
			t.Errorf("parseDTM(%q) ok = %v, want %v", c.s, ok, c.ok)
		}
	}
}

// TestRepeatedResultKeys: results of one report with the same code and no
// OBX-21 get keys numbered in order, past the few the report counts in a
// slice before it switches to a map.
func TestRepeatedResultKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("MSH|^~\\&|LAB|FAC|FERRY|CLINIC|20240315143000-0500||ORU^R01|M1|P|2.5.1\r")
	b.WriteString("PID|1||MRN1^^^CLINIC^MR||Doe^Jane\r")
	b.WriteString("OBR|1||F1^LAB|1234-5^Panel^LN|||20240315091500-0500||||||||||||||||F\r")
	for i := 1; i <= 20; i++ {
		code := "718-7"
		if i%3 == 0 {
			code = "777-3"
		}
		fmt.Fprintf(&b, "OBX|%d|NM|%s^X^LN||%d|g/dL|1-2|N|||F|||20240315091500-0500\r", i, code, i)
	}
	c := &Converter{}
	bundle, _, err := c.ConvertRaw([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	n := 0
	for _, e := range bundle.Entry {
		o, ok := e.Resource.(*fhir.Observation)
		if !ok {
			continue
		}
		n++
		code := o.Code.Coding[0].Code
		seen[code]++
		want := "lab:filler/F1." + code
		if k := seen[code]; k > 1 {
			want += fmt.Sprintf("#%d", k)
		}
		if got := o.Identifier[0].Value; got != want {
			t.Errorf("observation %d: key %q, want %q", n, got, want)
		}
	}
	if n != 20 {
		t.Fatalf("%d observations, want 20", n)
	}
}

// TestIdentifierSearch: the conditional URL put builds in place is
// "Type?" and the query fhir.IdentifierQuery gives (whose test covers the
// escaping of every byte).
func TestIdentifierSearch(t *testing.T) {
	keys := []fhir.Identifier{
		{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: "MRN100234"},
		{System: "urn:ferry:site:x:id:clinic", Value: "a|b,c$d\\e f"},
		{System: "http://example.org/mrn~x", Value: strings.Repeat("|", 300)},
	}
	for _, k := range keys {
		if got, w := identifierSearch("Patient", k), "Patient?"+fhir.IdentifierQuery(k.System, k.Value); got != w {
			t.Errorf("%q: %q, want %q", k.Value, got, w)
		}
	}
	if got := identifierSearch("Observation", fhir.Identifier{System: "urn:x", Value: "1,2"}); got != "Observation?identifier=urn%3Ax%7C1%5C%2C2" {
		t.Errorf("comma: %s", got)
	}
}

// TestConcurrentConversionsIndependent: conversions running at once (the
// conv structs come from a shared pool) give exactly the bundles they give
// one at a time, and a bundle kept while later conversions run does not
// change.
func TestConcurrentConversionsIndependent(t *testing.T) {
	files, err := filepath.Glob("../../../testdata/convert/v2-*/input.hl7")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	c := testConverter(t)
	c.Mode = ModePatientConditional
	var raws [][]byte
	var kept []*fhir.Bundle
	var want [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := c.ConvertRaw(raw)
		if err != nil {
			continue // the corpus has messages meant to fail
		}
		raws, kept, want = append(raws, raw), append(kept, b), append(want, marshal(t, b))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(raws))
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range raws {
				k := (i + g) % len(raws)
				b, _, err := c.ConvertRaw(raws[k])
				if err != nil {
					errs <- err.Error()
					return
				}
				if got, err := json.MarshalIndent(b, "", "  "); err != nil || !bytes.Equal(append(got, '\n'), want[k]) {
					errs <- fmt.Sprintf("%s: differs when converted concurrently (%v)", files[k], err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i, b := range kept {
		if got := marshal(t, b); !bytes.Equal(got, want[i]) {
			t.Errorf("%s: a kept bundle changed while others were converted", files[i])
		}
	}
}
