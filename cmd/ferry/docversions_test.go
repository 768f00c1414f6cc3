package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/transport/fhirrecv"
)

// mdmDoc is an MDM message of patient MRN-DV: a T02 of document txa12,
// or a T10 of txa12 replacing txa13; security "R" (MSH-8) makes it
// restricted.
func mdmDoc(trigger, ctl, security, txa12, txa13 string) string {
	if txa13 != "" {
		txa13 += "^EHR"
	}
	return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20261125083000|" + security + "|MDM^" + trigger + "^MDM_T02|" + ctl + "|P|2.5.1\r" +
		"EVN|" + trigger + "|20261125083000\r" +
		"PID|1||MRN-DV^^^CLINIC^MR||Doe^Pat||19800101|F\r" +
		"TXA|1|PN|TX|20261125080000||20261125081000||||||" + txa12 + "^EHR|" + txa13 + "||||AU||AV\r" +
		"OBX|1|TX|11506-3^Progress note^LN||Note " + txa12 + ".||||||F\r"
}

// exchangeDocs is the status of each DocumentReference the exchange
// holds, by its master identifier.
func exchangeDocs(t *testing.T, recv *fhirrecv.Receiver) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, raw := range recv.Resources("DocumentReference") {
		var d struct {
			Status           string
			MasterIdentifier struct{ Value string }
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		out[d.MasterIdentifier.Value] = d.Status
	}
	return out
}

// docGateway writes the configuration of a gateway with one MLLP source
// and the exchange recv (extra appended to it: more exchange settings or
// sections of its own) and returns recv, the configuration file (for the
// operator commands) and a function that starts the gateway on it.
func docGateway(t *testing.T, extra string) (*fhirrecv.Receiver, string, func() *gateway) {
	t.Helper()
	paths, recv, url := testPKI(t)
	dir := t.TempDir()
	yaml := `data_dir: ` + filepath.Join(dir, "data") + `
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: ` + url + `
  tls: {ca_file: ` + paths.CA + `, cert_file: ` + paths.ClientCert + `, key_file: ` + paths.ClientKey + `}
  retry: {initial_interval: 20ms, max_interval: 200ms}
` + extra
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return recv, cfgFile, func() *gateway { return runGateway(t, parseConfig(t, "%s", yaml)) }
}

// TestGatewayHeldReplacementReleased: with exchange.hold [R], a
// restricted MDM T10 (D-2 replacing D-1) is held. Until a person
// releases it the exchange keeps D-1 current, even when D-1's T02
// arrives after the T10 (before, the held T10 had already recorded D-1
// as replaced, so the T02 was sent superseded and the exchange held no
// current version at all). `ferry held release` then sends the T10 and
// its supersede batch, and records the replacement: D-2 is current, D-1
// superseded, and a late copy of D-1 stays superseded.
func TestGatewayHeldReplacementReleased(t *testing.T) {
	recv, cfgFile, start := docGateway(t, "  hold: [R]\n")
	gw := start()
	conn, rd := dial(t, gw)
	for _, m := range []string{
		mdmDoc("T10", "HR-2", "R", "D-2", "D-1"),
		mdmDoc("T02", "HR-1", "", "D-1", ""),
	} {
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("MSA-1 %s, want AA", got)
		}
	}
	waitFor(t, "D-1 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 1 })
	if got := exchangeDocs(t, recv); got["D-1"] != "current" {
		t.Fatalf("with its replacement held, the exchange has %v, want D-1 current", got)
	}
	ids, err := gw.pipe.Held().List()
	if err != nil || len(ids) != 2 {
		t.Fatalf("held: %v %v, want the T10's document and its supersede batch", ids, err)
	}
	conn.Close()
	gw.Shutdown(context.Background())

	// D-1's T02, which came after the T10, was delivered while the T10
	// was held: `held release` wants --force (a person checks the
	// patient's record), and the T10 then marks D-1 superseded.
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), append([]string{"release", "--force"}, append(ids, "--config", cfgFile)...), &out, io.Discard); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	gw = start()
	waitFor(t, "released bundles delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 2 })
	conn, rd = dial(t, gw)
	if got := send(t, conn, rd, mdmDoc("T02", "HR-3", "", "D-1", "")); got != "AA" {
		t.Fatalf("late T02: MSA-1 %s, want AA", got)
	}
	waitFor(t, "late T02 delivered", func() bool { return gw.q.Len() == 0 })
	if got := exchangeDocs(t, recv); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("after the release the exchange has %v, want D-1 superseded, D-2 current", got)
	}
}

