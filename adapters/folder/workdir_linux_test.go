package folder

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// otherVolume returns a folder on another file system than t.TempDir(),
// or skips.
func otherVolume(t *testing.T) string {
	t.Helper()
	var a, b syscall.Stat_t
	if syscall.Stat(os.TempDir(), &a) != nil || syscall.Stat("/dev/shm", &b) != nil || a.Dev == b.Dev {
		t.Skip("no second file system (/dev/shm) to test with")
	}
	d, err := os.MkdirTemp("/dev/shm", "ferry-test-*")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestWorkDirOnAnotherVolumeIsRefused: claims are renames, so Start
// proves one works and names work_dir when it does not.
func TestWorkDirOnAnotherVolumeIsRefused(t *testing.T) {
	dir, other := t.TempDir(), otherVolume(t)
	cfg := testConfig(dir)
	cfg.WorkDir = other + "/work"
	e, err := New(adapters.Settings{}, cfg, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Start(t.Context(), nil)
	if err == nil {
		e.Shutdown(t.Context())
		t.Fatal("started with a work folder on another volume")
	}
	if !strings.Contains(err.Error(), "work_dir") || !strings.Contains(err.Error(), "same volume") {
		t.Errorf("error %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the probe left %v behind", ents)
	}
}

// TestDoneAndFailedDirsOnAnotherVolume: overrides on another file
// system get copies, fsynced, and the claimed file is removed only then.
func TestDoneAndFailedDirsOnAnotherVolume(t *testing.T) {
	dir, other := t.TempDir(), otherVolume(t)
	cfg := testConfig(dir)
	cfg.DoneDir, cfg.FailedDir = other+"/done", other+"/failed"
	os.Mkdir(cfg.DoneDir, 0o700)
	os.Mkdir(cfg.FailedDir, 0o700)
	rec := &recorder{fn: permanentFor("bad.hl7")}
	e := startEngine(t, cfg, rec)
	dropFile(t, dir, "good.hl7", []byte("MSH|good"))
	dropFile(t, dir, "bad.hl7", []byte("MSH|bad"))
	waitFor(t, "both settled", func() bool {
		return len(filesUnder(t, cfg.DoneDir)) == 1 && len(filesUnder(t, cfg.FailedDir)) == 2
	})
	if got, _ := os.ReadFile(cfg.FailedDir + "/bad.hl7"); string(got) != "MSH|bad" {
		t.Errorf("failed copy %q", got)
	}
	waitFor(t, "processing empty", func() bool { return len(filesUnder(t, e.Paths().Processing)) == 0 })
}

// permanentFor fails the named file permanently and accepts the others.
func permanentFor(name string) func(context.Context, int, adapters.Raw) error {
	return func(_ context.Context, _ int, in adapters.Raw) error {
		if in.Name == name {
			return queue.Permanent(errors.New("cannot convert"))
		}
		return nil
	}
}
