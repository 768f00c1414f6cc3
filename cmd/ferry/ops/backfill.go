package ops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
)

// Journal remembers which files a backfill has already fed, durably
// (queue/dedup's Set satisfies it), so that a re-run after a crash or
// Ctrl-C resumes where it stopped. A file is keyed by its content, its
// path under the folder and its sidecars' contents: a fax inbox's file
// name (patterns) and sidecar name the patient, so the same image under
// two names is two inputs, as it is live. The same document exported
// twice under two names is fed twice and dropped the second time by the
// pipeline's duplicate filter, which keys each unit by its content.
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
	// Folder, when set, is the engine of the watched folder whose rules
	// the files are fed by (ferry backfill --folder): only the names it
	// takes as inputs (Include, Ignore, markers), each with its sidecars
	// (read whole, up to its MaxBodyBytes) and the engine's metadata
	// (folder.Meta*: folder name and kind, file name, modification
	// time), with Raw.Name the file's own name and no Format: the
	// consumer is that folder's source (its Feed), which classifies the
	// file or describes the fax as it does live. Without it the format is
	// detected from the content (pipeline.Detect).
	Folder *folder.Engine
	// Rank, when set, orders the files of each folder as a live folder
	// with folder.WithRank takes them: a FHIR Bulk Data export's files
	// in dependency order (ehrdrop.BulkRank), each other file in its
	// path-order place.
	Rank func(name string) int
}

// ErrNotConverted, wrapped in a consumer's error, says the input is of no
// format ferry converts: Backfill lists it as skipped, not quarantined.
var ErrNotConverted = errors.New("not a format ferry converts")

// ErrNotKept, wrapped in a consumer's permanent error, says the input was
// refused whole before any conversion and nothing of it was quarantined
// (a damaged ZIP archive, which a live EHR drop moves to failed/):
// Backfill lists it with the reason under Failed and does not remember it
// as done, so every run names it until it is dealt with.
var ErrNotKept = errors.New("refused whole; it stays in the export")

// ErrNotCopied, wrapped in a consumer's permanent error, says the input
// was quarantined without a copy of it (a streamed file, too large for
// the quarantine to keep), so that `ferry quarantine replay` cannot take
// it once the cause is fixed: Backfill counts it as quarantined, lists it
// under NotCopied and does not remember it as done, so the next run feeds
// it again.
var ErrNotCopied = errors.New("quarantined without a copy of it, too large to keep")

// BackfillResult counts what a backfill did.
type BackfillResult struct {
	Files       int      // regular files considered
	Queued      int      // converted and stored now: queued, held, or dropped as a duplicate of a unit queued before
	AlreadyDone int      // fed by an earlier run (same content)
	Quarantined int      // could not be converted: kept in the quarantine with the reason
	Skipped     []string // not a format ferry converts (relative paths)
	Failed      []string // refused whole and not quarantined (ErrNotKept)
	Unreadable  []string // could not be read (gone, no permission)
	NotCopied   []string // quarantined without a copy (ErrNotCopied), among Quarantined: fed again by the next run
	// Reasons says why each Failed and Unreadable path is there, and
	// why a Skipped one is when it is not of its format (a symbolic
	// link). It may quote the file's name, which may be the patient's.
	Reasons map[string]string
	// Hashes are the content SHA-256s (hex) of the paths listed above
	// that could be read, so that output without PHI can name a file as
	// `ferry quarantine list` and the folder sources' logs do.
	Hashes map[string]string
}

// FileError is the error Backfill stops with when a file could not be
// stored (queue full, disk error): Path names the file under the folder
// (its name may be the patient's), SHA256 its content when it was read.
type FileError struct {
	Path   string
	SHA256 string
	Err    error
}

