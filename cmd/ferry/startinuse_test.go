package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/diskq"
)

// TestStartPortInUseSaysWhatToDo: a port already taken (the interface
// engine ferry replaces, a `ferry run` left in another terminal) stopped
// the start with "start mllp/lab: mllp listen on 127.0.0.1:2575: listen
// tcp ...: bind: address already in use", naming neither the field to
// change nor what to do, as ferry doctor's port check does. The start's
// error names the field and says to stop the other program or choose
// another port.
func TestStartPortInUseSaysWhatToDo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	for _, tc := range []struct {
		name, yaml, field string
	}{
		{"mllp", "data_dir: %q\nsources:\n  mllp:\n    - {name: other, listen: " + freeAddr + "}\n    - {name: lab, listen: %s}\n", "sources.mllp[1].listen " + busy.Addr().String()},
		{"status", "data_dir: %q\nsources:\n  mllp:\n    - {name: lab, listen: " + freeAddr + "}\nstatus:\n  listen: %s\n", "status.listen " + busy.Addr().String()},
	} {
		cfg := parseConfig(t, tc.yaml, filepath.Join(t.TempDir(), "data"), busy.Addr().String())
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err != nil {
			t.Fatal(err)
		}
		err = gw.Start(context.Background())
		gw.Shutdown(context.Background())
		if err == nil {
			t.Fatalf("%s: started on a port in use", tc.name)
		}
		for _, want := range []string{tc.field, "already in use", "stop it or choose another port"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: start error %q does not say %q", tc.name, err, want)
			}
		}
	}
}

// TestStartDataDirInUse: a second gateway on a data_dir another ferry
// runs on (the service, and a `ferry run` of the same configuration in a
// terminal) failed with "open queue: open queue DIR/queue: lock
// DIR/queue/LOCK: queue directory is in use by another process", which
// says neither that it is another ferry nor what to do. The error names
// data_dir and says to stop the other gateway or give this one a data_dir
// of its own.
func TestStartDataDirInUse(t *testing.T) {
	cfg := parseConfig(t, "data_dir: %q\nsources:\n  mllp:\n    - {name: lab, listen: 127.0.0.1:0}\n", filepath.Join(t.TempDir(), "data"))
	runGateway(t, cfg)
	gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
	if err == nil {
		gw.Shutdown(context.Background())
		t.Fatal("a second gateway opened the data_dir the first runs on")
	}
	for _, want := range []string{"data_dir " + cfg.DataDir, "another ferry", "ferry stop", "a data_dir of its own"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !errors.Is(err, diskq.ErrLocked) {
		t.Errorf("error %q is not diskq.ErrLocked", err)
	}
}

// TestStartDataDirNotWritable: a data_dir the account may not create or
// write (made by root before `ferry install`, on a read-only share) failed
// the start with "create data dir: mkdir DIR: permission denied" or, for
// one that exists, "site id: open DIR/.site-id.tmp-123: permission
// denied", a file the contractor never heard of, and neither said what to
// do. The error names data_dir and says how to give it to the account.
func TestStartDataDirNotWritable(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs Unix permissions that apply to this account (not root)")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.MkdirAll(filepath.Join(ro, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(ro, "data"), 0o555)
	os.Chmod(ro, 0o555)
	t.Cleanup(func() { os.Chmod(ro, 0o700); os.Chmod(filepath.Join(ro, "data"), 0o700) })
	for _, dir := range []string{filepath.Join(ro, "new"), filepath.Join(ro, "data")} {
		cfg := parseConfig(t, "data_dir: %q\nsources:\n  mllp:\n    - {name: lab, listen: 127.0.0.1:0}\n", dir)
		gw, err := newGateway(cfg, newLogger(io.Discard, "error"))
		if err == nil {
			gw.Shutdown(context.Background())
			t.Fatalf("%s: started", dir)
		}
		for _, want := range []string{"data_dir " + dir, "may not create or write", "chown -R"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}
}
