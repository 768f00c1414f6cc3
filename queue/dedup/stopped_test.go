package dedup

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stop makes the set's next flush fail as a failed fsync does, leaving the
// file's tail unknown: its handle is swapped for a read-only one of the
// same file, so the write fails and so does cutting it off again.
func stop(t *testing.T, s *Set) {
	t.Helper()
	ro, err := os.Open(s.path)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.f.Close()
	s.f = ro
	s.mu.Unlock()
	if err := s.Add(key(100)); err == nil {
		t.Fatal("Add through a read-only handle succeeded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		t.Fatal("the set did not stop")
	}
}

// TestStoppedSetRecovers: a set stopped by a write whose end is unknown (a
// failed fsync) went on failing every Remember until the process
// restarted, without keeping the key: each message was logged as "dedup
// key not kept", and a sender's resend of it (no ACK reached it) was not
// recognised and was queued and delivered a second time. The stopped set
// now keeps the keys in memory, so resends are still recognised, and
// starts again in a fresh file written from memory, with the next Add or
// in the background, so that they are kept on disk too.
func TestStoppedSetRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.log")
	s := mustOpen(t, path, Options{})
	mustAdd(t, s, key(1))
	stop(t, s)

	if err := s.Remember(key(2)); err != nil {
		t.Errorf("Remember on a stopped set: %v", err)
	}
	if !s.Seen(key(2)) {
		t.Error("a key remembered while the set was stopped is not seen: its resend would be queued again")
	}
	// The next Add starts the set again in a new file.
	if err := s.Add(key(3)); err != nil {
		t.Fatalf("Add after the set stopped: %v", err)
	}
	if err := s.Remember(key(4)); err != nil {
		t.Fatalf("Remember after the restart: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, path, Options{})
	defer s.Close()
	for _, i := range []int{1, 2, 3, 4, 100} {
		if !s.Seen(key(i)) {
			t.Errorf("key %d not kept after reopening", i)
		}
	}
}

// TestStoppedSetRestartsInBackground: with Remember alone (the pipeline's
// way), a stopped set starts again by itself and writes the keys it kept.
func TestStoppedSetRestartsInBackground(t *testing.T) {
	defer func(d time.Duration) { restartDelay = d }(restartDelay)
	restartDelay = time.Millisecond
	path := filepath.Join(t.TempDir(), "dedup.log")
	s := mustOpen(t, path, Options{})
	defer s.Close()
	mustAdd(t, s, key(1))
	stop(t, s)
	if err := s.Remember(key(2)); err != nil {
		t.Fatalf("Remember on a stopped set: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		stopped := s.err != nil
		s.mu.Unlock()
		if !stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the set did not start again")
		}
		time.Sleep(time.Millisecond)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".copy", b, 0o600); err != nil {
		t.Fatal(err)
	}
	copied := mustOpen(t, path+".copy", Options{})
	defer copied.Close()
	for _, i := range []int{1, 2, 100} {
		if !copied.Seen(key(i)) {
			t.Errorf("key %d not on disk after the restart", i)
		}
	}
}
