package csvfhir

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/convert/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden expected.json files")

// goldenCase is one testdata/convert/csv-* folder: its mapping (as the
// configuration would hold it) and the file.
func goldenCase(t *testing.T, dir string) (*Mapping, []byte) {
	t.Helper()
	y, err := os.ReadFile(filepath.Join(dir, "mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m Mapping
	dec := yaml.NewDecoder(bytes.NewReader(y))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: mapping: %v", dir, err)
	}
	in, err := os.ReadFile(filepath.Join(dir, "input.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return &m, in
}

// TestGolden converts testdata/convert/csv-*/input.csv with the mapping
// beside it and compares the transactions, with their patient keys, with
// expected.json (regenerate with -update, then check by eye).
func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("../../../testdata/convert/csv-*")
	if len(dirs) == 0 {
		t.Fatal("no golden cases found")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, in := goldenCase(t, dir)
			parts, err := Convert(in, m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			type out struct {
				PatientKey string `json:"patientKey"`
				Bundle     any    `json:"bundle"`
			}
			var all []out
			for _, p := range parts {
				all = append(all, out{p.PatientKey, p.Bundle})
				checkBundle(t, p)
			}
			got, err := json.MarshalIndent(all, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Check(t, filepath.Join(dir, "expected.json"), got, *update)
		})
	}
}
