package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestKeygen: `ferry keygen PATH` writes a loadable 0600 key, prints its
// id and the warning to keep a copy, and never overwrites a key.
func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.key")
	var out bytes.Buffer
	if err := cmdKeygen(context.Background(), []string{path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	k, err := seal.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "wrote key "+k.ID()) || !strings.Contains(s, "Keep a copy") || !strings.Contains(s, "lost too") {
		t.Errorf("keygen output:\n%s", s)
	}
	before, _ := os.ReadFile(path)
	if err := cmdKeygen(context.Background(), []string{path}, io.Discard, io.Discard); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("key file changed")
	}
	if err := cmdKeygen(context.Background(), nil, io.Discard, io.Discard); err != errUsage {
		t.Fatalf("no path: %v", err)
	}
}

// TestConfigCheckKey: `ferry config check` reads the key: ok names its
// id; a missing or world-readable key file is a problem at
// encryption.key_file with its line, and exit status 1.
func TestConfigCheckKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ferry.key")
	k, err := seal.GenerateKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(keyFile string) string {
		p := filepath.Join(dir, "ferry.yaml")
		os.WriteFile(p, []byte("data_dir: "+filepath.Join(dir, "data")+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600)
		return p
	}
	var out bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", write(key)}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "encryption: on (key "+k.ID()+")") {
		t.Errorf("check output %q", out.String())
	}
	out.Reset()
	missing := filepath.Join(dir, "gone.key")
	err = cmdConfig(context.Background(), []string{"check", write(missing)}, &out, io.Discard)
	if ee, ok := err.(exitError); !ok || ee.code != 1 {
		t.Fatalf("missing key: %v", err)
	}
	if want := "line 3: encryption.key_file: key file " + missing + " does not exist (make one with: ferry keygen"; !strings.Contains(out.String(), want) {
		t.Errorf("missing key: %q lacks %q", out.String(), want)
	}
	if runtime.GOOS != "windows" {
		os.Chmod(key, 0o644)
		out.Reset()
		if err := cmdConfig(context.Background(), []string{"check", write(key)}, &out, io.Discard); err == nil || !strings.Contains(out.String(), "encryption.key_file: key file "+key+": mode 0644") {
			t.Errorf("readable key: %v %q", err, out.String())
		}
	}
	out.Reset()
	if err := cmdConfig(context.Background(), []string{"check"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "encryption: off") {
		t.Errorf("default: %v %q", err, out.String())
	}
}

// TestInitEncryptionKey: `ferry init --encryption-key FILE` makes the key
// (or uses an existing one) and the written configuration names it, so
// that config check reports encryption on with that key; with --out -
// the notes go to stderr and stdout stays a valid configuration.
func TestInitEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "etc", "ferry.key")
	out := filepath.Join(dir, "etc", "ferry.yaml")
	var so bytes.Buffer
	args := []string{"--encryption-key", key, "--data-dir", filepath.Join(dir, "data"), "--out", out}
	if err := runInit(args, nil, false, &so, io.Discard); err != nil {
		t.Fatal(err)
	}
	k, err := seal.LoadKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(so.String(), "wrote key "+k.ID()) {
		t.Errorf("init output %q", so.String())
	}
	var check bytes.Buffer
	if err := cmdConfig(context.Background(), []string{"check", out}, &check, io.Discard); err != nil || !strings.Contains(check.String(), "encryption: on (key "+k.ID()+")") {
		t.Fatalf("config check: %v %q", err, check.String())
	}
	// An existing key is used, not replaced.
	var stdout, stderr bytes.Buffer
	if err := runInit([]string{"--encryption-key", key, "--out", "-"}, nil, false, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "using key "+k.ID()) || !strings.Contains(stdout.String(), "key_file: '"+key+"'") {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	// A key inside the data folder is refused before anything is made.
	inside := filepath.Join(dir, "data", "ferry.key")
	var be bytes.Buffer
	if err := runInit([]string{"--encryption-key", inside, "--data-dir", filepath.Join(dir, "data"), "--out", filepath.Join(dir, "x.yaml")}, nil, false, io.Discard, &be); err == nil || !strings.Contains(be.String(), "inside data_dir") {
		t.Fatalf("key in data dir: %v %q", err, be.String())
	}
	if _, err := os.Stat(inside); err == nil {
		t.Fatal("key made inside the data folder")
	}
}

