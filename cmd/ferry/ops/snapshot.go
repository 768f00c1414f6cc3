package ops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/config/configopaque"
	"github.com/ferry-health/ferry/queue/diskq"
)

// A backup of a running gateway (`ferry backup` while the service holds
// the queue) is made in two steps, so that the service stops for a moment
// and not for the length of the copy:
//
//  1. The gateway freezes its queue (diskq.Queue.Freeze: no record
//     written, every batch already written synced) and hard-links every
//     file of the data folder into SnapshotDir (copies on Windows, below),
//     noting how many bytes of each belong to the snapshot. A link costs
//     no copy and no space, and keeps the file's content as it is even
//     when the gateway removes or replaces the file later. Files that
//     only grow (the queue's newest segment, dedup.log, merges.log and
//     the other logs) are cut at the noted size when archived; nothing in
//     the data folder is rewritten in place below its end.
//  2. The command archives the snapshot (WriteBackup with Root and
//     Sizes), then asks the gateway to remove it.
//
// What the snapshot holds is what a crash at the moment of the freeze
// would have left, which the gateway starts from after any crash. Held
// and quarantined inputs are written before their input is acknowledged,
// as queued ones are, and the dedup log after the queue. The moves of a
// running gateway between stores go through the queue (a dead letter
// written, then its item settled; retried: queued, then the dead letter
// removed): with the queue frozen, such a move is caught before its queue
// step (in both stores, a duplicate the exchange absorbs) or after it,
// never half-way with the item in neither.
//
// Windows cannot delete a name of a file that another handle holds open
// without FILE_SHARE_DELETE, as the gateway holds its segments and logs,
// so the links could not be removed after the backup: there (see link)
// and on file systems without hard links the snapshot is a copy, made
// while the queue is held.

// SnapshotDir is the folder of data_dir that live backups' snapshots are
// linked into, each in a folder of its own named by its ID. Never backed
// up itself; the gateway removes it at start.
const SnapshotDir = ".backup-snapshot"

// SnapshotFile is a file of a snapshot: its path under the snapshot
// folder (slash separated) and the bytes of it that belong to the
// snapshot.
type SnapshotFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Snapshot describes a live backup's snapshot.
type Snapshot struct {
	// ID names the snapshot (its folder under SnapshotDir): the command
	// releases the snapshot by it, so that it never removes another's.
	ID      string         `json:"id"`
	Dir     string         `json:"dir"`
	Created time.Time      `json:"created"`
	Files   []SnapshotFile `json:"files"`
	// Copied counts the files copied because the file system would not
	// link them (FAT, exFAT; every file on Windows, see link); Linked the
	// others.
	Linked int `json:"linked"`
	Copied int `json:"copied"`
	// Frozen is how long the queue was held still (the call to freeze).
	Frozen time.Duration `json:"frozen_ns"`
	// Skipped lists what the snapshot left out that a backup reports
	// (entries that are not regular files), as WriteBackup does.
	Skipped []string `json:"skipped,omitempty"`
}

// Sizes returns the snapshot's files as WriteBackup's Sizes.
func (s *Snapshot) Sizes() map[string]int64 {
	m := make(map[string]int64, len(s.Files))
	for _, f := range s.Files {
		m[f.Path] = f.Size
	}
	return m
}

// Freezer holds a queue still while fn runs (diskq.Queue.Freeze).
type Freezer func(fn func(extents []diskq.Extent) error) error

