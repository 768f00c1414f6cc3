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

// TestConvertOutSameNames: two inputs of one name in different folders
// (export/a/msg.hl7, export/b/msg.hl7) each keep their bundles in --out;
// the second overwrote the first's while the count said both were
// written.
func TestConvertOutSameNames(t *testing.T) {
	dir := t.TempDir()
	var ins []string
	for _, sub := range []string{"a", "b"} {
		src := "demo/01-adt-a01.hl7"
		if sub == "b" {
			src = "demo/02-oru-r01.hl7"
		}
		body, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, sub, "msg.hl7")
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, p)
	}
	out := filepath.Join(dir, "bundles")
	var stderr bytes.Buffer
	if err := cmdConvert(context.Background(), append([]string{"--out", out}, ins...), io.Discard, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, &stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if len(files) != 2 {
		t.Fatalf("2 inputs of one bundle each, %d file(s) in --out: %v\n%s", len(files), files, &stderr)
	}
	var all string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all += string(b)
	}
	for _, id := range []string{"DEMO-0001", "DEMO-0002"} {
		if !strings.Contains(all, id) {
			t.Errorf("the bundle of message %s is not in --out", id)
		}
	}
	if !strings.Contains(stderr.String(), ins[1]) {
		t.Errorf("stderr does not say where %s's bundles went:\n%s", ins[1], &stderr)
	}
}

// TestConvertUnknownFormat: --format with a name ferry has no converter
// for is a usage mistake (status 2) that lists the names it takes; it
// was answered per file "cannot tell the format ... use --format", to a
// user who had.
func TestConvertUnknownFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), []string{"convert", "--format", "hl7", "demo/01-adt-a01.hl7"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit status %d, want 2 (usage)", code)
	}
	for _, want := range []string{`"hl7"`, "hl7v2", "ccda", "fhir-json", "csv"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not name %s:\n%s", want, &stderr)
		}
	}
	if strings.Contains(stderr.String(), "use --format") {
		t.Errorf("stderr asks for --format, which was given:\n%s", &stderr)
	}
}
