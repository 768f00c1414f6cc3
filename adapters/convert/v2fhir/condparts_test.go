package v2fhir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/standin"
	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestConditionalModeAtExchange: in ModeConditional messages of more than
// fhir.MaxConditionalEntries entries (an ADT^A01 with its visit, allergies
// and insurance; results with a report listing them; an order) are cut
// into parts the stand-in exchange (Medplum's FHIR router) takes, where
// the whole bundle was refused ("Transaction requires strict isolation but
// has too many entries") and dead-lettered. Sent twice, as a redelivery
// would, the exchange ends with each resource once, found by its
// identifier, complete (every reference it carries, resolved to what the
// exchange holds), as the one transaction would have written it; so with
// hl7v2.patient_from_adt_only, where the Patient of a result is a
// conditional create.
func TestConditionalModeAtExchange(t *testing.T) {
	ex := standin.Start(t)
	inputs := []string{
		"../../../testdata/convert/v2-oru-r01-value-types/input.hl7",
		"../../../testdata/convert/v2-adt-a03-segments/input.hl7",
		"../../../testdata/convert/v2-ref-i12/input.hl7",
	}
	corpus, _ := filepath.Glob("../../../../shared/corpus/hl7v2/*.hl7")
	for _, name := range []string{"ADT-A01-01.hl7", "ORU-R01-01.hl7", "OML-O21-01.hl7", "OUL-R23-02.hl7"} {
		for _, f := range corpus {
			if filepath.Base(f) == name {
				inputs = append(inputs, f)
			}
		}
	}
	for _, in := range inputs {
		for _, adtOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/%s/adt-only=%v", filepath.Base(filepath.Dir(in)), filepath.Base(in), adtOnly), func(t *testing.T) {
				raw, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				c := testConverter(t)
				c.Mode, c.PatientFromADTOnly = ModeConditional, adtOnly
				whole, _, err := c.ConvertRaw(raw)
				if err != nil {
					t.Fatal(err)
				}
				if len(whole.Entry) <= fhir.MaxConditionalEntries {
					t.Fatalf("%d entries: the case needs more than %d", len(whole.Entry), fhir.MaxConditionalEntries)
				}
				parts, err := c.Parts(whole)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range parts[:len(parts)-1] {
					if len(p.Entry) > fhir.MaxConditionalEntries {
						t.Errorf("part %d of %d: %d entries", i+1, len(parts), len(p.Entry))
					}
				}
				ex.Reset(t)
				for range 2 {
					ex.Post(t, parts...)
				}
				// Each resource of the message is there once, with as many
				// references as the message gave it, none left a urn:uuid.
				want := map[string][]string{}
				for _, e := range whole.Entry {
					js, err := json.Marshal(e.Resource)
					if err != nil {
						t.Fatal(err)
					}
					var head struct{ ResourceType string }
					_ = json.Unmarshal(js, &head)
					want[head.ResourceType] = append(want[head.ResourceType], string(js))
				}
				for typ, resources := range want {
					found := ex.Do(t, "GET", ex.URL+"/"+typ+"?_count=1000", nil)
					stored, _ := found["entry"].([]any)
					if len(stored) != len(resources) {
						t.Errorf("%s: the exchange holds %d, the message has %d", typ, len(stored), len(resources))
						continue
					}
					var got, exp []int
					for _, s := range stored {
						js, _ := json.Marshal(s.(map[string]any)["resource"])
						if strings.Contains(string(js), "urn:uuid:") {
							t.Errorf("%s stored with an unresolved reference: %s", typ, js)
						}
						got = append(got, strings.Count(string(js), `"reference":`))
					}
					for _, r := range resources {
						exp = append(exp, strings.Count(r, `"reference":`))
					}
					if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(exp)) {
						t.Errorf("%s: references per resource at the exchange %v, in the message %v", typ, sorted(got), sorted(exp))
					}
				}
			})
		}
	}
}

func sorted(a []int) []int {
	out := append([]int(nil), a...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestConditionalSeedsResolve is what TestConditionalModeAtExchange
// needs of the parts, checked without the stand-in: every part but the
// last holds at most fhir.MaxConditionalEntries conditional creates whose
// urn:uuid references name entries of the same part, and the last is the
// whole bundle, its conditional creates made PATCHes that change nothing.
func TestConditionalSeedsResolve(t *testing.T) {
	urn := regexp.MustCompile(`"(urn:uuid:[0-9a-f-]{36})"`)
	for _, name := range []string{"v2-oru-r01-value-types", "v2-ref-i12", "v2-adt-a03-segments"} {
		for _, adtOnly := range []bool{false, true} {
			c := testConverter(t)
			c.Mode, c.PatientFromADTOnly = ModeConditional, adtOnly
			whole, parts := convertParts(t, c, name)
			if len(parts) < 2 {
				t.Fatalf("%s: %d parts", name, len(parts))
			}
			for i, p := range parts[:len(parts)-1] {
				if len(p.Entry) > fhir.MaxConditionalEntries {
					t.Errorf("%s part %d: %d entries", name, i+1, len(p.Entry))
				}
				in := map[string]bool{}
				for _, e := range p.Entry {
					in[e.FullURL] = true
					if e.Request.Method != "POST" || e.Request.IfNoneExist == "" {
						t.Errorf("%s part %d: %s %s, want a conditional create", name, i+1, e.Request.Method, e.Request.URL)
					}
				}
				for _, e := range p.Entry {
					for _, m := range urn.FindAllStringSubmatch(toJSON(e.Resource), -1) {
						if !in[m[1]] {
							t.Errorf("%s part %d: %s refers to %s, not in the part", name, i+1, e.Request.URL, m[1])
						}
					}
				}
			}
			last := parts[len(parts)-1]
			if len(last.Entry) != len(whole.Entry) {
				t.Fatalf("%s: last part %d entries, whole %d", name, len(last.Entry), len(whole.Entry))
			}
			for i, e := range last.Entry {
				w := whole.Entry[i]
				switch {
				case w.Request.Method == "POST" && w.Request.IfNoneExist != "":
					if e.Request.Method != "PATCH" || e.Request.URL != w.Request.URL+"?"+w.Request.IfNoneExist || e.FullURL != w.FullURL {
						t.Errorf("%s: conditional create %s sent last as %s %s", name, w.Request.URL, e.Request.Method, e.Request.URL)
					}
				case *e.Request != *w.Request || e.FullURL != w.FullURL:
					t.Errorf("%s: entry %d changed in the last part", name, i)
				}
			}
		}
	}
}