// TakeSnapshot makes a snapshot of dataDir in a new folder under
// dataDir/SnapshotDir while freeze holds the queue. The files that stay
// out of a backup (skipInBackup) stay out of it.
func TakeSnapshot(dataDir string, freeze Freezer) (*Snapshot, error) {
	root, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:])
	if err := os.MkdirAll(filepath.Join(root, SnapshotDir), 0o700); err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", dataDir, err)
	}
	snap := filepath.Join(root, SnapshotDir, id)
	s := &Snapshot{ID: id, Dir: snap}
	start := time.Now()
	err = freeze(func(extents []diskq.Extent) error {
		s.Created = time.Now().UTC().Truncate(time.Second)
		cut := make(map[string]int64, len(extents))
		for _, e := range extents {
			p, err := filepath.Abs(e.Path)
			if err != nil {
				return err
			}
			if p, err = filepath.EvalSymlinks(p); err == nil {
				cut[p] = e.Size
			}
		}
		// A file removed meanwhile (an outbox file its reader took) is not
		// the gateway's to keep any more.
		gone := func(string) error { return nil }
		return walkData(root, gone, func(p, rel string, d fs.DirEntry) error {
			dst := filepath.Join(snap, filepath.FromSlash(rel))
			if d.IsDir() {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				return os.Mkdir(dst, fi.Mode().Perm()|0o700)
			}
			if skipInBackup(rel) {
				return nil
			}
			if !d.Type().IsRegular() {
				s.Skipped = append(s.Skipped, rel+": not a regular file ("+d.Type().String()+")")
				return nil
			}
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			size, isSeg := cut[p]
			if err := link(p, dst); err == nil {
				s.Linked++
				// The link's size, not the walk's: the file may have
				// grown since (a log another goroutine appends to).
				lfi, err := os.Lstat(dst)
				if err != nil {
					return fmt.Errorf("snapshot %s: %w", rel, err)
				}
				if !isSeg {
					size = lfi.Size()
				}
			} else if errors.Is(err, fs.ErrNotExist) {
				return nil
			} else {
				if !isSeg {
					size = fi.Size()
				}
				n, err := copyPrefix(p, dst, size, fi)
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("snapshot %s: %w", rel, err)
				}
				size = n
				s.Copied++
			}
			s.Files = append(s.Files, SnapshotFile{Path: rel, Size: size})
			return nil
		})
	})
	// Measured from the call: the wait for the batches in flight to sync
	// holds the writer too.
	s.Frozen = time.Since(start)
	if err != nil {
		removeSnapshot(dataDir, id)
		return nil, fmt.Errorf("snapshot of %s: %w", dataDir, err)
	}
	return s, nil
}

// link makes dst another name of src. On Windows it refuses, and the
// snapshot is a copy instead: there a name of a file that another handle
// holds open without FILE_SHARE_DELETE (as os.OpenFile opens the queue's
// segments, dedup.log and the other logs, for as long as the gateway
// runs) cannot be deleted, so the snapshot could not be removed after the
// backup.
func link(src, dst string) error {
	if runtime.GOOS == "windows" {
		return errors.ErrUnsupported
	}
	return os.Link(src, dst)
}

// copyPrefix copies at most n bytes of src, described by fi, into a new
// file dst with src's mode and modification time (the outbox's retention
// counts from it), and returns how many it copied (fewer when src is
// shorter).
func copyPrefix(src, dst string, n int64, fi fs.FileInfo) (int64, error) {
	// Shared for deletion: on Windows the gateway's own removals and
	// renames over the file (a dead letter replaced, a log compacted)
	// must not fail while it is copied.
	in, err := openShared(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()|0o600)
	if err != nil {
		return 0, err
	}
	c, err := io.Copy(out, io.LimitReader(in, n))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(dst, fi.ModTime(), fi.ModTime())
	}
	return c, err
}

// RemoveSnapshot removes every snapshot of dataDir (SnapshotDir), as the
// gateway does at start: none is held then.
func RemoveSnapshot(dataDir string) error {
	dir := filepath.Join(dataDir, SnapshotDir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the backup snapshots %s: %w", dir, err)
	}
	return nil
}

// removeSnapshot removes the snapshot id of dataDir, if it is there.
func removeSnapshot(dataDir, id string) error {
	if id == "" || strings.ContainsAny(id, `/\.`) {
		return fmt.Errorf("no snapshot %q", id)
	}
	dir := filepath.Join(dataDir, SnapshotDir, id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the backup snapshot %s: %w", dir, err)
	}
	os.Remove(filepath.Join(dataDir, SnapshotDir)) // when it was the last
	return nil
}

// inSnapshot reports whether the data folder's file rel (slash
// separated) is part of a live backup's snapshot folder.
func inSnapshot(rel string) bool {
	return rel == SnapshotDir || strings.HasPrefix(rel, SnapshotDir+"/")
}

