package ops

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// gatewayDataDir makes a data folder as a stopped gateway leaves it: a
// queue holding three undelivered items, registries, a quarantined input,
// an empty held/ folder, the ops token and a temp file a crash left.
func gatewayDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ferry-data")
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		it := &queue.Item{ID: fmt.Sprintf("item-%d", i), Key: "patient-a", Body: []byte(fmt.Sprintf(`{"resourceType":"Bundle","n":%d}`, i))}
		if err := q.Put(context.Background(), it); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"site-id":                        "0b6c1d2e-3f40-4152-8394-a5b6c7d8e9f0\n",
		"merges.log":                     "merge records",
		"quarantine/01J000000000.json":   `{"reason":"bad"}`,
		TokenFile:                        "secret-token\n",
		"quarantine/.x.json.tmp-1234567": "half written",
		"logs/ferry.log":                 "a Windows service's log",
		BackupRecordFile:                 `{"time":"2026-11-01T03:00:00Z","file":"/mnt/old.tar.gz"}`,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "held"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The outbox is for a group that reads it: 0750 and 0640.
	if err := os.Mkdir(filepath.Join(dir, "outbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outbox", "b.json"), []byte("{}"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "outbox"), 0o750) // whatever the umask
	os.Chmod(filepath.Join(dir, "outbox", "b.json"), 0o640)
	return dir
}

func queuedBodies(t *testing.T, dir string) []string {
	t.Helper()
	q, err := diskq.Open(filepath.Join(dir, "queue"), diskq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	var out []string
	for q.Len() > 0 {
		it, ack, err := q.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(it.Body))
		if err := ack(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBackupRestore: a backup of a stopped gateway's data folder and its
// configuration, restored into a new folder, gives the same queue (every
// undelivered item, in order), the same registries and an empty held/
// folder; the ops token and a temp file stay out. The manifest names
// every file with its size and SHA-256.
func TestBackupRestore(t *testing.T) {
	dir := gatewayDataDir(t)
	cfgFile := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(cfgFile, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := WriteBackup(&buf, BackupOptions{DataDir: dir, ConfigFile: cfgFile, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, f := range m.Files {
		paths[f.Path] = true
		if len(f.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", f.Path, f.SHA256)
		}
	}
	for _, want := range []string{"config/ferry.yaml", "data/site-id", "data/merges.log", "data/quarantine/01J000000000.json"} {
		if !paths[want] {
			t.Errorf("%s not backed up (%v)", want, paths)
		}
	}
	for p := range paths {
		if strings.Contains(p, TokenFile) || strings.Contains(p, ".tmp-") || strings.HasSuffix(p, "/LOCK") || strings.HasPrefix(p, "data/logs/") || p == "data/"+BackupRecordFile {
			t.Errorf("%s backed up", p)
		}
	}
	name, cfg, ok, err := ReadBackupConfig(bytes.NewReader(buf.Bytes()))
	if err != nil || !ok || name != "ferry.yaml" || !strings.Contains(string(cfg), dir) {
		t.Errorf("configuration in the archive: %q %q %v %v", name, cfg, ok, err)
	}

	to := filepath.Join(t.TempDir(), "new", "ferry-data")
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"site-id", "merges.log", "quarantine/01J000000000.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, err := os.ReadFile(filepath.Join(to, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s restored as %q (%v), want %q", f, b, err, a)
		}
	}
	if fi, err := os.Stat(filepath.Join(to, "held")); err != nil || !fi.IsDir() {
		t.Errorf("held/ not restored: %v", err)
	}
	if runtime.GOOS != "windows" {
		for f, want := range map[string]os.FileMode{"outbox": 0o750, "outbox/b.json": 0o640, "site-id": 0o600, "held": 0o700} {
			fi, err := os.Stat(filepath.Join(to, f))
			if err != nil {
				t.Errorf("%s not restored: %v", f, err)
			} else if fi.Mode().Perm() != want {
				t.Errorf("%s restored with mode %v, want %v", f, fi.Mode().Perm(), want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(to, TokenFile)); err == nil {
		t.Error("the ops token was restored")
	}
	got := queuedBodies(t, to)
	if len(got) != 3 || got[0] != `{"resourceType":"Bundle","n":0}` || got[2] != `{"resourceType":"Bundle","n":2}` {
		t.Errorf("restored queue holds %q", got)
	}
	// Restore writes only into an empty or new folder.
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore over a data folder: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), empty); err != nil {
		t.Errorf("restore into an empty folder: %v", err)
	}
}

// rewrite copies the archive, letting edit change each member's body (nil
// drops the member).
func rewrite(t *testing.T, archive []byte, edit func(name string, body []byte) []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if body = edit(hdr.Name, body); body == nil {
			continue
		}
		hdr.Size = int64(len(body))
		if hdr.Typeflag == tar.TypeDir {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

// TestRestoreRefusesDamage: an archive whose file differs from its
// manifest, that lacks a file or the manifest, that is cut short, or
// that names a path outside the data folder restores nothing, and leaves
// nothing behind.
func TestRestoreRefusesDamage(t *testing.T) {
	dir := gatewayDataDir(t)
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	cases := map[string][]byte{
		"changed byte": rewrite(t, good, func(name string, b []byte) []byte {
			if name == "data/merges.log" {
				b = bytes.Clone(b)
				b[0] ^= 1
			}
			return b
		}),
		"missing file": rewrite(t, good, func(name string, b []byte) []byte {
			if name == "data/site-id" {
				return nil
			}
			return b
		}),
		"no manifest": rewrite(t, good, func(name string, b []byte) []byte {
			if name == BackupManifestName {
				return nil
			}
			return b
		}),
		"cut short": good[:len(good)*2/3],
	}
	// A member named to climb out of the folder.
	var evil bytes.Buffer
	zw := gzip.NewWriter(&evil)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "data/../../escaped", Size: 1, Mode: 0o600})
	tw.Write([]byte("x"))
	tw.Close()
	zw.Close()
	cases["outside the folder"] = evil.Bytes()

	for name, archive := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			to := filepath.Join(parent, "ferry-data")
			if _, err := RestoreBackup(bytes.NewReader(archive), to); err == nil {
				t.Fatal("restored")
			} else {
				t.Log(err)
			}
			ents, _ := os.ReadDir(parent)
			if len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(parent), "escaped")); err == nil {
				t.Error("a member escaped the folder")
			}
		})
	}
}

