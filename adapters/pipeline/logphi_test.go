package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/queue/diskq"
)

// brokenSeen is a seen-set whose log cannot be written (a full disk).
type brokenSeen struct{}

func (brokenSeen) Seen([32]byte) bool      { return false }
func (brokenSeen) Remember([32]byte) error { return errors.New("dedup log: no space left on device") }

// The pipeline's own log lines name an input by its hash: a file source's
// Raw.Name may be the patient's name.
func TestLogsNameInputsByHash(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := New(q, brokenSeen{}, quar, map[string]Converter{"lines": splitConv}, slog.New(slog.NewTextHandler(&logs, nil)))
	in := adapters.Raw{Source: "fax/inbox", Format: "lines", Name: "DOE_JANE_MRN777123.tif", Body: []byte("a"), Received: time.Now(),
		Meta: map[string]string{"sha256": "721bc0ffee0123456789"}}
	if err := p.Consume(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "dedup key not kept") || !strings.Contains(out, "sha256=721bc0ffee01") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, "DOE_JANE") {
		t.Errorf("log names the input:\n%s", out)
	}
}

// lockedBuffer is a log sink a source's goroutines and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// An input the converter refuses whose quarantine cannot be written (a
// full disk) is tried again, and the folder's WARN of each try has the
// error: it must not carry the converter's reason, which may quote the
// input (encoding/xml's "invalid character entity &Jones" of a patient
// named Smith&Jones), only that the quarantine failed.
func TestQuarantineUnwritableLogsNoContent(t *testing.T) {
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quarDir := filepath.Join(dir, "quarantine")
	quar, err := OpenQuarantine(quarDir)
	if err != nil {
		t.Fatal(err)
	}
	// The quarantine's folder gone and a file in its place: every Put fails.
	if err := os.RemoveAll(quarDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(quarDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := New(q, memSeen{}, quar, map[string]Converter{"ccda": CCDA{}}, log)

	inbox := filepath.Join(dir, "inbox")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := ehrdrop.DefaultConfig()
	cfg.Name, cfg.Path = "export", inbox
	cfg.Settle, cfg.Rescan = 20*time.Millisecond, 50*time.Millisecond
	cfg.RetryInitial, cfg.RetryMax = 10*time.Millisecond, 20*time.Millisecond
	src, err := ehrdrop.New(adapters.Settings{ID: "folder/export", Logger: log}, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	doc := `<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="MRN777123"/>
    <patient><name><given>Jane</given><family>Smith&Jones</family></name></patient>
  </patientRole></recordTarget>
</ClinicalDocument>
`
	if err := os.WriteFile(filepath.Join(inbox, "SMITH_JANE_ccd.xml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer src.Shutdown(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "quarantine") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN of the failed quarantine:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := src.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, phi := range []string{"Jones", "SMITH", "MRN777123"} {
		if strings.Contains(out, phi) {
			t.Errorf("the log quotes %q of the input:\n%s", phi, out)
		}
	}
}
