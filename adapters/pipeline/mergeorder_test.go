package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue"
)

// retiredA08 updates the patient the A40 (mergeA40) retires, under its
// own MRN: sent before the merge, queued while the exchange was down.
const retiredA08 = "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321080000||ADT^A08^ADT_A01|U8|P|2.5\r" +
	"EVN|A08|20240321075900\r" +
	"PID|1||55999^^^HOSP^MR||ONeal^Shawn||20010101|M\r" +
	"PV1|1|O\r"

// leaseReady leases every item the queue has ready, as a pool of
// delivery workers does, without waiting for more.
func leaseReady(t *testing.T, g *mergeGateway) (its []*queue.Item, acks []queue.AckFunc) {
	t.Helper()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		it, ack, err := g.q.Get(done)
		if errors.Is(err, context.Canceled) {
			return its, acks
		}
		if err != nil {
			t.Fatal(err)
		}
		its = append(its, it)
		acks = append(acks, ack)
	}
}

// retiredPatientWrite returns the Patient the bundle writes under the
// retired MRN 55999 (nil: none).
func retiredPatientWrite(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	for _, e := range b.Entry {
		if e.Resource["resourceType"] != "Patient" {
			continue
		}
		ids, _ := json.Marshal(e.Resource["identifier"])
		if strings.Contains(string(ids), `"55999"`) {
			return e.Resource
		}
	}
	return nil
}

// TestMergeDeliveredAfterRetiredBacklog: messages for a patient queued
// while the exchange is down (a backlog under the patient's own key),
// then an A40 that merges that patient into another: the A40 is keyed to
// the survivor, yet it must reach the exchange only after the retired
// patient's backlog. Delivered before it, the A08 that follows would
// write the retired Patient again: active, its replaced-by link gone.
// With data sealed at rest the keys are pseudonyms (SetPseudonym): the
// retired record's key is turned into the same one as its backlog's.
func TestMergeDeliveredAfterRetiredBacklog(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testMergeAfterBacklog(t, false) })
	t.Run("pseudonyms", func(t *testing.T) { testMergeAfterBacklog(t, true) })
}

func testMergeAfterBacklog(t *testing.T, pseudonyms bool) {
	g := openMergeGateway(t, t.TempDir())
	if pseudonyms {
		g.p.SetPseudonym(func(k string) string { return "pseudo-" + k })
	}
	for _, m := range []string{retiredA08, strings.Replace(lateORU, "20240322", "20240320", -1), mergeA40} {
		if err := g.consume(t, "hl7v2", m); err != nil {
			t.Fatal(err)
		}
	}
	var last map[string]any // the last write of the retired Patient the exchange received
	for round := 0; g.q.Len() > 0; round++ {
		its, acks := leaseReady(t, g)
		if len(its) == 0 {
			t.Fatalf("%d items queued, none ready", g.q.Len())
		}
		var types []string
		for _, it := range its {
			types = append(types, it.Attrs["type"])
		}
		if len(its) > 1 {
			t.Fatalf("round %d: %v handed out together: the A40 must wait for the retired patient's backlog", round, types)
		}
		if p := retiredPatientWrite(t, its[0].Body); p != nil {
			last = p
		}
		if err := acks[0](context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		// The queue hands out the next item of the key once the ACK
		// record is synced.
		if err := g.q.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if last == nil || last["active"] != false || !strings.Contains(mustJSON(t, last["link"]), "replaced-by") {
		t.Fatalf("the exchange's retired Patient is last written as %v; want the A40's: inactive, replaced-by the survivor", last)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
