//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestRestoreIntoLinkedDataDirGivesItToService: data_dir a symbolic link
// to a folder on another disk is restored into that folder (README), and
// `sudo ferry restore` says it gave the data folder to the ferry account.
// It walked the link, which filepath.Walk does not follow, and so gave
// the link alone: every restored file stayed root's, 0600, and the
// service, which runs as ferry, could not open its queue at its start.
func TestRestoreIntoLinkedDataDirGivesItToService(t *testing.T) {
	u, err := user.Lookup(installer.Account)
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the service account")
	}
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

	// The new machine: data_dir a link to an empty folder on another disk.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(base, "disk", "ferry")
	if err := os.MkdirAll(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(disk, data); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmdRestore(context.Background(), []string{archive, "--config", cfgFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gave "+data+" to the "+installer.Account+" account") {
		t.Errorf("restore said:\n%s", out.String())
	}
	files := 0
	err = filepath.WalkDir(disk, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); uid != u.Uid {
			t.Errorf("%s is owned by uid %s, not %s (%s)", p, uid, installer.Account, u.Uid)
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("nothing restored into the linked folder")
	}

	// A file an operator command then writes there as root (a backfill,
	// a retry) is given back to the service account too.
	late := filepath.Join(disk, "queue", "late")
	if err := os.WriteFile(late, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := installer.FixOwnership(data); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(late); err != nil {
		t.Fatal(err)
	} else if uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); uid != u.Uid {
		t.Errorf("a file written as root into the linked data folder stays uid %s's", uid)
	}
}

// TestRestoreWriteConfigReadableByService: `sudo ferry restore FILE
// --write-config /etc/ferry/ferry.yaml` on a new machine wrote the
// configuration root:root 0640 and gave only the data folder to the ferry
// account, so the service, which runs as ferry, could not read its own
// configuration and did not start (README: "Put the key files back, run
// `ferry doctor`, start the service"). It is now root:ferry 0640, as the
// package installs it.
func TestRestoreWriteConfigReadableByService(t *testing.T) {
	u, err := user.Lookup(installer.Account)
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and the service account")
	}
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
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(base, "etc", "ferry.yaml")
	var out bytes.Buffer
	if err := cmdRestore(context.Background(), []string{archive, "--write-config", restored}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(restored)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if gid := strconv.Itoa(int(st.Gid)); gid != u.Gid || st.Uid != 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("restored configuration is uid %d gid %d mode %o; want root:%s (gid %s) 0640 so that the service reads it\n%s",
			st.Uid, st.Gid, fi.Mode().Perm(), installer.Account, u.Gid, out.String())
	}
	if !strings.Contains(out.String(), "gave "+restored+" to the "+installer.Account+" group") {
		t.Errorf("restore said:\n%s", out.String())
	}
}
