package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
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
