package ccdafhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir holds the shared C-CDA sample documents (HL7 examples).
const corpusDir = "../../../../shared/corpus/ccda"

// TestCorpus converts every corpus document, checks each Bundle against
// the strict R4 parser and that a second conversion is byte-identical, and
// logs the per-document resource table.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if len(files) == 0 {
		t.Skip("corpus not present at " + corpusDir)
	}
	sort.Strings(files)
	var table strings.Builder
	fmt.Fprintf(&table, "| document | kind | type | resources |\n|---|---|---|---|\n")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		b, res, err := ConvertBytes(raw, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Errorf("%s: marshal: %v", name, err)
			continue
		}
		b2, _, err := ConvertBytes(raw, Options{})
		if err != nil {
			t.Fatal(err)
		}
		js2, _ := json.Marshal(b2)
		if !bytes.Equal(js, js2) {
			t.Errorf("%s: second conversion differs", name)
		}
		if err := strictR4(js); err != nil {
			t.Errorf("%s: strict R4: %v", name, err)
		}
		checkReferences(t, b)
		if out := os.Getenv("CCDA_OUT"); out != "" {
			// For external validators, e.g. .ci/exchange/validate.mjs.
			if err := os.WriteFile(filepath.Join(out, strings.TrimSuffix(name, ".xml")+".json"), js, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var parts []string
		for _, typ := range typeOrder {
			if n := res.Counts[typ]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", typ, n))
			}
		}
		fmt.Fprintf(&table, "| %s | %s | %s | %s |\n", name, res.DocumentKind, res.DocumentType, strings.Join(parts, ", "))
	}
	t.Log("\n" + table.String())
}
