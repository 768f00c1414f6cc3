package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/merges"
)

// TestQuarantineAndHeldShowNoTerminalEscapes: what an MLLP sender writes
// reaches the quarantine's reason (an unsupported MSH-9, an MSH-10) and
// the held store's attributes (the message type, the control id), and
// `ferry quarantine list` and `show`, `ferry held list` and `show` and
// `ferry sequences list` (a stream is named by MSH-3 to MSH-6) and `ferry
// merges list --phi` (PID-3) printed it as it came: a sender anyone on the network can be (a
// listener on 0.0.0.0:2575) could clear the operator's screen, retitle
// the window or hide what follows with escape sequences, which `ferry
// queue` keeps out of its output (terminalText). They keep them out too.
func TestQuarantineAndHeldShowNoTerminalEscapes(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const esc = "\x1b]0;owned\x07\x1b[2J"
	quar, err := pipeline.OpenQuarantine(filepath.Join(dir, "data", "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	msg := "MSH|^~\\&|A|B|C|D|20240101||ZZZ^" + esc + "|CTL" + esc + "|P|2.5\r"
	in := mllpInput(msg, 1)
	in.Meta["sending_application"] = "A" + esc
	qid, err := quar.Put(in, []byte(msg), errors.New("message (MSH-10 CTL"+esc+"): hl7v2 ar 200 at MSH-9: v2fhir: ZZZ^"+esc+": unsupported message type"))
	if err != nil {
		t.Fatal(err)
	}
	held := trackedHeld(t, filepath.Join(dir, "data", "held"), filepath.Join(dir, "data", "queue"))
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction"}`)
	hid, err := held.Put(mllpInput(msg, 2), &pipeline.Unit{Name: "message 1", Bundle: bundle, Key: "k1",
		Attrs: map[string]string{"type": "ADT^A01" + esc, "control_id": "CTL" + esc}}, "R")
	if err != nil {
		t.Fatal(err)
	}
	// A stream of HL7 sequence numbers is named by the sender's MSH-3 to
	// MSH-6.
	seqs, err := mllp.OpenSequenceStore(filepath.Join(dir, "data", sequenceFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := seqs.Set("mllp/main A"+esc+"|B|C|D", 7); err != nil {
		t.Fatal(err)
	}
	seqs.Close()
	// A merge names the patients by the sender's PID-3 (with --phi).
	reg, err := merges.Open(filepath.Join(dir, "data", merges.FileName), merges.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Record(merges.Merge{Retired: merges.ID{System: "urn:oid:1.2.3", Value: "MRN-1" + esc}, Survivor: merges.ID{System: "urn:oid:1.2.3", Value: "MRN-2"}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"quarantine", "list"}, {"quarantine", "show", qid}, {"held", "list"}, {"held", "show", hid}, {"sequences", "list"}, {"merges", "list", "--phi"}} {
		var out bytes.Buffer
		var err error
		switch args[0] {
		case "quarantine":
			err = cmdQuarantine(context.Background(), append(args[1:], "--config", cfgFile), &out, io.Discard)
		case "held":
			err = cmdHeld(context.Background(), append(args[1:], "--config", cfgFile), &out, io.Discard)
		case "merges":
			err = cmdMerges(context.Background(), append(args[1:], "--config", cfgFile), &out, io.Discard)
		default:
			err = cmdSequences(context.Background(), append(args[1:], "--config", cfgFile), &out, io.Discard)
		}
		if err != nil {
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		if strings.ContainsAny(out.String(), "\x1b\x07") {
			t.Errorf("ferry %s printed a sender's escape sequences:\n%q", strings.Join(args, " "), out.String())
		}
		if !strings.Contains(out.String(), "owned") && args[1] == "show" {
			t.Errorf("ferry %s left out the text around them:\n%q", strings.Join(args, " "), out.String())
		}
	}
}
