package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
)

// TestRestoreHangup: a restore whose terminal goes away (the ssh session
// to the new machine drops: SIGHUP) stops as for Ctrl-C, restores
// nothing and leaves nothing behind. SIGHUP was not handled, so Go's
// default ended the process where it stood, and the folder it was
// unpacking into, beside data_dir, stayed there with every waiting
// patient's data, which nothing removes.
func TestRestoreHangup(t *testing.T) {
	if signal.Ignored(syscall.SIGHUP) {
		t.Skip("started with SIGHUP ignored (nohup), as the child would be")
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
	// Bodies that do not compress, so that the archive is larger than
	// what a pipe holds.
	body := make([]byte, 256<<10)
	for i := range 16 {
		for j := range body {
			body[j] = byte((i*len(body)+j)*7919>>5 ^ j>>9)
		}
		if err := q.Put(context.Background(), &queue.Item{ID: "item-" + string(rune('a'+i)), Key: "k", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(base, "ferry.tar.gz")
	if err := cmdBackup(context.Background(), []string{archive, "--config", cfgFile}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(data, filepath.Join(base, "old")); err != nil {
		t.Fatal(err)
	}

	// gpg -d ferry.tar.gz.gpg | ferry restore -, over ssh.
	cmd := exec.Command(buildFerry(t), "restore", "-", "--config", cfgFile)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	if _, err := in.Write(b[:len(b)/2]); err != nil {
		t.Fatal(err)
	}
	unpacking := func() bool {
		ents, _ := os.ReadDir(base)
		for _, e := range ents {
			if strings.Contains(e.Name(), ".restore-") {
				return true
			}
		}
		return false
	}
	waitFor(t, "the restore to unpack", unpacking)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The session's end takes the pipe's writer with it.
	in.Close()
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("restore did not end:\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		t.Fatalf("restore cut off ended with %v:\n%s", werr, out.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Errorf("restore was killed by %v", ws.Signal())
	} else if o := out.String(); !strings.Contains(o, "interrupted; nothing restored") && !strings.Contains(o, "the archive is cut short") {
		// The hangup and the pipe's end come together: whichever the
		// restore saw first, it stopped and said so, not Go's default.
		t.Errorf("restore said:\n%s", o)
	}
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if n := e.Name(); n != "ferry.yaml" && n != "ferry.tar.gz" && n != "old" {
			t.Errorf("the restore left %s beside data_dir", n)
		}
	}
}
