package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestHeldReleaseAndDiscard: a held bundle is listed, released into the
// queue (and gone from the held store), and another is discarded only
// with --yes.
func TestHeldReleaseAndDiscard(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := trackedHeld(t, filepath.Join(dir, "data", "held"), filepath.Join(dir, "data", "queue"))
	in := adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1"}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`)
	id1, err := held.Put(in, &pipeline.Unit{Name: "message", Bundle: bundle, Key: "k1", Attrs: map[string]string{"type": "ADT^A01"}}, "R")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := held.Put(in, &pipeline.Unit{Name: "message", Bundle: bundle, Key: "k2"}, "R")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := cmdHeld(context.Background(), append(args, "--config", cfgFile), &out, io.Discard)
		return out.String(), err
	}
	out, err := run("list")
	if err != nil || !strings.Contains(out, id1) || !strings.Contains(out, id2) || !strings.Contains(out, "ADT^A01") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	// show names the bundle's labels, which the release decision weighs.
	if out, err := run("show", id1); err != nil || !strings.Contains(out, "labels:   R (") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, err := run("release", id1); err != nil {
		t.Fatal(err)
	}
	if _, err := run("discard", id2); err == nil {
		t.Fatal("discard without --yes must refuse")
	}
	if _, err := run("discard", id2, "--yes"); err != nil {
		t.Fatal(err)
	}
	if ids, _ := held.List(); len(ids) != 0 {
		t.Errorf("still held: %v", ids)
	}
	q, err := diskq.Open(filepath.Join(dir, "data", "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	it, ack, err := q.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(it.Body) != string(bundle) || it.Key != "k1" || it.Attrs["released_from_hold"] != "R" {
		t.Errorf("released item: key %q attrs %v body %s", it.Key, it.Attrs, it.Body)
	}
	ack(context.Background(), nil)
	if q.Len() != 0 {
		t.Errorf("queue holds %d items, want only the released one", q.Len()+1)
	}
}

// TestHeldReleaseKeepsPatientOrder: bundles released together go to the
// queue in the order they were held, whatever order their IDs were given
// in: a patient's A08 named before its A01 (IDs copied from the bottom of
// `held list` up) would otherwise be delivered first and overtake it.
func TestHeldReleaseKeepsPatientOrder(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held := trackedHeld(t, filepath.Join(dir, "data", "held"), filepath.Join(dir, "data", "queue"))
	in := adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1"}
	bundle := []byte(`{"resourceType":"Bundle","type":"transaction","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`)
	var ids []string
	for _, typ := range []string{"ADT^A01", "ADT^A08", "ADT^A03"} {
		id, err := held.Put(in, &pipeline.Unit{Name: "message", Bundle: bundle, Key: "k1", Attrs: map[string]string{"type": typ}}, "R")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var out bytes.Buffer
	if err := cmdHeld(context.Background(), []string{"release", ids[2], ids[0], ids[1], "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(dir, "data", "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	var got []string
	for q.Len() > 0 {
		it, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, it.Attrs["type"])
		ack(context.Background(), nil)
	}
	if want := "ADT^A01 ADT^A08 ADT^A03"; strings.Join(got, " ") != want {
		t.Errorf("delivered %v, want %s\n%s", got, want, out.String())
	}
}

// TestHeldUnknownID: `ferry held show|release|discard` of an ID the held
// store has no entry for says so plainly, as `ferry queue` and `ferry
// quarantine` do, naming the ID and the list to look it up in, not the
// entry file that could not be opened; it exits 1.
func TestHeldUnknownID(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.OpenHeld(filepath.Join(dir, "data", "held")); err != nil {
		t.Fatal(err)
	}
	const id = "01J0000000000000000000000A"
	for _, args := range [][]string{{"show", id}, {"release", id}, {"discard", id, "--yes"}} {
		var out, errb bytes.Buffer
		code := runMain(context.Background(), append(append([]string{"held"}, args...), "--config", cfgFile), &out, &errb)
		msg := errb.String()
		if code != 1 || !strings.Contains(msg, id+": no held bundle with this ID (see `ferry held list`)") || strings.Contains(msg, ".json") {
			t.Errorf("held %v: exit %d\n%s%s", args, code, out.String(), msg)
		}
	}
}

// TestHeldListRefusesArguments: README's exit statuses make an argument
// a command does not take a usage mistake (2), as `ferry queue list ID`
// and `ferry quarantine list ID` are; `ferry held list ID` ignored it,
// said "nothing is held" and exited 0, as if the entry meant were gone.
func TestHeldListRefusesArguments(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\nstatus: {listen: \"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"held", "list", "01ABC", "--config", cfgFile}, &out, &errOut); code != 2 {
		t.Errorf("ferry held list 01ABC: exit %d, want 2\n%s%s", code, out.String(), errOut.String())
	}
}
