package ccdafhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/ucum"
)

// quantities collects every JSON object with a "unit" or a UCUM "system"
// in v: the Quantities of a Bundle, wherever they sit.
func quantities(v any, out *[]map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["unit"]; ok {
			*out = append(*out, x)
		} else if x["system"] == sysUCUM {
			*out = append(*out, x)
		}
		for _, e := range x {
			quantities(e, out)
		}
	case []any:
		for _, e := range x {
			quantities(e, out)
		}
	}
}

// TestUCUMOnlyForUCUMUnits: the corpus C-CDAs carry PQ units that are not
// UCUM ("10+3/ul" for a WBC and its reference range, "mcg" and
// "mg/actuat" doses, "Puffs"). They went out as UCUM codes, which the
// exchange's terminology validator rejects. Such a unit stays as text
// only; real UCUM units ("mm[Hg]", "10*9/L") keep system and code.
func TestUCUMOnlyForUCUMUnits(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if len(files) == 0 {
		t.Skip("corpus not present at " + corpusDir)
	}
	textOnly := map[string]int{}
	coded := map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := ConvertBytes(raw, Options{NoBinary: true})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		js, _ := json.Marshal(b)
		var v any
		if err := json.Unmarshal(js, &v); err != nil {
			t.Fatal(err)
		}
		var qs []map[string]any
		quantities(v, &qs)
		for _, q := range qs {
			unit, _ := q["unit"].(string)
			code, _ := q["code"].(string)
			switch {
			case q["system"] == sysUCUM:
				if !ucum.Valid(code) || code != unit {
					t.Errorf("%s: %v labelled UCUM", filepath.Base(f), q)
				}
				coded[code]++
			case q["system"] == nil && code == "":
				textOnly[unit]++
			}
		}
	}
	for _, u := range []string{"10+3/ul", "mcg", "mg/actuat", "Puffs"} {
		if textOnly[u] == 0 {
			t.Errorf("no Quantity with unit %q as text only (coded %d times)", u, coded[u])
		}
	}
	for _, u := range []string{"mm[Hg]", "10*9/L", "g/dL", "[lb_av]", "Cel"} {
		if coded[u] == 0 {
			t.Errorf("no UCUM Quantity with code %q", u)
		}
	}
}
