package pipeline

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/replaced"
)

// versionPipeline is the gateway's ingest over a real data directory:
// diskq queue, quarantine, held store (holding label R), and the
// registry of replaced documents wired into the converters and the
// pipeline as cmd/ferry wires them.
func versionPipeline(t *testing.T) (*Pipeline, *diskq.Queue, *Held, *replaced.Registry) {
	t.Helper()
	dir := t.TempDir()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	held, err := OpenHeld(filepath.Join(dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	h := HL7{Conv: &v2fhir.Converter{Replaced: reg.Replaced}}
	p := New(q, memSeen{}, quar, map[string]Converter{
		"ccda":        CCDA{Options: ccdafhir.Options{Replaced: reg.Replaced}},
		"hl7v2":       h,
		"hl7v2-batch": h,
	}, nil)
	p.SetReplaced(reg)
	p.SetPolicy(Policy{Hold: []string{"R"}}, held, nil)
	return p, q, held, reg
}

// mdmVersion is an MDM message of patient MRN-V: a T02 of document
// txa12, or a T10 of txa12 replacing txa13; security "R" (MSH-8) makes
// it restricted.
func mdmVersion(trigger, ctl, security, txa12, txa13 string) string {
	if txa13 != "" {
		txa13 += "^EHR"
	}
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000|" + security + "|MDM^" + trigger + "^MDM_T02|" + ctl + "|P|2.5.1\r" +
		"EVN|" + trigger + "|20261125083000\r" +
		"PID|1||MRN-V^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "^EHR|" + txa13 + "||||AU||AV\r" +
		"OBX|1|TX|11506-3^Progress note^LN||Note " + txa12 + ".||||||F\r"
}

// exchangeStatuses delivers what q holds, in the order the dispatcher
// would, to a model of the exchange's DocumentReferences: a written
// DocumentReference takes the status it was written with; a PATCH of
// the supersede batch a replacement ends with (queue.AttrMissingOK)
// makes the one at its URL superseded, and finds nothing (404, done)
// when the exchange has none there. It returns each document's status
// by its master identifier.
func exchangeStatuses(t *testing.T, q *diskq.Queue) map[string]string {
	t.Helper()
	ctx := context.Background()
	atURL := map[string]string{}
	out := map[string]string{}
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Request  struct{ Method, URL string }
				Resource struct {
					ResourceType     string
					Status           string
					MasterIdentifier struct{ Value string }
				}
			}
		}
		if err := json.Unmarshal(it.Body, &b); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entry {
			switch {
			case e.Resource.ResourceType == "DocumentReference":
				atURL[e.Request.URL] = e.Resource.MasterIdentifier.Value
				out[e.Resource.MasterIdentifier.Value] = e.Resource.Status
			case e.Request.Method == "PATCH" && strings.HasPrefix(e.Request.URL, "DocumentReference") && it.Attrs[queue.AttrMissingOK] == "true":
				if id, ok := atURL[e.Request.URL]; ok {
					out[id] = "superseded"
				}
			}
		}
		ack(ctx, nil)
	}
	return out
}

// batchFile wraps msgs in FHS/BHS ... BTS/FTS.
func batchFile(msgs ...string) []byte {
	var b strings.Builder
	b.WriteString("FHS|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000\rBHS|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000\r")
	for _, m := range msgs {
		b.WriteString(m)
	}
	b.WriteString("BTS|" + string(rune('0'+len(msgs))) + "\rFTS|1\r")
	return []byte(b.String())
}

// TestBatchFileVersionsEitherOrder: one HL7 batch file holding the T02 of
// D-1 and the T10 of D-2 that replaces it leaves the exchange with D-1
// superseded and D-2 current whichever comes first in the file. With
// the T10 first, its replacement is recorded only when the file is
// stored, after every message of it was converted: the T02 after it
// must still see it, as a T02 in a later file does.
func TestBatchFileVersionsEitherOrder(t *testing.T) {
	t02 := mdmVersion("T02", "B-1", "", "D-1", "")
	t10 := mdmVersion("T10", "B-2", "", "D-2", "D-1")
	for name, body := range map[string][]byte{
		"T02 then T10": batchFile(t02, t10),
		"T10 then T02": batchFile(t10, t02),
	} {
		t.Run(name, func(t *testing.T) {
			p, q, _, _ := versionPipeline(t)
			if err := p.Consume(context.Background(), adapters.Raw{Source: "folder/hl7", Format: "hl7v2-batch", Name: "batch.hl7", Body: body, Received: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if got := exchangeStatuses(t, q); got["D-1"] != "superseded" || got["D-2"] != "current" {
				t.Errorf("exchange ends with %v, want D-1 superseded and D-2 current", got)
			}
		})
	}
}