// TestBackupThroughSymlink: a data_dir that is a symbolic link to the
// real folder is backed up from where it points, and restored into the
// folder a link points at, the link left in place.
func TestBackupThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	real := gatewayDataDir(t)
	link := filepath.Join(t.TempDir(), "ferry-data")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := WriteBackup(&buf, BackupOptions{DataDir: link})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) < 4 || len(m.Skipped) != 0 {
		t.Fatalf("backed up %d files, skipped %v", len(m.Files), m.Skipped)
	}
	target := filepath.Join(t.TempDir(), "disk2", "ferry")
	if err := os.MkdirAll(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link2 := filepath.Join(t.TempDir(), "ferry-data")
	if err := os.Symlink(target, link2); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), link2); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link2); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if got := queuedBodies(t, target); len(got) != 3 {
		t.Errorf("restored through the link: %d items", len(got))
	}
}

// TestRestoreThroughLinkToNewFolder: a data_dir made a symbolic link to
// a folder on another disk before that folder exists (ln -s
// /mnt/data/ferry /var/lib/ferry on the new machine) is restored into a
// new folder where it points. The restore renamed its folder over the
// link instead: the link was gone, and the data on the disk of the link.
func TestRestoreThroughLinkToNewFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: gatewayDataDir(t)}); err != nil {
		t.Fatal(err)
	}
	disk := t.TempDir()
	for _, to := range []string{filepath.Join(disk, "ferry"), "../" + filepath.Base(disk) + "/ferry2"} {
		link := filepath.Join(t.TempDir(), "ferry-data")
		if err := os.Symlink(to, link); err != nil {
			t.Fatal(err)
		}
		if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), link); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: the link was replaced: %v %v", to, fi, err)
		}
		target := to
		if !filepath.IsAbs(to) {
			target = filepath.Join(filepath.Dir(link), to)
		}
		if got := queuedBodies(t, target); len(got) != 3 {
			t.Errorf("%s: restored through the link: %d items", to, len(got))
		}
	}
}