func (e *FileError) Error() string { return "backfill " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

func (r *BackfillResult) note(list *[]string, rel, reason, sum string) {
	*list = append(*list, rel)
	if reason != "" {
		if r.Reasons == nil {
			r.Reasons = map[string]string{}
		}
		r.Reasons[rel] = reason
	}
	if sum != "" {
		if r.Hashes == nil {
			r.Hashes = map[string]string{}
		}
		r.Hashes[rel] = sum
	}
}

// Backfill feeds every file under dir, in path order (pathLess), through the
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
	files, err := listFiles(dir, &res)
	if err != nil {
		return res, fmt.Errorf("backfill %s: %w", dir, err)
	}
	sidecars := map[string][]string{} // input path without extension -> sidecar paths
	if opts.Folder != nil {
		files, sidecars = splitSidecars(files, opts.Folder, &res)
	}
	if opts.Rank != nil {
		files = rankFiles(files, opts.Rank)
	}
	res.Files = len(files)
	// The content last taken under each name, and every content taken,
	// in path order, an earlier run's files included: a file whose
	// content was taken before, after another under its name (a nightly
	// export undoing the night before's change, byte for byte an earlier
	// night's), is marked retaken as the live folder marks it
	// (folder.MetaRetaken), or the pipeline drops its units as that
	// earlier file's.
	last := map[string][32]byte{}
	taken := map[[32]byte]bool{}
	for i, rel := range files {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("backfill interrupted after %d of %d files: %w", i, len(files), err)
		}
		if opts.Progress != nil {
			opts.Progress(i, len(files), rel)
		}
		path := filepath.Join(dir, rel)
		sum, size, mtime, head, err := hashFile(path)
		if err != nil {
			res.note(&res.Unreadable, rel, unreadable(err), "")
			continue
		}
		hexSum := fmt.Sprintf("%x", sum)
		var scs map[string][]byte
		var scNames []string
		var scErr string
		for _, sc := range sidecars[strings.TrimSuffix(rel, filepath.Ext(rel))] {
			b, err := readSidecar(filepath.Join(dir, sc), opts.Folder.Config().MaxBodyBytes)
			if err != nil {
				scErr = "sidecar " + sc + ": " + unreadable(err)
				break
			}
			if scs == nil {
				scs = map[string][]byte{}
			}
			scs[filepath.Base(sc)] = b
			scNames = append(scNames, filepath.Base(sc))
		}
		if scErr != "" {
			res.note(&res.Unreadable, rel, scErr, hexSum)
			continue
		}
		key := journalKey(sum, rel, scs)
		content, base := journalKey(sum, "", scs), filepath.Base(rel)
		prev, named := last[base]
		retaken := named && prev != content && taken[content]
		if j.Seen(key) || (opts.Folder == nil && j.Seen(journalKeyV1(sum))) {
			res.AlreadyDone++
			last[base], taken[content] = content, true
			continue
		}
		in := adapters.Raw{
			Source:   opts.Source,
			Name:     rel,
			Received: time.Now().UTC(),
			Meta:     map[string]string{"backfill": "true", "sha256": hexSum},
			Size:     size,
			Open:     func() (io.ReadCloser, error) { return openRead(path) },
			Sidecars: scs,
		}
		if retaken {
			in.Meta[folder.MetaRetaken] = hex.EncodeToString(prev[:16])
		}
		if opts.Folder == nil {
			in.Format = pipeline.Detect(rel, head)
			if in.Format == "" || !opts.Formats[in.Format] {
				res.note(&res.Skipped, rel, "", hexSum)
				continue
			}
		} else {
			fc := opts.Folder.Config()
			in.Name = filepath.Base(rel)
			in.Meta[folder.MetaFolder] = fc.Name
			in.Meta[folder.MetaKind] = fc.Kind
			in.Meta[folder.MetaFile] = in.Name
			in.Meta[folder.MetaSize] = strconv.FormatInt(size, 10)
			in.Meta[folder.MetaSHA256] = in.Meta["sha256"]
			in.Meta[folder.MetaModTime] = mtime.UTC().Format(time.RFC3339Nano)
			if len(scNames) > 0 {
				sort.Strings(scNames)
				in.Meta[folder.MetaSidecars] = strings.Join(scNames, ",")
			}
		}
		if size <= opts.MaxInMemory {
			if in.Body, err = os.ReadFile(path); err != nil {
				res.note(&res.Unreadable, rel, unreadable(err), hexSum)
				continue
			}
		}
		err = c.Consume(ctx, in)
		switch {
		case err == nil:
			res.Queued++
		case errors.Is(err, ErrNotConverted):
			res.note(&res.Skipped, rel, "", hexSum)
			continue
		case errors.Is(err, ErrNotKept):
			res.note(&res.Failed, rel, strings.TrimPrefix(err.Error(), ErrNotKept.Error()+": "), hexSum)
			continue
		case errors.Is(err, ErrNotCopied):
			// The quarantine cannot replay it: the export's copy is
			// the one left, which the next run feeds.
			res.Quarantined++
			res.note(&res.NotCopied, rel, "", hexSum)
			continue
		case adapters.IsReadError(err):
			// The file could not be read while it was converted (the
			// share it is on dropped): not its content's fault, and
			// not done; the next run feeds it.
			res.note(&res.Unreadable, rel, unreadable(err), hexSum)
			continue
		case queue.IsPermanent(err):
			// Kept in the quarantine with the reason: nothing is lost, and
			// a re-run would only quarantine it again.
			res.Quarantined++
		default:
			return res, &FileError{Path: rel, SHA256: hexSum, Err: err}
		}
		if err := j.Add(key); err != nil {
			return res, &FileError{Path: rel, SHA256: hexSum, Err: fmt.Errorf("remember as done: %w", err)}
		}
		last[base], taken[content] = content, true
	}
	if opts.Progress != nil {
		opts.Progress(len(files), len(files), "")
	}
	if len(res.Unreadable) > 0 {
		return res, fmt.Errorf("backfill %s: %d file(s) could not be read (the others were fed): make them readable and run it again", dir, len(res.Unreadable))
	}
	return res, nil
}

