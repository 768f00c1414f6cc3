package ccdafhir

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden expected.json files")

// TestGolden converts testdata/convert/ccda-*/input.xml and compares the
// Bundle with expected.json (regenerate with -update, then check by eye).
// Each output must also pass the strict R4 parser. Only the unstructured
// case carries the Binary of the original document, to keep files small.
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("../../../testdata/convert/ccda-*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "input.xml"))
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{NoBinary: !strings.Contains(name, "unstructured")}
			b, _, err := ConvertBytes(raw, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if err := strictR4(got); err != nil {
				t.Errorf("strict R4: %v", err)
			}
			checkReferences(t, b)
			golden.Check(t, filepath.Join(dir, "expected.json"), got, *update)
		})
	}
}
