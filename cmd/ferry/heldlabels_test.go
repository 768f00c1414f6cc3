package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestHeldShowSpilledBundleLabels: a fax is held as the bundle file it
// was written to (as is any bundle of more than a few hundred KiB), and
// `ferry held show` named the labels of a bundle kept in the entry only:
// for a Part 2 program's fax the person deciding on the release saw no
// "labels:" line, though README has show give the bundle's labels. It
// reads them from the file's own meta, without loading the document.
func TestHeldShowSpilledBundleLabels(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conv, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("% page data\n", 50000) + "%%EOF\n")
	fax := faxfhir.Fax{Security: []string{"R", "42CFRPart2"}}
	spill := filepath.Join(dir, "fax.bundle.json")
	f, err := os.Create(spill)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conv.WriteRaw(context.Background(), f, adapters.Raw{Name: "a.pdf", Format: "fax", Received: now, Body: pdf, Meta: fax.Meta()}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	held, err := pipeline.OpenHeld(filepath.Join(dir, "data", "held"))
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "folder/sud-fax", Format: "fax", Name: "a.pdf", Received: now}
	id, err := held.Put(in, &pipeline.Unit{Name: "fax", BodyFile: spill}, "R")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := held.Get(id); err != nil || e.BundleFile == "" {
		t.Fatalf("held entry %+v, %v: want the bundle in a file of its own", e, err)
	}
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"show", id, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "labels:   R, 42CFRPart2 (") {
		t.Errorf("show names no labels of the held fax:\n%s", out.String())
	}
}