// TestCheckBackup: the doctor says nothing is wrong when no backup was
// ever recorded or the last one is recent, and warns when the last one
// is older than BackupStale (a backup job that stopped).
func TestCheckBackup(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if c := CheckBackup(cfg, now); len(c) != 1 || c[0].Level != OK || !strings.Contains(c[0].Detail, "no backup") {
		t.Errorf("no record: %+v", c)
	}
	if err := RecordBackup(dir, BackupRecord{Time: now.Add(-26 * time.Hour), File: "/mnt/nas/ferry.tar.gz", Files: 9, Bytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if c := CheckBackup(cfg, now); c[0].Level != OK || !strings.Contains(c[0].Detail, "/mnt/nas/ferry.tar.gz") {
		t.Errorf("recent: %+v", c)
	}
	if c := CheckBackup(cfg, now.Add(8*24*time.Hour)); c[0].Level != Warn || !strings.Contains(c[0].Detail, "stopped") {
		t.Errorf("stale: %+v", c)
	}
	var out bytes.Buffer
	r, _ := LastBackup(dir)
	PrintStatus(&out, &Status{Now: now, DataDir: dir, LastBackup: r})
	if !strings.Contains(out.String(), "last backup:") || !strings.Contains(out.String(), "9 files, 1.0 MiB, to /mnt/nas/ferry.tar.gz") {
		t.Errorf("status:\n%s", out.String())
	}
}

// TestBackupFileGone: a file another program takes away between the
// listing and its copy (the outbox's reader) is listed as skipped, and
// the backup goes on.
func TestBackupFileGone(t *testing.T) {
	dir := gatewayDataDir(t)
	taken := filepath.Join(dir, "outbox", "b.json")
	backupOpenHook = func(p string) {
		if p == taken {
			os.Remove(p)
		}
	}
	defer func() { backupOpenHook = nil }()
	var buf bytes.Buffer
	m, err := WriteBackup(&buf, BackupOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Skipped) != 1 || m.Skipped[0] != "outbox/b.json: gone while the backup ran" {
		t.Errorf("skipped %v", m.Skipped)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), filepath.Join(t.TempDir(), "d")); err != nil {
		t.Errorf("restore: %v", err)
	}
}

// abortAfter is the archive's destination that closes abort once n bytes
// have been written to it (Ctrl-C pressed while a large file is archived),
// and counts what is written after.
type abortAfter struct {
	n, written int
	abort      chan struct{}
	closed     bool
}

func (w *abortAfter) Write(p []byte) (int, error) {
	w.written += len(p)
	if !w.closed && w.written >= w.n {
		close(w.abort)
		w.closed = true
	}
	return len(p), nil
}

// TestBackupAbortInsideLargeFile: Abort (Ctrl-C, or the gateway letting
// its snapshot go) was looked at only between files, so a large file (a
// spilled body of an EHI export or a scanned record, a big outbox file) was
// read and compressed whole first: the interrupt went unheeded for as long
// as that took, and a second Ctrl-C killed the command and left its
// temporary archive, patient data in clear, beside the target. The copy
// now stops within a read of the abort.
func TestBackupAbortInsideLargeFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(data, "queue", "bodies"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Incompressible, so that what is read shows in what is written.
	big := make([]byte, 32<<20)
	for i := range big {
		big[i] = byte(i*7919>>3 ^ i>>11)
	}
	if err := os.WriteFile(filepath.Join(data, "queue", "bodies", "big.body"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	w := &abortAfter{n: 1 << 20, abort: make(chan struct{})}
	_, err := WriteBackup(w, BackupOptions{DataDir: data, Abort: w.abort})
	if !errors.Is(err, errAborted) {
		t.Fatalf("backup aborted inside a file: %v", err)
	}
	if w.written > 8<<20 {
		t.Errorf("%d bytes written after an abort at 1 MiB of a 32 MiB file: the file was archived whole", w.written)
	}
}

// TestRestoreKeepsExistingFolder: restored into an existing empty
// data_dir, the folder stays the one the administrator made (its owner,
// its ACL on Windows, a mount point) and gets the archive's files and
// mode; the restore replaced it with a folder of its own.
func TestRestoreKeepsExistingFolder(t *testing.T) {
	src := gatewayDataDir(t)
	os.Chmod(src, 0o750)
	var buf bytes.Buffer
	if _, err := WriteBackup(&buf, BackupOptions{DataDir: src}); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "ferry-data")
	if err := os.Mkdir(to, 0o700); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreBackup(bytes.NewReader(buf.Bytes()), to); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(to)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the existing data_dir was replaced by another folder")
	}
	if runtime.GOOS != "windows" && after.Mode().Perm() != 0o750 {
		t.Errorf("data_dir mode %04o, backed up 0750", after.Mode().Perm())
	}
	if got := queuedBodies(t, to); len(got) != 3 {
		t.Errorf("restored: %d items", len(got))
	}
	ents, _ := os.ReadDir(filepath.Dir(to))
	ents2, _ := os.ReadDir(to)
	for _, e := range append(ents, ents2...) {
		if strings.Contains(e.Name(), "restore") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestBackupNotesNameEverySecret: the notes of backup and restore list
// the files the archive leaves out that a restored gateway needs. After a
// key rotation they named encryption.key_file only, not the previous keys
// that open what the archive still holds sealed with them (the gateway
// does not start without them), nor a fax mailbox's password file.
func TestBackupNotesNameEverySecret(t *testing.T) {
	cfg := &config.Config{DataDir: "/var/lib/ferry"}
	cfg.Encryption.KeyFile = "/etc/ferry/ferry-2027.key"
	cfg.Encryption.PreviousKeyFiles = []string{"/etc/ferry/ferry.key"}
	var mb config.Mailbox
	mb.PasswordFile = "/etc/ferry/fax-imap.pass"
	cfg.Sources.Mailboxes = []config.Mailbox{mb}
	notes := strings.Join(BackupNotes(cfg, nil), "\n")
	for _, want := range []string{"encryption.key_file /etc/ferry/ferry-2027.key", "encryption.previous_key_files[0] /etc/ferry/ferry.key", "sources.mailboxes[0].password_file /etc/ferry/fax-imap.pass"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes without %q:\n%s", want, notes)
		}
	}
}
