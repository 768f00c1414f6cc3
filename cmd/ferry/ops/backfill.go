package ops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
)

// Journal remembers which files a backfill has already fed, by content
// hash, durably (queue/dedup's Set satisfies it). Because the key is the
// content, a re-run after a crash or Ctrl-C resumes where it stopped, and
// the same document exported twice under two names is sent once.
type Journal interface {
	Seen(key [32]byte) bool
	Add(key [32]byte) error
}

// BackfillOptions configures Backfill.
type BackfillOptions struct {
	// Source names the input in queue items and quarantine entries.
	// Default "backfill".
	Source string
	// Formats lists the Raw.Format values the pipeline converts; files of
	// other formats (and unrecognised files) are skipped and listed, not
	// quarantined: an old export folder holds all sorts of things.
	Formats map[string]bool
	// MaxInMemory is the size above which a file is streamed through
	// Raw.Open instead of read whole. Default 32 MiB.
	MaxInMemory int64
	// Progress, when set, is called before each file with the number of
	// files finished so far and the total.
	Progress func(done, total int, name string)
}

// BackfillResult counts what a backfill did.
type BackfillResult struct {
	Files       int      // regular files considered
	Queued      int      // converted and queued now
	AlreadyDone int      // fed by an earlier run (same content)
	Quarantined int      // could not be converted: kept in the quarantine with the reason
	Skipped     []string // not a format ferry converts (relative paths)
}

// Backfill feeds every file under dir, oldest path first, through the
// consumer (the same pipeline the folder sources use), without moving or
// changing the originals. It returns at the first retryable failure (queue
// full, disk error): running it again resumes from there.
func Backfill(ctx context.Context, dir string, c adapters.Consumer, j Journal, opts BackfillOptions) (BackfillResult, error) {
	if opts.Source == "" {
		opts.Source = "backfill"
	}
	if opts.MaxInMemory <= 0 {
		opts.MaxInMemory = 32 << 20
	}
	var res BackfillResult
	fi, err := os.Stat(dir)
	if err != nil {
		return res, fmt.Errorf("backfill %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("backfill %s: not a folder", dir)
	}
	files, err := listFiles(dir)
	if err != nil {
		return res, fmt.Errorf("backfill %s: %w", dir, err)
	}
	res.Files = len(files)
	for i, rel := range files {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("backfill interrupted after %d of %d files: %w", i, len(files), err)
		}
		if opts.Progress != nil {
			opts.Progress(i, len(files), rel)
		}
		path := filepath.Join(dir, rel)
		sum, size, head, err := hashFile(path)
		if err != nil {
			return res, fmt.Errorf("backfill %s: %w", rel, err)
		}
		key := journalKey(sum)
		if j.Seen(key) {
			res.AlreadyDone++
			continue
		}
		format := pipeline.Detect(rel, head)
		if format == "" || !opts.Formats[format] {
			res.Skipped = append(res.Skipped, rel)
			continue
		}
		in := adapters.Raw{
			Source:   opts.Source,
			Format:   format,
			Name:     rel,
			Received: time.Now().UTC(),
			Meta:     map[string]string{"backfill": "true", "sha256": fmt.Sprintf("%x", sum)},
			Size:     size,
			Open:     func() (io.ReadCloser, error) { return os.Open(path) },
		}
		if size <= opts.MaxInMemory {
			if in.Body, err = os.ReadFile(path); err != nil {
				return res, fmt.Errorf("backfill %s: %w", rel, err)
			}
		}
		err = c.Consume(ctx, in)
		switch {
		case err == nil:
			res.Queued++
		case queue.IsPermanent(err):
			// Kept in the quarantine with the reason: nothing is lost, and
			// a re-run would only quarantine it again.
			res.Quarantined++
		default:
			return res, fmt.Errorf("backfill %s: %w", rel, err)
		}
		if err := j.Add(key); err != nil {
			return res, fmt.Errorf("backfill %s: remember as done: %w", rel, err)
		}
	}
	if opts.Progress != nil {
		opts.Progress(len(files), len(files), "")
	}
	return res, nil
}

// journalKey namespaces content hashes so that backfill keys never collide
// with keys another user of the same set might derive.
func journalKey(sum [32]byte) [32]byte {
	return sha256.Sum256(append([]byte("ferry backfill v1\x00"), sum[:]...))
}

// listFiles returns the regular files under dir, relative and sorted,
// leaving out hidden files and folders (ferry's own .ferry/ work folders
// among them) and the temporary files editors and copy tools leave.
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || isTempName(name) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out, err
}

func isTempName(name string) bool {
	lower := strings.ToLower(name)
	for _, suf := range []string{"~", ".tmp", ".part", ".partial", ".crdownload", ".swp"} {
		if strings.HasSuffix(lower, suf) {
			return true
		}
	}
	return lower == "thumbs.db" || lower == "desktop.ini" || strings.HasPrefix(name, "~$")
}

// hashFile returns the SHA-256 of a file, its size and its first 4 KiB.
func hashFile(path string) (sum [32]byte, size int64, head []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, nil, err
	}
	defer f.Close()
	h := sha256.New()
	var hb bytes.Buffer
	n, err := io.Copy(h, io.TeeReader(f, &limitWriter{w: &hb, n: 4096}))
	if err != nil {
		return sum, 0, nil, err
	}
	h.Sum(sum[:0])
	return sum, n, hb.Bytes(), nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// ErrGatewayRunning explains why an offline queue operation cannot run.
var ErrGatewayRunning = errors.New("the gateway is running and holds the queue")
