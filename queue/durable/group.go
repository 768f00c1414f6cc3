package durable

import (
	"fmt"
	"path/filepath"
	"sync"
)

// Group commits durable writes into one directory together: writers that
// commit at the same time share one file-system sync for their data and
// one for their renames, instead of two fsyncs each. Where the operating
// system can sync a whole file system in one call and report what it
// failed to write (Linux 5.8 and later: syncfs), a
// group of N concurrent commits costs two device flushes instead of 2N;
// elsewhere Commit is Pending.Commit. The guarantees are the same: when
// Commit returns nil the destination holds all of the new content,
// durably, and a crash before that leaves the old content (and at worst a
// temporary file that IsTemp recognises).
//
// syncfs reports a write-back error once for the handle the Group
// shares, so a Commit fails when any of the Group's syncs failed after
// its file was created (fsSyncer.failedSince): the file is written again.
//
// syncfs also flushes whatever else is dirty on that file system, so a
// Group suits a directory on the gateway's own data disk (the outbox), not
// a share other programs write to in bulk.
type Group struct {
	dir  string
	fsys *fsSyncer // nil where whole-file-system sync is unavailable
}

// NewGroup returns a Group for files in dir. Close releases it.
func NewGroup(dir string) (*Group, error) {
	g := &Group{dir: dir}
	s, err := newFSSyncer(dir)
	if err != nil {
		return nil, err
	}
	if s != nil {
		g.fsys = &fsSyncer{sync: s.sync, close: s.close}
	}
	return g, nil
}

// Close releases the directory handle.
func (g *Group) Close() error {
	if g.fsys != nil && g.fsys.close != nil {
		return g.fsys.close()
	}
	return nil
}

// Commit makes p's content durable at its destination, which must be in
// the Group's directory, sharing syncs with concurrent Commits.
func (g *Group) Commit(p *Pending) error {
	if g.fsys == nil {
		return p.Commit()
	}
	if filepath.Clean(filepath.Dir(p.path)) != filepath.Clean(g.dir) {
		return fmt.Errorf("durable: %s is not in the group's directory %s", p.path, g.dir)
	}
	return p.commit(func() error {
		if err := g.fsys.flush(); err != nil {
			return err
		}
		return g.fsys.failedSince(p.tick)
	}, func() error {
		err := g.fsys.flush()
		if err == nil {
			err = g.fsys.failedSince(p.tick)
		}
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", g.dir, err)
		}
		return nil
	})
}

// fsSyncer runs sync for every caller of flush, coalescing: a caller is
// answered by a sync that started after it called, and all callers that
// arrive while one sync runs share the next.
type fsSyncer struct {
	sync  func() error
	close func() error

	mu      sync.Mutex
	running bool
	waiting []chan error
	// failed is when (on the clock of ticks) a sync last failed, and
	// failErr its error. syncfs reports a write-back error once for the
	// handle the Group shares: to the commits of the round that saw it,
	// though the pages lost may have been of a file another commit wrote
	// before, whose own sync then succeeds (failedSince).
	failed  uint64
	failErr error
}

// failedSince returns an error when a sync failed after tick, the
// creation of a file being committed: the pages that failed to be
// written may have been that file's, and a sync since, which the kernel
// no longer tells of them, proves nothing. The file is to be written
// again.
func (s *fsSyncer) failedSince(tick uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed > tick {
		return fmt.Errorf("a sync of the file system failed after the file was written, so its content may be lost: %w", s.failErr)
	}
	return nil
}

func (s *fsSyncer) flush() error {
	ch := make(chan error, 1)
	s.mu.Lock()
	s.waiting = append(s.waiting, ch)
	lead := !s.running
	s.running = true
	s.mu.Unlock()
	if lead {
		s.lead()
	}
	return <-ch
}

// lead syncs for the waiting callers, round after round, until none is
// left. The leader's own request is in the first round.
func (s *fsSyncer) lead() {
	for {
		s.mu.Lock()
		batch := s.waiting
		s.waiting = nil
		if len(batch) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		err := s.sync()
		if err != nil {
			s.mu.Lock()
			s.failed, s.failErr = ticks.Add(1), err
			s.mu.Unlock()
		}
		for _, ch := range batch {
			ch <- err
		}
	}
}
