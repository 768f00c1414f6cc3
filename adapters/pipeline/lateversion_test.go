package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/replaced"
)

// documentStatuses drains q and returns the status of each
// DocumentReference queued, by its master identifier's value.
func documentStatuses(t *testing.T, q *diskq.Queue) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for q.Len() > 0 {
		it, ack, err := q.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
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
			if e.Resource.ResourceType == "DocumentReference" {
				out[e.Resource.MasterIdentifier.Value] = e.Resource.Status
			}
		}
		ack(ctx, nil)
	}
	return out
}

// TestReplacedVersionAfterRestart runs the gateway's ingest over a real
// data directory: a C-CDA replacement (RPLC of PRB1) and an MDM^T10
// (replacing D-1) are accepted; ferry restarts; then the versions they
// replaced arrive (a backfill of old exports, a T02 from an error queue).
// The registry, reopened from replaced.log, makes both superseded at the
// exchange instead of a second current version.
func TestReplacedVersionAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	orig, err := os.ReadFile(filepath.Join("..", "..", "testdata", "convert", "ccda-problem", "input.xml"))
	if err != nil {
		t.Fatal(err)
	}
	repl := strings.Replace(string(orig), `extension="PRB1"/>`, `extension="PRB1-v2"/>`, 1)
	repl = strings.Replace(repl, "<component>", `<relatedDocument typeCode="RPLC"><parentDocument>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="PRB1"/></parentDocument></relatedDocument>
  <component>`, 1)
	mdm := func(trigger, txa12, txa13 string) []byte {
		return []byte("MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000||MDM^" + trigger + "^MDM_T02|C-" + trigger + "|P|2.5.1\r" +
			"EVN|" + trigger + "|20261125083000\r" +
			"PID|1||MRN-9^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
			"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "|" + txa13 + "||||AU||AV\r" +
			"OBX|1|TX|11506-3^Progress note^LN||Text.||||||F\r")
	}
	// start opens what the gateway opens in dir and wires the registry
	// into the converters and the pipeline.
	start := func() (*Pipeline, *diskq.Queue, *replaced.Registry) {
		q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		quar, err := OpenQuarantine(filepath.Join(dir, "quarantine"))
		if err != nil {
			t.Fatal(err)
		}
		reg, err := replaced.Open(filepath.Join(dir, replaced.FileName), replaced.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h := HL7{Conv: &v2fhir.Converter{Mode: v2fhir.ModePatientConditional, Replaced: reg.Replaced}}
		p := New(q, nil, quar, map[string]Converter{
			"ccda":  CCDA{Options: ccdafhir.Options{Replaced: reg.Replaced}},
			"hl7v2": h,
		}, nil)
		p.SetReplaced(reg)
		return p, q, reg
	}
	p, q, reg := start()
	for _, in := range []adapters.Raw{
		{Source: "folder/ccda", Format: "ccda", Name: "v2.xml", Body: []byte(repl), Received: time.Now()},
		{Source: "mllp/ehr", Format: "hl7v2", Name: "T10", Body: mdm("T10", "D-2^EHR", "D-1^EHR"), Received: time.Now()},
	} {
		if err := p.Consume(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if got := documentStatuses(t, q); got["PRB1-v2"] != "current" || got["D-2"] != "current" {
		t.Fatalf("replacements queued as %v", got)
	}
	if reg.Len() == 0 {
		t.Fatal("nothing recorded")
	}
	// A crash: nothing closed. The registry's keys were synced before
	// Consume returned (before the source's ACK). Its file is closed
	// once the test ends, before the temporary folder is removed
	// (Windows cannot remove a file still open; it failed there now and
	// then, when the collector had not closed it).
	q.Close(ctx)
	crashed := reg
	t.Cleanup(func() { crashed.Close() })
	p, q, reg = start()
	defer reg.Close()
	defer q.Close(ctx)
	for _, in := range []adapters.Raw{
		{Source: "folder/ccda", Format: "ccda", Name: "v1.xml", Body: orig, Received: time.Now()},
		{Source: "mllp/ehr", Format: "hl7v2", Name: "T02", Body: mdm("T02", "D-1^EHR", ""), Received: time.Now()},
		{Source: "mllp/ehr", Format: "hl7v2", Name: "T02 other", Body: mdm("T02", "D-7^EHR", ""), Received: time.Now()},
	} {
		if err := p.Consume(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got := documentStatuses(t, q)
	if got["PRB1"] != "superseded" || got["D-1"] != "superseded" || got["D-7"] != "current" {
		t.Errorf("after the restart the replaced versions are queued as %v, want PRB1 and D-1 superseded, D-7 current", got)
	}
}
