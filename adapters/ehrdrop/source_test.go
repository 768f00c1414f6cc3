package ehrdrop

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
)

type seen struct {
	name, format, charset string
	body                  []byte
	bodyNil               bool
	metaOK                bool
}

type collector struct {
	mu  sync.Mutex
	got []seen
}

func (c *collector) Consume(_ context.Context, in adapters.Raw) error {
	body, bodyNil := in.Body, in.Body == nil
	if bodyNil {
		rc, err := in.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if body, err = io.ReadAll(rc); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, seen{name: in.Name, format: in.Format, charset: in.Meta[MetaCharset], body: bytes.Clone(body), bodyNil: bodyNil,
		metaOK: in.Meta[MetaFormat] == in.Format && in.Meta[folder.MetaKind] == "ehr" && in.Source == "ehrdrop/ehr"})
	return nil
}

func (c *collector) all() []seen {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]seen(nil), c.got...)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func startSource(t *testing.T, cfg folder.Config, c adapters.Consumer) *Source {
	t.Helper()
	s, err := New(adapters.Settings{}, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func copyIn(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, name+".part")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func TestSourceClassifiesDrops(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	cfg := folder.Config{Name: "ehr", Path: dir, Settle: 30 * time.Millisecond, Rescan: time.Hour}
	s := startSource(t, cfg, c)

	files := map[string]string{
		"ccd.xml":        FormatCCDA,
		"batch.hl7":      FormatHL7v2Batch,
		"bundle.json":    FormatFHIRJSON,
		"Patient.ndjson": FormatFHIRNDJSON,
	}
	contents := map[string][]byte{}
	for name := range files {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		contents[name] = data
		copyIn(t, dir, name, data)
	}
	copyIn(t, dir, "patients.csv", []byte("id,name\n1,x\n"))

	failed := s.Engine().Paths().Failed
	waitFor(t, "four consumed", func() bool { return len(c.all()) == 4 })
	waitFor(t, "csv failed", func() bool {
		_, err1 := os.Stat(filepath.Join(failed, "patients.csv.error.txt"))
		_, err2 := os.Stat(filepath.Join(failed, "patients.csv"))
		return err1 == nil && err2 == nil
	})
	for _, g := range c.all() {
		if !g.metaOK {
			t.Errorf("%s: meta or source not set", g.name)
		}
		if g.format != files[g.name] {
			t.Errorf("%s: format %q, want %q", g.name, g.format, files[g.name])
		}
		if !bytes.Equal(g.body, contents[g.name]) {
			t.Errorf("%s: body differs", g.name)
		}
	}
	reason, err := os.ReadFile(filepath.Join(failed, "patients.csv.error.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file: patients.csv", `cannot classify "patients.csv"`, "none of C-CDA XML"} {
		if !strings.Contains(string(reason), want) {
			t.Errorf("error.txt lacks %q:\n%s", want, reason)
		}
	}
}

// A large NDJSON export arrives with Body nil and is sniffed and read
// through Raw.Open.
func TestSourceStreamsLargeFiles(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	cfg := folder.Config{Name: "ehr", Path: dir, Settle: 30 * time.Millisecond, Rescan: time.Hour, MaxBodyBytes: 4096}
	startSource(t, cfg, c)
	var b bytes.Buffer
	for b.Len() < 100_000 {
		b.WriteString(`{"resourceType":"Observation","status":"final","code":{"text":"heart rate"}}` + "\n")
	}
	copyIn(t, dir, "Observation.ndjson", b.Bytes())
	waitFor(t, "consumed", func() bool { return len(c.all()) == 1 })
	g := c.all()[0]
	if !g.bodyNil || g.format != FormatFHIRNDJSON || !bytes.Equal(g.body, b.Bytes()) {
		t.Fatalf("got bodyNil=%v format=%q len=%d", g.bodyNil, g.format, len(g.body))
	}
}

func TestSourceUTF16CDA(t *testing.T) {
	dir := t.TempDir()
	c := &collector{}
	startSource(t, folder.Config{Name: "ehr", Path: dir, Settle: 30 * time.Millisecond, Rescan: time.Hour}, c)
	copyIn(t, dir, "ccd16.xml", utf16LE(`<?xml version="1.0" encoding="UTF-16"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>`))
	waitFor(t, "consumed", func() bool { return len(c.all()) == 1 })
	if g := c.all()[0]; g.format != FormatCCDA || g.charset != "utf-16le" {
		t.Fatalf("got %+v", g)
	}
}

func TestNewRejectsOtherKinds(t *testing.T) {
	if _, err := New(adapters.Settings{}, folder.Config{Name: "f", Kind: "fax", Path: t.TempDir()}, &collector{}); err == nil ||
		!strings.Contains(err.Error(), "kind: must be ehr") {
		t.Fatalf("New = %v", err)
	}
	if _, err := New(adapters.Settings{}, folder.Config{Name: "f"}, &collector{}); err == nil || !strings.Contains(err.Error(), "path:") {
		t.Fatalf("New = %v", err)
	}
}

func TestSourceLifecycle(t *testing.T) {
	s, err := New(adapters.Settings{}, folder.Config{Name: "ehr", Path: t.TempDir()}, &collector{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = New(adapters.Settings{}, folder.Config{Name: "ehr", Path: t.TempDir()}, &collector{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
