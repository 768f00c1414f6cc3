package durable

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupCommit: concurrent commits through a Group leave every file
// complete under its final name and no temporary file behind; where the
// file system can be synced whole, they share syncs.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var syncs atomic.Int64
	if g.fsys != nil {
		inner := g.fsys.sync
		g.fsys.sync = func() error { syncs.Add(1); return inner() }
	}
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := Create(filepath.Join(dir, fmt.Sprintf("b%02d.json", i)), 0o640)
			if err != nil {
				t.Error(err)
				return
			}
			defer p.Abort()
			if _, err := p.Write(bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i)); err != nil {
				t.Error(err)
				return
			}
			if err := g.Commit(p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Fatalf("%d entries, want %d", len(ents), n)
	}
	for _, e := range ents {
		if IsTemp(e.Name()) {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
		var i int
		fmt.Sscanf(e.Name(), "b%02d.json", &i)
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat(string(rune('a'+i%26)), 1000+i); string(b) != want {
			t.Fatalf("%s: %d bytes, not the content written", e.Name(), len(b))
		}
		if fi, _ := e.Info(); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 { // Windows has only the read-only bit
			t.Fatalf("%s: mode %v, want 0640", e.Name(), fi.Mode().Perm())
		}
	}
	if g.fsys != nil {
		t.Logf("%d commits, %d file-system syncs", n, syncs.Load())
		if s := syncs.Load(); s < 2 || s > 2*n {
			t.Fatalf("%d syncs for %d commits", s, n)
		}
	}
}

// TestGroupCommitOtherDir: a Group only commits into its own directory.
func TestGroupCommitOtherDir(t *testing.T) {
	g, err := NewGroup(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.fsys == nil {
		t.Skip("no whole-file-system sync here: Commit is Pending.Commit")
	}
	p, err := Create(filepath.Join(t.TempDir(), "x.json"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if err := g.Commit(p); err == nil {
		t.Fatal("commit into another directory succeeded")
	}
}

// TestFSSyncerCoalesces: callers that arrive while a sync runs share the
// next one, and every caller is answered by a sync that started after it
// called.
func TestFSSyncerCoalesces(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	var rounds atomic.Int64
	s := &fsSyncer{sync: func() error {
		rounds.Add(1)
		started <- struct{}{}
		<-release
		return nil
	}}
	done := make(chan error, 9)
	go func() { done <- s.flush() }()
	<-started // the first sync is running
	for range 8 {
		go func() { done <- s.flush() }()
	}
	// Let the eight queue up behind the running sync.
	for {
		s.mu.Lock()
		n := len(s.waiting)
		s.mu.Unlock()
		if n == 8 {
			break
		}
		runtime.Gosched()
	}
	release <- struct{}{} // first round ends
	<-started             // the second round, for all eight, starts
	release <- struct{}{}
	for range 9 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if r := rounds.Load(); r != 2 {
		t.Fatalf("%d sync rounds, want 2", r)
	}
}
