package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestCancelledConversionIsRetried checks that a conversion cut short by
// the source's context (the gateway shutting down while a large fax is
// being rendered) is a transient failure: the input is neither quarantined
// nor reported permanent, which would send a good fax to failed/ (and an
// MLLP message to AE) for no fault of its own.
func TestCancelledConversionIsRetried(t *testing.T) {
	q, err := diskq.Open(filepath.Join(t.TempDir(), "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, err := OpenQuarantine(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
	big := filepath.Join(t.TempDir(), "big.pdf")
	writeTestPDF(t, big, 2<<20)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = p.Consume(ctx, fileRaw(t, big))
	if err == nil {
		t.Fatal("Consume with a cancelled context returned nil")
	}
	if queue.IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Consume with a cancelled context: %v (permanent %v); want a transient context.Canceled", err, queue.IsPermanent(err))
	}
	if ids, _ := quar.List(); len(ids) != 0 {
		t.Errorf("quarantine holds %d entries after a cancelled conversion; want none", len(ids))
	}
	if q.Len() != 0 {
		t.Errorf("queue holds %d items", q.Len())
	}
}
