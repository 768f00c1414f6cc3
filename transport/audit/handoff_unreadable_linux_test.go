package audit

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHandoffUnreadableKept: a hand-off file the gateway cannot open yet
// stays where it is for the next round. `sudo ferry quarantine show ID |
// less` leaves its event in a file of root's, 0600, and gives it to the
// ferry account only when it exits (installer.FixOwnership); a round of
// the gateway's Sink in between deleted the file, the person's read gone
// from the trail, counted as one lost event however many it held.
//
// The Sink runs as an account that cannot read the file: when the test
// runs as root, in a child process as nobody.
func TestHandoffUnreadableKept(t *testing.T) {
	if dir := os.Getenv("FERRY_HANDOFF_UNREADABLE_DIR"); dir != "" {
		s, err := New(Options{URL: "udp://127.0.0.1:9", SourceID: "ferry-clinic-1",
			SpoolDir: filepath.Join(dir, "spool"), HandoffDir: filepath.Join(dir, "handoff")})
		if err != nil {
			t.Fatal(err)
		}
		s.takeHandoff()
		if st := s.Stats(); st.Dropped != 0 || st.Pending != 0 {
			t.Errorf("stats %+v: an unreadable hand-off file was counted as lost", st)
		}
		if err := s.spool.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	handoff := filepath.Join(dir, "handoff")
	if err := os.Mkdir(handoff, 0o700); err != nil {
		t.Fatal(err)
	}
	r1, _ := marshalRecord("1", &Event{})
	r2, _ := marshalRecord("1", &Event{})
	if err := writeHandoff(handoff, [][]byte{r1, r2}); err != nil {
		t.Fatal(err)
	}
	names, err := handoffFiles(handoff)
	if err != nil || len(names) != 1 {
		t.Fatalf("hand-off files %v, %v", names, err)
	}
	file := filepath.Join(handoff, names[0])
	if os.Geteuid() != 0 {
		if err := os.Chmod(file, 0); err != nil {
			t.Fatal(err)
		}
		t.Setenv("FERRY_HANDOFF_UNREADABLE_DIR", dir)
		TestHandoffUnreadableKept(t)
		if err := os.Chmod(file, 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		// The directories are the gateway's (writable to it), the file
		// root's; the child needs a copy of the test binary it can run.
		for _, d := range []string{filepath.Dir(dir), dir, handoff} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		bin := filepath.Join(dir, "audit.test")
		copyFile(t, os.Args[0], bin)
		if err := os.Chmod(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestHandoffUnreadableKept$", "-test.count=1")
		cmd.Env = append(os.Environ(), "FERRY_HANDOFF_UNREADABLE_DIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child as nobody: %v\n%s", err, out)
		}
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the unreadable hand-off file is gone: %v", err)
	}
	got, err := readHandoff(file)
	if err != nil || len(got) != 2 {
		t.Fatalf("hand-off file holds %d records, %v; want the 2 written", len(got), err)
	}
}