// TestRetriedVersionAfterReplacement: the T02 of D-1 is refused by the
// exchange (422) and dead-lettered; the T10 of D-2 replacing it is then
// delivered, and its supersede PATCH finds no D-1 (404, done). An
// operator fixes the cause and retries D-1's dead letter: `queue retry`
// refuses without --force (newer items of the patient were delivered
// since), and with it D-1 goes to the exchange superseded, as it would
// had it arrived after D-2, instead of as converted (current, beside
// D-2).
func TestRetriedVersionAfterReplacement(t *testing.T) {
	recv, cfgFile, start := docGateway(t, "status:\n  listen: \"\"\n")
	gw := start()
	conn, rd := dial(t, gw)
	recv.SetFailure(422)
	if got := send(t, conn, rd, mdmDoc("T02", "DL-1", "", "D-1", "")); got != "AA" {
		t.Fatalf("T02: MSA-1 %s, want AA", got)
	}
	var dlID string
	waitFor(t, "T02 dead-lettered", func() bool {
		dls, _ := gw.q.DeadLetters()
		if len(dls) == 1 {
			dlID = dls[0].ID
		}
		return dlID != ""
	})
	recv.SetFailure(0)
	if got := send(t, conn, rd, mdmDoc("T10", "DL-2", "", "D-2", "D-1")); got != "AA" {
		t.Fatalf("T10: MSA-1 %s, want AA", got)
	}
	waitFor(t, "T10 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 1 })
	conn.Close()
	gw.Shutdown(context.Background())

	retry := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := cmdQueue(context.Background(), append(append([]string{"retry"}, args...), "--config", cfgFile), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := retry(dlID); err == nil {
		t.Fatalf("retry without --force after newer items were delivered: accepted\n%s", out)
	}
	if out, err := retry("--force", dlID); err != nil {
		t.Fatalf("retry --force: %v\n%s", err, out)
	}
	gw = start()
	waitFor(t, "retried D-1 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 2 })
	if got := exchangeDocs(t, recv); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("after the retry the exchange has %v, want D-1 superseded, D-2 current", got)
	}
	if dls, _ := gw.q.DeadLetters(); len(dls) != 0 {
		t.Errorf("%d dead letters left", len(dls))
	}
}

// TestHeldReleaseTakesItsGroup: the bundles one input left held go back
// together. Releasing only the T10's supersede batch used to send the
// PATCH that marks D-1 superseded without the D-2 that replaces it: the
// exchange then had no current version of the document. Now the release
// takes the whole group, in the order held, and says so; discarding one
// discards the group too (a supersede batch alone left held would do the
// same harm when released later).
func TestHeldReleaseTakesItsGroup(t *testing.T) {
	recv, cfgFile, start := docGateway(t, "  hold: [R]\nstatus:\n  listen: \"\"\n")
	gw := start()
	conn, rd := dial(t, gw)
	for _, m := range []string{
		mdmDoc("T02", "HG-1", "", "D-1", ""),
		mdmDoc("T10", "HG-2", "R", "D-2", "D-1"),
		mdmDoc("T10", "HG-3", "R", "D-4", "D-3"),
	} {
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("MSA-1 %s, want AA", got)
		}
	}
	waitFor(t, "D-1 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 1 })
	ids, err := gw.pipe.Held().List()
	if err != nil || len(ids) != 4 {
		t.Fatalf("held: %v %v, want two T10s, each a document and a supersede batch", ids, err)
	}
	conn.Close()
	gw.Shutdown(context.Background())

	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := cmdHeld(context.Background(), append(args, "--config", cfgFile), &out, io.Discard); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	// The first T10's supersede batch alone.
	out := run("release", ids[1])
	if !strings.Contains(out, "released "+ids[0]) || !strings.Contains(out, "released "+ids[1]) ||
		strings.Index(out, "released "+ids[0]) > strings.Index(out, "released "+ids[1]) {
		t.Errorf("release of the supersede batch: want its document released first, with it:\n%s", out)
	}
	// The second T10's document alone, discarded.
	out = run("discard", ids[2], "--yes")
	// The batch goes first: should removing the document then fail, no
	// supersede batch is left held without it.
	if !strings.Contains(out, "discarded "+ids[2]) || !strings.Contains(out, "discarded "+ids[3]) ||
		strings.Index(out, "discarded "+ids[3]) > strings.Index(out, "discarded "+ids[2]) {
		t.Errorf("discard of the document: want its supersede batch discarded with it, first:\n%s", out)
	}
	if left, _ := gw.pipe.Held().List(); len(left) != 0 {
		t.Errorf("still held: %v", left)
	}
	gw = start()
	waitFor(t, "released bundles delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 2 })
	if got := exchangeDocs(t, recv); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("after the release the exchange has %v, want D-1 superseded, D-2 current", got)
	}
}
