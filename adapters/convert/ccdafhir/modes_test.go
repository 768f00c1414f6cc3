package ccdafhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

var (
	modeRefRE     = regexp.MustCompile(`"reference":"([^"]+)"`)
	modeLiteralRE = regexp.MustCompile(`^[A-Za-z]+/[0-9a-f-]{36}$`)
)

// TestPatientConditionalParts: in ModePatientConditional every golden
// C-CDA document becomes transactions of at most 8 entries a Medplum
// exchange accepts: the Patient is "PUT Patient?identifier=..." without an
// id in every part that refers to it, by urn:uuid; everything else is
// PUT Type/<id>, written once by some part.
func TestPatientConditionalParts(t *testing.T) {
	inputs, _ := filepath.Glob("../../../testdata/convert/ccda-*/input.xml")
	if len(inputs) == 0 {
		t.Fatal("no C-CDA cases")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(filepath.Dir(in)), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			whole, _, err := ConvertBytes(raw, Options{Mode: ModePatientConditional})
			if err != nil {
				t.Fatal(err)
			}
			byID, _, err := ConvertBytes(raw, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(whole.Entry) != len(byID.Entry) {
				t.Errorf("%d entries, ModePutID %d", len(whole.Entry), len(byID.Entry))
			}
			parts, err := Parts(whole, ModePatientConditional, 0)
			if err != nil {
				t.Fatal(err)
			}
			written := map[string]int{}
			literal := map[string]bool{}
			patients := 0
			for i, p := range parts {
				if len(p.Entry) > fhir.MaxConditionalEntries {
					t.Errorf("part %d: %d entries", i, len(p.Entry))
				}
				full := map[string]bool{}
				for _, e := range p.Entry {
					full[e.FullURL] = true
					if pt, ok := e.Resource.(*fhir.Patient); ok {
						patients++
						if pt.ID != "" || e.Request.Method != "PUT" || !strings.HasPrefix(e.Request.URL, "Patient?identifier=") {
							t.Errorf("part %d: patient %s %s id %q", i, e.Request.Method, e.Request.URL, pt.ID)
						}
						continue
					}
					if fhir.Conditional(e) {
						t.Errorf("part %d: %s is conditional", i, e.Request.URL)
					}
					written[e.Request.URL]++
				}
				js, err := json.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range modeRefRE.FindAllStringSubmatch(string(js), -1) {
					switch ref := m[1]; {
					case strings.HasPrefix(ref, "urn:uuid:"):
						if !full[ref] {
							t.Errorf("part %d: %s names no entry of the part", i, ref)
						}
					case strings.HasPrefix(ref, "Patient/"):
						t.Errorf("part %d: literal patient reference %s", i, ref)
					case modeLiteralRE.MatchString(ref):
						literal[ref] = true
					}
				}
			}
			// A later part may be named first (documents put the
			// DocumentReference last, results point at it), as with
			// Split; the Medplum stand-in does not check targets exist.
			for ref := range literal {
				if written[ref] == 0 {
					t.Errorf("%s is referred to but written by no part", ref)
				}
			}
			if patients == 0 {
				t.Error("no Patient entry")
			}
			for u, n := range written {
				if n != 1 {
					t.Errorf("%s written %d times", u, n)
				}
			}
			if len(written) != len(whole.Entry)-1 {
				t.Errorf("parts write %d non-patient entries, bundle has %d", len(written), len(whole.Entry)-1)
			}
		})
	}
}
