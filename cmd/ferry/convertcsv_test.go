package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `ferry convert --config` reads a CSV with the csv mapping of the
// configuration's EHR drop that matches its name, as the gateway would,
// and names the bad rows of a file it cannot map.
func TestConvertCSV(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfg, []byte(`data_dir: `+filepath.Join(dir, "data")+`
sources:
  folders:
    - name: ehr
      kind: ehr
      path: `+filepath.Join(dir, "drop")+`
      csv:
        - match: "patients*.csv"
          resource: Patient
          identifier: {column: MRN, system: "urn:oid:1.2.3"}
          columns: {Last: name.family, DOB: birthDate}
        - match: "mshlist*.csv"
          resource: Patient
          identifier: {column: MSH, system: "urn:oid:1.2.4"}
          columns: {Last: name.family}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "patients_1.csv")
	os.WriteFile(good, []byte("MRN,Last,DOB\n7,Doe,1970-01-02\n8,Roe,1980-03-04\n"), 0o600)
	var out bytes.Buffer
	if err := cmdConvert(context.Background(), []string{"--config", cfg, good}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"url":"Patient?identifier=urn%3Aoid%3A1.2.3%7C7"`) {
		t.Errorf("bundles:\n%s", out.String())
	}
	bad := filepath.Join(dir, "patients_2.csv")
	os.WriteFile(bad, []byte("MRN,Last,DOB\n7,Doe,01/02/1970\n"), 0o600)
	var errs bytes.Buffer
	if err := cmdConvert(context.Background(), []string{"--config", cfg, bad}, io.Discard, &errs); err == nil ||
		!strings.Contains(errs.String(), `line 2, column "DOB": not a date`) || strings.Contains(errs.String(), "01/02/1970") {
		t.Errorf("bad rows: %v\n%s", err, errs.String())
	}
	// A CSV whose first line looks like HL7 v2 is still read by its
	// mapping, as the gateway reads it: the mappings come before sniffing.
	msh := filepath.Join(dir, "mshlist_1.csv")
	os.WriteFile(msh, []byte("MSH,Last\n9,Poe\n"), 0o600)
	out.Reset()
	if err := cmdConvert(context.Background(), []string{"--config", cfg, msh}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"url":"Patient?identifier=urn%3Aoid%3A1.2.4%7C9"`) {
		t.Errorf("HL7-looking CSV:\n%s", out.String())
	}
	// Without a configuration no mapping reads it.
	errs.Reset()
	if err := cmdConvert(context.Background(), []string{good}, io.Discard, &errs); err == nil || !strings.Contains(errs.String(), "no csv mapping") {
		t.Errorf("no config: %v\n%s", err, errs.String())
	}
}

// TestConvertFormatCSVWithoutMapping: `ferry convert --format csv
// labs.csv` whose name no csv mapping of --config matches said "cannot
// tell the format (...); use --format", though the format was given: it
// says that no mapping matches the file's name, which is what a CSV is
// read by, and names the setting.
func TestConvertFormatCSVWithoutMapping(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfg, []byte(`data_dir: `+filepath.Join(dir, "data")+`
sources:
  folders:
    - name: ehr
      kind: ehr
      path: `+filepath.Join(dir, "drop")+`
      csv:
        - match: "patients*.csv"
          resource: Patient
          identifier: {column: MRN, system: "urn:oid:1.2.3"}
          columns: {Last: name.family}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "labs.csv")
	os.WriteFile(file, []byte("MRN,Last\n7,Doe\n"), 0o600)
	for _, args := range [][]string{{"--format", "csv", file}, {"--format", "csv", "--config", cfg, file}} {
		var errs bytes.Buffer
		err := cmdConvert(context.Background(), args, io.Discard, &errs)
		if err == nil || strings.Contains(errs.String(), "cannot tell the format") || strings.Contains(errs.String(), "use --format") ||
			!strings.Contains(errs.String(), "no csv mapping") || !strings.Contains(errs.String(), "sources.folders[].csv[].match") {
			t.Errorf("ferry convert %s: %v\n%s", strings.Join(args, " "), err, errs.String())
		}
	}
}
