package pipeline

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
)

// TestMergeRecordedWhileConverting: an A08 of the patient an A40 retires
// arrives on a second connection at the same moment: it is converted
// before the merge is recorded (so as the retired patient's own, writing
// its Patient active with no replaced-by link) and stored after the A40.
// Queued so, it reached the exchange after the merge and wrote the
// retired record back; it is now converted again, seeing the merge, and
// tied to the survivor, as README says of a message under a retired
// identifier.
func TestMergeRecordedWhileConverting(t *testing.T) {
	g := openMergeGateway(t, t.TempDir())
	converted, proceed := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	g.p.converters["hl7v2-slow"] = ConverterFunc(func(ctx context.Context, in adapters.Raw) ([]Unit, error) {
		units, err := HL7{Conv: g.conv}.Convert(ctx, in)
		if calls.Add(1) == 1 {
			close(converted)
			<-proceed
		}
		return units, err
	})
	done := make(chan error, 1)
	go func() {
		done <- g.p.Consume(context.Background(), adapters.Raw{Source: "mllp/second", Format: "hl7v2-slow", Name: "conn 2", Body: []byte(retiredA08), Received: time.Now()})
	}()
	<-converted
	if err := g.consume(t, "hl7v2", mergeA40); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var last map[string]any // the last write of the retired Patient the exchange received
	for g.q.Len() > 0 {
		its, acks := leaseReady(t, g)
		if len(its) == 0 {
			t.Fatalf("%d items queued, none ready", g.q.Len())
		}
		for i, it := range its {
			if p := retiredPatientWrite(t, it.Body); p != nil {
				last = p
			}
			if err := acks[i](context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := g.q.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if last == nil || last["active"] != false || !strings.Contains(mustJSON(t, last["link"]), "replaced-by") {
		t.Fatalf("the exchange's retired Patient is last written as %v; want the A40's: inactive, replaced-by the survivor", last)
	}
}
