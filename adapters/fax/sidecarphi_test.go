package fax

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// syncBuffer is a log sink the engine's goroutines can write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBadSidecarErrorHoldsNoPHI checks that a sidecar the parser chokes on
// is reported (log line and Raw.Meta) without the text around the fault:
// encoding/xml quotes an unescaped entity ("&Jones" of "Smith&Jones"), and
// a sidecar's text is the patient's name, MRN and birth date.
func TestBadSidecarErrorHoldsNoPHI(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	cfg.Settle, cfg.Rescan = 20*time.Millisecond, time.Hour
	var logs syncBuffer
	s, err := New(adapters.Settings{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	sidecar := "<fax>\n<PatientName>Smith&Jones</PatientName>\n<MRN>4711</MRN>\n</fax>\n"
	if err := os.WriteFile(filepath.Join(dir, "x.xml"), []byte(sidecar), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "x.tif"))
	g := c.next(t, s)
	got := g.raw.Meta[MetaSidecarError]
	if !strings.HasPrefix(got, "sidecar: xml:") || !strings.Contains(got, "line 2") {
		t.Errorf("sidecar error %q; want the kind and the line", got)
	}
	for _, where := range []struct{ name, text string }{{"Raw.Meta", got}, {"log", logs.String()}} {
		if strings.Contains(where.text, "Jones") {
			t.Errorf("%s quotes the sidecar's text: %s", where.name, where.text)
		}
	}
}

// TestBadSidecarLogNamesTheFax: the fax of a sidecar that cannot be read
// is filed under no patient, so the contractor must find it: the log line
// names it as the folder's lines do, by a prefix of its content hash (by
// its file name with log.phi). It named the inbox alone, no fax of it.
func TestBadSidecarLogNamesTheFax(t *testing.T) {
	for _, phi := range []bool{false, true} {
		dir := t.TempDir()
		c := newCollector(t)
		cfg := DefaultConfig(KindFax)
		cfg.Name, cfg.Path = "inbox", dir
		cfg.Settle, cfg.Rescan = 20*time.Millisecond, time.Hour
		var logs syncBuffer
		s, err := New(adapters.Settings{LogPHI: phi, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "Smith_John_4711.json"), []byte(`{"MRN": "4711",`), 0o600); err != nil {
			t.Fatal(err)
		}
		copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "Smith_John_4711.tif"))
		g := c.next(t, s)
		s.Shutdown(context.Background())
		var line string
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "fax sidecar unreadable") {
				line = l
			}
		}
		want := "sha256=" + g.raw.Meta["sha256"][:12]
		if phi {
			want = "file=Smith_John_4711.tif"
		}
		if !strings.Contains(line, want) {
			t.Errorf("log.phi %v: %q does not name the fax (%s)", phi, line, want)
		}
		if !phi && strings.Contains(logs.String(), "Smith") {
			t.Errorf("the log names the patient: %s", logs.String())
		}
	}
}