// unreadable is the reason Backfill gives for a file it could not read:
// the system's, without the absolute path the error repeats.
// openRead opens path for the consumer to read (Raw.Open): every error
// reading it is an *adapters.ReadError, as the folder engine's are.
func openRead(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &adapters.ReadError{Err: err}
	}
	return adapters.ReadErrorsOf(f), nil
}

func unreadable(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}

// journalKey is a file's key in the journal: its content hash, its path
// under the folder (slashes, so a journal outlives a move between
// systems) and its sidecars' content hashes, namespaced so that backfill
// keys never collide with keys another user of the same set might derive.
func journalKey(sum [32]byte, rel string, sidecars map[string][]byte) [32]byte {
	parts := [][]byte{[]byte("ferry backfill v2"), sum[:], []byte(filepath.ToSlash(rel))}
	digests := make([][32]byte, 0, len(sidecars))
	for _, b := range sidecars {
		digests = append(digests, sha256.Sum256(b))
	}
	sort.Slice(digests, func(a, b int) bool { return bytes.Compare(digests[a][:], digests[b][:]) < 0 })
	for _, d := range digests {
		parts = append(parts, d[:])
	}
	return dedup.KeyOf(parts...)
}

// journalKeyV1 is the key of the journals of earlier versions, by content
// alone: a file one of them fed counts as done outside --folder, where
// neither its name nor a sidecar changed what it became.
func journalKeyV1(sum [32]byte) [32]byte {
	return sha256.Sum256(append([]byte("ferry backfill v1\x00"), sum[:]...))
}

// splitSidecars takes the files of an export the way the watched folder
// eng takes its inbox: sidecars go with the input of the same stem in the
// same folder, and names it does not take (and sidecars with no input)
// are listed as skipped.
func splitSidecars(files []string, eng *folder.Engine, res *BackfillResult) (inputs []string, sidecars map[string][]string) {
	sidecars = map[string][]string{}
	stems := map[string]bool{}
	var scs []string
	for _, rel := range files {
		base := filepath.Base(rel)
		switch {
		case eng.IsSidecar(base):
			scs = append(scs, rel)
		case eng.IsInput(base):
			inputs = append(inputs, rel)
			stems[strings.TrimSuffix(rel, filepath.Ext(rel))] = true
		default:
			res.note(&res.Skipped, rel, "", "")
		}
	}
	for _, sc := range scs {
		stem := strings.TrimSuffix(sc, filepath.Ext(sc))
		if !stems[stem] {
			res.note(&res.Skipped, sc, "", "")
			continue
		}
		sidecars[stem] = append(sidecars[stem], sc)
	}
	return inputs, sidecars
}