// RegisterSnapshotHandlers adds the live backup's endpoints to mux,
// guarded by token. POST /api/ops/backup/snapshot takes a snapshot of
// dataDir (TakeSnapshot with freeze), answers its Snapshot as one JSON
// line and keeps the answer open: the connection is the command's hold on
// the snapshot. DELETE ...?id=ID removes the snapshot ID once archived;
// the connection's end without it (the command died, or was stopped)
// removes it too, so no snapshot outlives its command. One backup at a
// time: a second POST while a snapshot is held is refused. When stop is
// closed (the gateway stops) the answer ends, which tells the command
// its snapshot is no longer held; the gateway's next start removes it.
// denied, when set, is called for every request refused for a missing or
// wrong token, as OpsAudit.Denied is.
func RegisterSnapshotHandlers(mux *http.ServeMux, token configopaque.String, dataDir string, freeze Freezer, stop <-chan struct{}, denied func(OpRecord)) {
	var mu sync.Mutex
	held := "" // the ID of the snapshot held now
	answer := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	guarded := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !Authorized(r, token) {
				if denied != nil {
					denied(OpRecord{Action: r.Method + " " + r.URL.Path, Remote: r.RemoteAddr,
						Operator: cleanHeader(r.Header.Get(OperatorHeader)), Err: errWrongToken})
				}
				answer(w, http.StatusUnauthorized, OpResult{Error: errWrongToken.Error()})
				return
			}
			h(w, r)
		}
	}
	take := func() (*Snapshot, int, error) {
		mu.Lock()
		defer mu.Unlock()
		if held != "" {
			return nil, http.StatusConflict, errors.New("another backup of this gateway is running; wait for it to finish")
		}
		s, err := TakeSnapshot(dataDir, freeze)
		if err != nil {
			return nil, http.StatusInternalServerError, err
		}
		held = s.ID
		return s, http.StatusOK, nil
	}
	drop := func(id string) error {
		mu.Lock()
		defer mu.Unlock()
		if held == id {
			held = ""
		}
		return removeSnapshot(dataDir, id)
	}
	mux.HandleFunc("POST /api/ops/backup/snapshot", guarded(func(w http.ResponseWriter, r *http.Request) {
		s, code, err := take()
		if err != nil {
			answer(w, code, OpResult{Error: err.Error()})
			return
		}
		answer(w, http.StatusOK, s)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-r.Context().Done():
			drop(s.ID) // released, or the command went without releasing it
		case <-stop:
		}
	}))
	mux.HandleFunc("DELETE /api/ops/backup/snapshot", guarded(func(w http.ResponseWriter, r *http.Request) {
		if err := drop(r.URL.Query().Get("id")); err != nil {
			answer(w, http.StatusInternalServerError, OpResult{Error: err.Error()})
			return
		}
		answer(w, http.StatusOK, OpResult{Done: true})
	}))
}

// SnapshotHold is a command's hold on the snapshot the gateway made for
// it (RemoteSnapshot).
type SnapshotHold struct {
	release func() error
	lost    chan struct{}
	mu      sync.Mutex
	done    bool
}

// Lost is closed when the gateway ends the hold before Release: it
// stopped or restarted (and removes the snapshot), or the connection
// broke. An archive read from the snapshot after that is not to be
// trusted.
func (h *SnapshotHold) Lost() <-chan struct{} { return h.lost }

// Release tells the gateway to remove the snapshot.
func (h *SnapshotHold) Release() error {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	return h.release()
}

// RemoteSnapshot asks the gateway listening on addr for a snapshot of its
// data folder and holds it (see RegisterSnapshotHandlers) until Release.
func RemoteSnapshot(ctx context.Context, addr string, token configopaque.String) (*Snapshot, *SnapshotHold, error) {
	url := "http://" + addr + "/api/ops/backup/snapshot"
	// The snapshot's links take one file-system call a file: minutes
	// only for a copy (Windows) of a large backlog.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, ResponseHeaderTimeout: 10 * time.Minute}}
	call := func(ctx context.Context, method, query string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, url+query, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+string(token))
		req.Header.Set(OperatorHeader, describeOperator(LocalOperator()))
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		defer resp.Body.Close()
		var res OpResult
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			return nil, errors.New("the gateway refused the ops token (restarted since it was read?)")
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
			return nil, errors.New("the running gateway is an earlier release without live backups")
		case json.Unmarshal(body, &res) == nil && res.Error != "":
			return nil, errors.New(res.Error)
		}
		return nil, fmt.Errorf("gateway answered %s", resp.Status)
	}
	resp, err := call(ctx, http.MethodPost, "")
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot from the running gateway: %w", err)
	}
	s := &Snapshot{}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 256<<20))
	if err := dec.Decode(s); err != nil {
		resp.Body.Close()
		return nil, nil, fmt.Errorf("snapshot from the running gateway: %w", err)
	}
	// The answer stays open while the snapshot is archived; it ends early
	// only when the gateway lets the snapshot go (it stopped) or the
	// connection breaks.
	h := &SnapshotHold{lost: make(chan struct{})}
	go func() {
		io.Copy(io.Discard, dec.Buffered())
		io.Copy(io.Discard, resp.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !h.done {
			close(h.lost)
		}
	}()
	h.release = func() error {
		defer resp.Body.Close()
		// Not with ctx: a command interrupted (Ctrl-C) still lets the
		// snapshot go, rather than fail its release and say so.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		r, err := call(rctx, http.MethodDelete, "?id="+s.ID)
		if err != nil {
			return fmt.Errorf("release the gateway's snapshot %s: %w", s.Dir, err)
		}
		r.Body.Close()
		return nil
	}
	return s, h, nil
}

// DiskFree returns the bytes free to this account and the size of the
// file system that holds dir.
func DiskFree(dir string) (free, total uint64, err error) { return diskFree(dir) }
