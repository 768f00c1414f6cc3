// Package outbox is the Sink used when no exchange is configured: each
// bundle becomes <dir>/<item ID>.json, for another program (or a person) to
// pick up. The write is atomic and durable before Send returns (package
// durable: temporary file, fsync, rename, fsync of the directory), so a
// reader never sees a partial file and an acknowledged item survives a
// power cut. Writing the same ID again replaces the file with identical
// content, so redelivery after a crash is harmless to ferry; but delivery
// is at least once, so a redelivery (a crash after the rename, before the
// queue recorded it) may write again a file the reading program already
// took: the reader should treat a name it has processed as done. Item IDs
// are ULIDs, so file names sort by the time the items were queued, and
// one patient's files in their delivery order, but for a bundle spilled
// to a body file while it was converted (queue.BodyWriter): its ID is
// the file's, taken when the conversion started, and a body sealed for
// it cannot be renamed without copying it. (Modification times do not
// mend that: on ext4 the two files of one burst often share one.)
// Concurrent Sends share their syncs (durable.Group): with several dispatcher
// workers, a burst of N bundles costs two file-system syncs per round
// instead of 2N fsyncs.
//
// A crash while writing leaves a temporary file, .<ID>.json.tmp-*, which
// readers globbing *.json skip; Connect removes those older than the
// process, never one a Send of this process is still writing.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/transport"
)

// Sink writes bundles into a directory.
type Sink struct {
	dir   string
	mu    sync.Mutex
	group *durable.Group
	// writing holds the temporary files of Sends in progress, which
	// removeLeftovers must not take for a crash's leftovers.
	writing map[string]bool
}

var _ transport.Sink = (*Sink)(nil)

// Modes of the outbox and its files. Bundles hold PHI, so others get
// nothing; but the outbox exists to be read by another program (the local
// consumer that collects the bundles, often under its own account in the
// service account's group), so unlike ferry's other folders it stays
// group-readable on purpose: 0750 and 0640, not owner-only.
const (
	dirMode  os.FileMode = 0o750
	fileMode os.FileMode = 0o640
)

// Reachable lets the outbox's readers (the service account's group)
// through dataDir, the outbox's parent: it adds the group's search bit
// (0700 becomes 0710), so they can open dataDir/outbox by its name and
// nothing else there: they cannot list dataDir, and its other folders
// (queue, quarantine, held) are the account's alone. The service's
// umask (0077) and the package make dataDir 0700, which kept every reader
// out of an outbox that is 0750 for them. Nothing on Windows, whose
// folders have ACLs instead.
func Reachable(dataDir string) error {
	if err := groupMay(dataDir, 0o010); err != nil {
		return fmt.Errorf("let the outbox's readers through %s: %w", dataDir, err)
	}
	return nil
}

// groupMay adds the group permission bits bits to dir's mode, leaving
// the others as they are (an administrator's 0770 stays); a umask (the
// service's 0077) would otherwise have left them out of a new folder.
func groupMay(dir string, bits os.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if m := st.Mode().Perm(); m&bits != bits {
		return os.Chmod(dir, m|bits)
	}
	return nil
}

// processStart bounds which temporary files are leftovers: anything this
// process writes is younger.
var processStart = time.Now()

// New returns a Sink writing into dir, which Connect creates.
func New(dir string) *Sink { return &Sink{dir: dir} }

// Dir is the outbox directory.
func (s *Sink) Dir() string { return s.dir }

// Connect creates the directory (dirMode) and removes temporary files a
// crash left in it.
func (s *Sink) Connect(context.Context) error {
	if err := durable.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("create outbox %q: %w", s.dir, err)
	}
	if err := groupMay(s.dir, 0o050); err != nil {
		return fmt.Errorf("outbox %q: %w", s.dir, err)
	}
	s.mu.Lock()
	removeLeftovers(s.dir, processStart, s.writing)
	s.mu.Unlock()
	// A new handle each time: the directory may have been recreated.
	g, err := durable.NewGroup(s.dir)
	if err != nil {
		return fmt.Errorf("open outbox %q: %w", s.dir, err)
	}
	s.mu.Lock()
	old := s.group
	s.group = g
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Send writes the item's body (it.Body, or streamed from it.Open) to <dir>/<it.ID>.json durably. An ID that is not a
// safe file name is a permanent error (it would otherwise fail forever);
// I/O errors such as a full disk are retryable, and a missing directory
// (only that: not a missing body file) is reported as
// transport.ErrNotConnected so that Connect recreates it.
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !safeID(it.ID) {
		return queue.Permanent(fmt.Errorf("write to outbox: item id %q is not a safe file name", it.ID))
	}
	s.mu.Lock()
	g := s.group
	s.mu.Unlock()
	if g == nil {
		return fmt.Errorf("write to outbox: %w", transport.ErrNotConnected)
	}
	path := filepath.Join(s.dir, it.ID+".json")
	if err := s.writeAtomic(g, path, it); err != nil {
		if _, serr := os.Stat(s.dir); errors.Is(err, fs.ErrNotExist) && errors.Is(serr, fs.ErrNotExist) {
			// The directory vanished (removed by hand, unmounted share):
			// ask the dispatcher to Connect again, which recreates it.
			// Only then: another missing file (the queued body, a
			// temporary file a reader removed) is retried with backoff,
			// since Connect cannot bring it back and the dispatcher
			// sends again at once after a Connect.
			return fmt.Errorf("write to outbox: %w: %w", transport.ErrNotConnected, err)
		}
		return fmt.Errorf("write to outbox: %w", err)
	}
	return nil
}

// Close releases the directory handle; every Send is already durable.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	g := s.group
	s.group = nil
	s.mu.Unlock()
	if g != nil {
		return g.Close()
	}
	return nil
}

func safeID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 200 || strings.HasPrefix(id, ".") {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// writeAtomic writes the item's body to path so that path holds either
// its previous content or all of the body, durably, even across a crash.
// A body held in a file is copied in a stream, never read whole.
func (s *Sink) writeAtomic(g *durable.Group, path string, it *queue.Item) error {
	s.mu.Lock() // held across Create so that removeLeftovers never sees it unlisted
	p, err := durable.Create(path, fileMode)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	tmp := filepath.Base(p.Name())
	if s.writing == nil {
		s.writing = map[string]bool{}
	}
	s.writing[tmp] = true
	s.mu.Unlock()
	defer func() {
		p.Abort()
		s.mu.Lock()
		delete(s.writing, tmp)
		s.mu.Unlock()
	}()
	body, err := it.OpenBody()
	if err != nil {
		return fmt.Errorf("read body of queue item %s: %w", it.ID, err)
	}
	n, err := io.Copy(p, body)
	body.Close()
	if err == nil && n != it.BodySize() {
		err = fmt.Errorf("body has %d bytes, want %d", n, it.BodySize())
	}
	if err != nil {
		return fmt.Errorf("write %q: %w", p.Name(), err)
	}
	return g.Commit(p)
}

// removeLeftovers deletes the outbox's own temporary files
// (.<ID>.json.tmp-*) last modified before start and not being written
// (busy): those of an earlier run that crashed mid-write. Nothing else in
// the directory is touched, and failures are ignored: a leftover costs
// only disk space, and the next start tries again.
func removeLeftovers(dir string, start time.Time, busy map[string]bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !durable.IsTemp(name) || !strings.Contains(name, ".json.tmp-") || busy[name] {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(start) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}
