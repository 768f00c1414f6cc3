package fax

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSidecarBirthDateFormats: US fax services and fax servers write a
// birth date as month/day/year (01/02/1970, 1/2/1970, 01-02-1970) or as
// .NET serialises a date (1970-01-02T00:00:00); the Patient that match
// creates had no birth date from any of them, since only YYYY-MM-DD and
// YYYYMMDD were read. A date that cannot be read for sure (a two-digit
// year, a day-first date, a 30th of February) is left out with a WARN
// that names the fax by its hash and never the date.
func TestSidecarBirthDateFormats(t *testing.T) {
	for dob, want := range map[string]string{
		"01/02/1970":          "1970-01-02",
		"1/2/1970":            "1970-01-02",
		"12/31/1999":          "1999-12-31",
		"01-02-1970":          "1970-01-02",
		"1970-01-02T00:00:00": "1970-01-02",
		"1970-01-02":          "1970-01-02",
		"19700102":            "1970-01-02",
		"01/02/70":            "", // 1970 or 2070: the century is not known
		"25/12/1970":          "", // day first: the sender's other dates may be too
		"02/30/1970":          "",
		"Jan 2 1970":          "",
	} {
		t.Run(strings.ReplaceAll(dob, "/", "-"), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "x.json", `{"MRN":"4711","PatientName":"Smith, John","DOB":"`+dob+`"}`)
			copyFile(t, faxDir+"/g4-fine-1p.tif", dir+"/x.tif")
			cfg := DefaultConfig(KindFax)
			cfg.Name, cfg.Path = "cloud", dir
			g, logs := partialRun(t, cfg)
			var birth string
			for _, e := range get(g.bundle, "entry").([]any) {
				if str(e, "resource", "resourceType") == "Patient" {
					birth = str(e, "resource", "birthDate")
				}
			}
			if birth != want {
				t.Errorf("DOB %q: Patient.birthDate %q, want %q", dob, birth, want)
			}
			warned := strings.Contains(logs, "birth date") && strings.Contains(logs, "sha256="+g.raw.Meta["sha256"][:12])
			if warned != (want == "") {
				t.Errorf("DOB %q: WARN %v, want %v:\n%s", dob, warned, want == "", logs)
			}
			if strings.Contains(logs, dob) || strings.Contains(logs, "Smith") {
				t.Errorf("the log holds PHI: %s", logs)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