// TestHeldCommandsWithKey: with encryption.key_file in the configuration
// `ferry held` lists, shows and releases sealed entries (a spilled bundle
// lands sealed in the queue and reads back with the key); a configuration
// without the key names encryption.key_file, and discard still works.
func TestHeldCommandsWithKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ferry.key")
	k, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	withKey := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(withKey, []byte("data_dir: "+data+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600)
	noKey := filepath.Join(dir, "nokey.yaml")
	os.WriteFile(noKey, []byte("data_dir: "+data+"\n"), 0o600)

	held := trackedHeld(t, filepath.Join(data, "held"), filepath.Join(data, "queue"))
	held.SetKey(k)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Zanzibarova"}]}}]}`
	spill := filepath.Join(dir, "spill")
	os.WriteFile(spill, []byte(bundle), 0o600)
	id, err := held.Put(adapters.Raw{Source: "folder/fax"}, &pipeline.Unit{Name: "fax", BodyFile: spill, Key: "k1"}, "R")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := held.Put(adapters.Raw{Source: "mllp/t"}, &pipeline.Unit{Name: "message", Bundle: []byte(bundle)}, "R")
	if err != nil {
		t.Fatal(err)
	}
	run := func(cfg string, args ...string) (string, error) {
		var out bytes.Buffer
		err := cmdHeld(context.Background(), append(args, "--config", cfg), &out, io.Discard)
		return out.String(), err
	}
	if out, err := run(withKey, "list"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, id2) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err := run(noKey, "show", id); err == nil || !strings.Contains(err.Error(), "encryption.key_file") {
		t.Fatalf("show without the key: %v", err)
	}
	if _, err := run(withKey, "release", id); err != nil {
		t.Fatal(err)
	}
	if _, err := run(noKey, "discard", id2, "--yes"); err != nil {
		t.Fatalf("discard without the key: %v", err)
	}
	if ids, _ := held.List(); len(ids) != 0 {
		t.Fatalf("still held: %v", ids)
	}
	if hits, _ := filesContaining(t, data, "Zanzibarova"); len(hits) > 0 {
		t.Fatalf("plaintext after release: %v", hits)
	}
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	it, ack, err := q.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ack(context.Background(), nil)
	r, err := it.OpenBody()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != bundle || it.Key != "k1" {
		t.Fatalf("released item %q key %q", b, it.Key)
	}
}

// TestQueueCommandsWithKey: dead letters of an encrypting queue are
// listed, shown with their body and retried by `ferry queue` when the
// configuration names the key; without it, show --body and retry fail
// naming the key problem.
func TestQueueCommandsWithKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ferry.key")
	k, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	withKey := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(withKey, []byte("data_dir: "+data+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600)
	noKey := filepath.Join(dir, "nokey.yaml")
	os.WriteFile(noKey, []byte("data_dir: "+data+"\n"), 0o600)

	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := q.Put(ctx, &queue.Item{Source: "mllp/main", Body: []byte(`{"resourceType":"Bundle","id":"Zanzibarova"}`)}); err != nil {
		t.Fatal(err)
	}
	it, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ack(ctx, queue.Permanent(errors.New("exchange answered 422"))); err != nil {
		t.Fatal(err)
	}
	q.Close(ctx)
	if hits, _ := filesContaining(t, data, "Zanzibarova"); len(hits) > 0 {
		t.Fatalf("plaintext dead letter: %v", hits)
	}

	if out, err := runQueue(t, "list", "--config", withKey); err != nil || !strings.Contains(out, it.ID) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := runQueue(t, "show", it.ID, "--body", "--config", withKey); err != nil || !strings.Contains(out, `"id": "Zanzibarova"`) {
		t.Fatalf("show: %v\n%s", err, out)
	}
	out, err := runQueue(t, "show", it.ID, "--body", "--config", noKey)
	if err == nil || !strings.Contains(out+err.Error(), "encryption.key_file") {
		t.Fatalf("show without the key: %v\n%s", err, out)
	}
	// Listed without the key, the dead letter is there with its reason,
	// not a year-1 date.
	if out, err := runQueue(t, "list", "--config", noKey); err != nil || !strings.Contains(out, it.ID) || strings.Contains(out, "0001-01-01") {
		t.Fatalf("list without the key: %v\n%s", err, out)
	}
	if out, err := runQueue(t, "retry", it.ID, "--config", withKey); err != nil || !strings.Contains(out, "1 of 1") {
		t.Fatalf("retry: %v\n%s", err, out)
	}
}

// TestKeygenOverExistingKeySaysWhy: keygen refused a PATH that exists
// with "create key file: open PATH: file exists", as if something had
// gone wrong, saying neither that a key is there, why it is kept nor what
// to do; it now says so, and names rotation into another file.
func TestKeygenOverExistingKeySaysWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.key")
	if _, err := seal.GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"keygen", path}, &out, &errOut); code != 1 {
		t.Fatalf("keygen over a key: exit %d, want 1", code)
	}
	msg := errOut.String()
	for _, want := range []string{path + " already exists", "unreadable", "previous_key_files", "another file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("keygen over a key does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "open "+path) {
		t.Errorf("keygen over a key printed the system's error:\n%s", msg)
	}
}

// TestKeygenIntoFolderSaysSo: `ferry keygen /etc/ferry`, the folder the
// key was meant to go in, was refused as a key that "already exists and
// is left as it is", whose advice was to keep using it or name it in
// encryption.previous_key_files: a folder, which no configuration can use
// as a key. It now says the path is a folder and wants the key file's
// path in it, and writes nothing (with or without a trailing separator).
func TestKeygenIntoFolderSaysSo(t *testing.T) {
	dir := t.TempDir()
	for _, arg := range []string{dir, dir + string(filepath.Separator)} {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), []string{"keygen", arg}, &out, &errOut); code != 1 {
			t.Fatalf("keygen %s: exit %d, want 1", arg, code)
		}
		msg := errOut.String()
		if !strings.Contains(msg, "is a folder") || !strings.Contains(msg, filepath.Join(dir, "ferry.key")) ||
			strings.Contains(msg, "already exists") || strings.Contains(msg, "previous_key_files") {
			t.Errorf("keygen %s said:\n%s", arg, msg)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("keygen %s wrote %v into the folder", arg, ents)
		}
	}
}