// readSidecar reads a sidecar whole, refusing one above limit (0: no
// limit) as the folder engine does.
func readSidecar(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	b, err := io.ReadAll(r)
	if err == nil && limit > 0 && int64(len(b)) > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	return b, err
}

// listFiles returns the regular files under dir, relative and sorted
// (what cannot be listed goes to res.Unreadable),
// leaving out hidden files and folders (ferry's own .ferry/ work folders
// among them) and the temporary files editors and copy tools leave.
func listFiles(dir string, res *BackfillResult) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			// A sub-folder that cannot be listed is reported, as a
			// file that cannot be read is, and the rest goes on.
			rel, _ := filepath.Rel(dir, p)
			res.note(&res.Unreadable, rel+string(filepath.Separator), unreadable(err), "")
			return nil
		}
		name := d.Name()
		if p != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || isTempName(name) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			// Not followed: a link may lead out of the folder, or to
			// a file fed already. Listed, so that nothing is left out
			// unseen.
			why := "not a regular file"
			if d.Type()&fs.ModeSymlink != 0 {
				why = "a symbolic link"
			}
			res.note(&res.Skipped, rel, why, "")
			return nil
		}
		out = append(out, rel)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return pathLess(out[i], out[j]) })
	return out, err
}

// rankFiles reorders files (relative paths in path order) folder by
// folder as folder.RankOrder does, by their base names.
func rankFiles(files []string, rank func(string) int) []string {
	byDir := map[string][]int{}
	var dirs []string
	for i, f := range files {
		d := filepath.Dir(f)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], i)
	}
	out := make([]string, len(files))
	copy(out, files)
	for _, d := range dirs {
		at := byDir[d]
		names := make([]string, len(at))
		for k, i := range at {
			names[k] = filepath.Base(files[i])
		}
		for k, j := range folder.RankOrder(names, rank) {
			out[at[k]] = files[at[j]]
		}
	}
	return out
}

// pathLess orders relative paths folder by folder, each name in number
// order (naturalCompare), as a file manager lists them: exports number
// their files and folders without leading zeros (ADT_9, ADT_10; 2019/2,
// 2019/12), and in byte order a later message (ADT_10, an A08) went
// before an earlier one (ADT_9, its A01) of the same patient, whose
// bundles the exchange applies in queue order.
func pathLess(a, b string) bool {
	as := strings.Split(filepath.ToSlash(a), "/")
	bs := strings.Split(filepath.ToSlash(b), "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := naturalCompare(as[i], bs[i]); c != 0 {
			return c < 0
		}
		if as[i] != bs[i] { // the same but for leading zeros
			return as[i] < bs[i]
		}
	}
	return len(as) < len(bs)
}

// naturalCompare compares two names with runs of digits as numbers
// ("9" < "10") and everything else by bytes; names that differ only in
// leading zeros compare equal (pathLess then orders them by bytes).
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if c := cmpInt(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmpInt(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmpInt(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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

// hashFile returns the SHA-256 of a file, its size, its modification
// time and its first 4 KiB.
func hashFile(path string) (sum [32]byte, size int64, mtime time.Time, head []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, mtime, nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		mtime = fi.ModTime()
	}
	h := sha256.New()
	var hb bytes.Buffer
	n, err := io.Copy(h, io.TeeReader(f, &limitWriter{w: &hb, n: 4096}))
	if err != nil {
		return sum, 0, mtime, nil, err
	}
	h.Sum(sum[:0])
	return sum, n, mtime, hb.Bytes(), nil
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
