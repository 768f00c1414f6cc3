package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestBackupCommand: `ferry backup` refuses while a gateway holds the
// queue and names the way round; stopped, it writes the archive (never
// over an existing file without --force, never inside data_dir).
// `ferry restore --write-config` puts the configuration back and restores
// into its data_dir once the old folder is moved aside.
func TestBackupCommand(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "a", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "backups", "ferry.tar.gz")
	if err := os.Mkdir(filepath.Dir(archive), 0o700); err != nil {
		t.Fatal(err)
	}
	run := func(cmd func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, error) {
		var out bytes.Buffer
		err := cmd(context.Background(), args, &out, io.Discard)
		return out.String(), err
	}
	if _, err := run(cmdBackup, archive, "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "ferry stop") {
		t.Fatalf("backup beside a running gateway: %v", err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := run(cmdBackup, archive, "--config", cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "backed up data_dir "+data+" and "+cfgFile) || !strings.Contains(out, "patient data in clear") {
		t.Errorf("backup said:\n%s", out)
	}
	// The backup is recorded for `ferry status` (and `ferry doctor`).
	if out, _ := run(cmdStatus, "--config", cfgFile); !strings.Contains(out, "last backup:") || !strings.Contains(out, archive) {
		t.Errorf("status after a backup:\n%s", out)
	}
	if _, err := run(cmdBackup, archive, "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("backup over an archive: %v", err)
	}
	if _, err := run(cmdBackup, archive, "--config", cfgFile, "--force"); err != nil {
		t.Errorf("backup --force: %v", err)
	}
	if _, err := run(cmdBackup, filepath.Join(data, "b.tar.gz"), "--config", cfgFile); err == nil || !strings.Contains(err.Error(), "inside data_dir") {
		t.Errorf("backup into data_dir: %v", err)
	}

	restored := filepath.Join(base, "etc", "ferry.yaml")
	if _, err := run(cmdRestore, archive, "--write-config", restored); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore over the data folder: %v", err)
	}
	if _, err := os.Stat(restored); err == nil {
		t.Fatal("a refused restore wrote the configuration")
	}
	if err := os.Rename(data, data+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(restored), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(restored, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run(cmdRestore, archive, "--write-config", restored); err == nil || !strings.Contains(err.Error(), "never replaces") {
		t.Fatalf("--write-config over a file: %v", err)
	}
	os.Remove(restored)
	if out, err = run(cmdRestore, archive, "--write-config", restored); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "restored ") || !strings.Contains(out, "into data_dir "+data) {
		t.Errorf("restore said:\n%s", out)
	}
	q, err = diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	if q.Len() != 1 {
		t.Errorf("restored queue holds %d items, want 1", q.Len())
	}
}

// TestBackupInterrupted: Ctrl-C (the command's context ending) stops a
// backup of a stopped gateway's data folder, as it stops one of a running
// gateway's snapshot: no archive, and no temporary file of one. Before,
// the interrupt went unheeded and the archive was written whole; the
// operator's second Ctrl-C then killed the process and left the partial
// archive, every waiting patient's data (in clear unless data at rest is
// encrypted), under its temporary name beside the destination for good.
func TestBackupInterrupted(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "a", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(base, "backups")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	var out bytes.Buffer
	err = cmdBackup(ctx, []string{filepath.Join(dest, "ferry.tar.gz"), "--config", cfgFile}, &out, io.Discard)
	if err == nil {
		t.Errorf("interrupted backup: no error\n%s", out.String())
	}
	left, _ := os.ReadDir(dest)
	for _, e := range left {
		t.Errorf("interrupted backup left %s", e.Name())
	}
}

// TestRestoreInterrupted: Ctrl-C stops a restore, which then restores
// nothing and leaves nothing beside data_dir. Before, the interrupt went
// unheeded, and the operator's second one killed the process, leaving
// the half-unpacked copy of every waiting patient's data in a hidden
// folder beside data_dir (.data.restore-…) that nothing removes.
func TestRestoreInterrupted(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), &queue.Item{ID: "a", Key: "k", Body: []byte(`{"resourceType":"Bundle"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(data, filepath.Join(base, "old")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	if err := cmdRestore(ctx, []string{archive, "--config", cfgFile}, io.Discard, io.Discard); err == nil {
		t.Error("interrupted restore: no error")
	}
	left, _ := os.ReadDir(base)
	for _, e := range left {
		if n := e.Name(); n != "ferry.yaml" && n != "ferry.tar.gz" && n != "old" {
			t.Errorf("interrupted restore left %s", n)
		}
	}
}

// TestBackupOfEncryptedOutboxSaysInClear: with encryption at rest on and
// no exchange.url, the bundles ferry wrote to data_dir/outbox (for another
// program to read; never sealed) went into the archive in clear, while
// the backup said "the data in the archive is encrypted with
// encryption.key_file" and README that such an archive "holds only sealed
// data": kept as an encrypted backup, it carried every patient's bundle
// readable. The backup now says the outbox's bundles are in it in clear.
func TestBackupOfEncryptedOutboxSaysInClear(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	keyFile := filepath.Join(base, "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "outbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	bundle := `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Outboxpatient"}]}}]}`
	if err := os.WriteFile(filepath.Join(data, "outbox", "01JDZ0000000000000000000AA.json"), []byte(bundle), 0o640); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	var out bytes.Buffer
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The bundle is in the archive as it is in the outbox: in clear.
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(all, []byte("Outboxpatient")) {
		t.Fatal("the outbox's bundle is not in the archive in clear; the test no longer shows what it is about")
	}
	said := out.String()
	if !strings.Contains(said, "outbox") || !strings.Contains(said, "in clear") {
		t.Errorf("backup of an encrypted data_dir with an outbox bundle did not say the bundle is in the archive in clear:\n%s", said)
	}
}

// TestBackupOfDataFromBeforeEncryptionSaysInClear: a gateway that ran
// before encryption.key_file was set keeps what it stored then as it was
// (README, "Encryption at rest": data written before the key was
// configured stays readable): queue records, dead letters, quarantined
// inputs. Its backup said "the data in the archive is encrypted with
// encryption.key_file", and README that such an archive "holds only sealed
// data", while those patients' bundles were in it in clear. The backup now
// counts what is in clear and says so.
func TestBackupOfDataFromBeforeEncryptionSaysInClear(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	const mark = "Beforekeypatient"
	body := []byte(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"` + mark + `"}]}}]}`)
	ctx := context.Background()
	q, err := diskq.Open(filepath.Join(data, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := q.Put(ctx, &queue.Item{ID: id, Key: "k" + id, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	_, ack, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ack(ctx, queue.Permanent(errors.New("422 refused")))
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	qr, err := pipeline.OpenQuarantine(filepath.Join(data, "quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("MSH|^~\\&|||||||ADT^A01|1|P|2.5\rPID|||1||" + mark)
	if _, err := qr.Put(adapters.Raw{Source: "mllp", Name: "msg", Format: "hl7v2", Body: raw}, raw, errors.New("no PID-3")); err != nil {
		t.Fatal(err)
	}

	keyFile := filepath.Join(base, "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(base, "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+data+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	var out bytes.Buffer
	if err := cmdBackup(ctx, []string{archive, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	all, err := io.ReadAll(zr)
	// Closed before the second backup renames its archive over this one
	// (Windows refuses to replace a file held open).
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(all, []byte(mark)) {
		t.Fatal("the data stored before the key is not in the archive in clear; the test no longer shows what it is about")
	}
	said := out.String()
	for _, want := range []string{"in clear", "before encryption", "2 queue records", "1 dead letter", "1 quarantine entry"} {
		if !strings.Contains(said, want) {
			t.Errorf("backup of a data_dir holding data stored before encryption was turned on does not say %q:\n%s", want, said)
		}
	}

	// Sealed throughout, the archive is said to be encrypted, no more.
	key, err := seal.LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	sealed := filepath.Join(base, "sealed")
	q, err = diskq.Open(filepath.Join(sealed, "queue"), diskq.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, &queue.Item{ID: "c", Key: "kc", Body: body}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+sealed+"\nencryption:\n  key_file: "+keyFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := cmdBackup(ctx, []string{archive, "--config", cfgFile, "--force"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if said := out.String(); strings.Contains(said, "in clear") || !strings.Contains(said, "encrypted with encryption.key_file") {
		t.Errorf("backup of a data_dir sealed throughout said:\n%s", said)
	}
}
