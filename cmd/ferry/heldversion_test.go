package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
)

// TestHeldVersionReleasedAfterReplacement: with exchange.hold [R], the
// restricted T02 of D-1 is held; the T10 of D-2 replacing it, not
// restricted, is delivered meanwhile, and its supersede PATCH finds no
// D-1 (404, done). A person then releases D-1 (--force: a newer item of
// the patient went first): it goes to the exchange superseded, as a dead
// letter of it retried would and as it would had it arrived after D-2,
// not current beside D-2.
func TestHeldVersionReleasedAfterReplacement(t *testing.T) {
	recv, cfgFile, start := docGateway(t, "  hold: [R]\n")
	gw := start()
	conn, rd := dial(t, gw)
	for _, m := range []string{
		mdmDoc("T02", "HV-1", "R", "D-1", ""),
		mdmDoc("T10", "HV-2", "", "D-2", "D-1"),
	} {
		if got := send(t, conn, rd, m); got != "AA" {
			t.Fatalf("MSA-1 %s, want AA", got)
		}
	}
	waitFor(t, "T10 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 1 })
	ids, err := gw.pipe.Held().List()
	if err != nil || len(ids) != 1 {
		t.Fatalf("held: %v %v, want D-1's T02", ids, err)
	}
	conn.Close()
	gw.Shutdown(context.Background())

	var out bytes.Buffer
	if err := cmdHeld(context.Background(), append([]string{"release", "--force"}, append(ids, "--config", cfgFile)...), &out, io.Discard); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	gw = start()
	waitFor(t, "released D-1 delivered", func() bool { return gw.q.Len() == 0 && len(recv.Resources("DocumentReference")) == 2 })
	if got := exchangeDocs(t, recv); got["D-1"] != "superseded" || got["D-2"] != "current" {
		t.Errorf("after the release the exchange has %v, want D-1 superseded, D-2 current", got)
	}
}

// TestHeldSpilledVersionReleasedAfterReplacement: a held bundle kept in
// a file of its own (a document with its PDF) whose version was replaced
// while it was held is released with its DocumentReference superseded,
// edited as it is copied into the queue.
func TestHeldSpilledVersionReleasedAfterReplacement(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("JVBERi0xLjQK", 100000)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"data":"` + pad + `"}}]}}]}`
	spill := filepath.Join(dir, "doc.bundle.json")
	if err := os.WriteFile(spill, []byte(bundle), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := pipeline.OpenHeld(filepath.Join(dir, "data", "held"))
	if err != nil {
		t.Fatal(err)
	}
	in := adapters.Raw{Source: "mllp/t", Format: "hl7v2", Name: "msg", Received: time.Now()}
	u := &pipeline.Unit{Name: "doc", Key: "patient-1", BodyFile: spill, Attrs: map[string]string{pipeline.AttrDocumentVersion: "version-D-1"}}
	id, err := held.Put(in, u, "R")
	if err != nil {
		t.Fatal(err)
	}
	if e, err := held.Get(id); err != nil || e.BundleFile == "" {
		t.Fatalf("held entry %+v, %v: want the bundle in a file of its own", e, err)
	}
	reg, err := openReplaced(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Add("version-D-1"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", "--force", id, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	q, err := openQueue(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it, _, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := it.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(bundle, `"current"`, `"superseded"`, 1); string(got) != want {
		t.Errorf("released bundle (%d bytes) is not the held one with its DocumentReference superseded; status current: %v",
			len(got), strings.Contains(string(got), `"status":"current"`))
	}
	if it.Attrs[pipeline.AttrSupersededAtRetry] != "true" {
		t.Errorf("attrs %v: want %s", it.Attrs, pipeline.AttrSupersededAtRetry)
	}
}
