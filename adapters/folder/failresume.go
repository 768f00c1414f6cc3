package folder

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
)

// cutFail is a failure whose moves a crash may have cut short: fail (and
// failLateSidecar) write the reason to failed/ first and move the files
// after, so the reason may be there and the file it names not, or not
// only (a move to a failed_dir on another volume, or on Windows to any
// failed_dir, is a copy, then the original's removal). For an input with
// sidecars fail moves them before the input, so some may be there and
// the input still in processing/; a late sidecar may still be in the
// watched folder.
type cutFail struct {
	sum      string // the file's content, as its reason gives it (hex)
	final    string // the file's name in failed/: its reason's, less .error.txt
	sidecars string // the sidecars the reason lists, as named in processing/ (fail's "a, b")
	reason   string // the reason's "reason:" line
}

// cutFails are the reasons in failed/ that a cut-short failure may have
// left: read at the first pass where their file is not beside them,
// and by the name of the file they name when it is (byBase).
type cutFails struct {
	byFile map[string][]cutFail // read, by the file each names
	byBase map[string][]string  // not read yet (their file is there), by that file's name less ~N
}

// lateReason begins the reason of a sidecar that came after its input
// was taken (failLateSidecar).
const lateReason = "a sidecar that came after "

// cutFailOf returns the cut-short failure of name, an input of content
// sum claimed by an earlier run and found in processing/ with the
// sidecars scNames, if failed/ holds its reason, written by this
// source, listing sidecars of which some are no longer in processing/
// (their moves had begun), and the input is not beside it, or is with
// this content (copied there, not yet removed here). Consumed again, it
// went without them.
func (e *Engine) cutFailOf(name string, sum []byte, scNames []string) (cutFail, bool, error) {
	if err := e.loadCutFails(); err != nil {
		return cutFail{}, false, err
	}
	for _, f := range e.cutFailsOf(name) {
		// Both sorted, by sidecarsIn: the same list when no move had
		// begun.
		if f.sum != hex.EncodeToString(sum) || f.sidecars == "" || strings.Join(scNames, ", ") == f.sidecars {
			continue
		}
		if existsIn(e.failedP, f.final) && !sameContent(e.failedP, f.final, sum) {
			continue
		}
		return f, true, nil
	}
	return cutFail{}, false, nil
}

// cutFailsOf returns the reasons in failed/ naming the file name.
func (e *Engine) cutFailsOf(name string) []cutFail {
	for _, r := range e.cutFails.byBase[name] {
		if f, file, ok := e.readCutFail(r); ok {
			e.cutFails.byFile[file] = append(e.cutFails.byFile[file], f)
		}
	}
	delete(e.cutFails.byBase, name)
	return e.cutFails.byFile[name]
}

// forgetCutFail drops f, done with, from the reasons naming name.
func (e *Engine) forgetCutFail(name string, f cutFail) {
	list := e.cutFails.byFile[name]
	for i := range list {
		if list[i] == f {
			e.cutFails.byFile[name] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(e.cutFails.byFile[name]) == 0 {
		delete(e.cutFails.byFile, name)
	}
}

// loadCutFails lists failed/, once, and reads the reasons whose file is
// not beside them; the others are read when an input or sidecar of their
// file's name asks (cutFailsOf).
func (e *Engine) loadCutFails() error {
	if e.cutFails.byFile != nil {
		return nil
	}
	c := cutFails{byFile: map[string][]cutFail{}, byBase: map[string][]string{}}
	entries, err := readDirIn(e.failedP)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list failed folder: %w", err)
	}
	there := make(map[string]bool, len(entries))
	for _, de := range entries {
		there[de.Name()] = true
	}
	for _, de := range entries {
		final, ok := strings.CutSuffix(de.Name(), ".error.txt")
		if !ok || !de.Type().IsRegular() {
			continue
		}
		if there[final] {
			c.byBase[unnumbered(final)] = append(c.byBase[unnumbered(final)], de.Name())
		} else if f, file, ok := e.readCutFail(de.Name()); ok {
			c.byFile[file] = append(c.byFile[file], f)
		}
	}
	e.cutFails = c
	return nil
}

// unnumbered is name without the "~N" uniqueName put before its
// extension.
func unnumbered(name string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if i := strings.LastIndexByte(stem, '~'); i > 0 && i < len(stem)-1 && strings.Trim(stem[i+1:], "0123456789") == "" {
		stem = stem[:i]
	}
	return stem + ext
}

// readCutFail reads the reason in failed/ named reason, if this source
// wrote it, and returns it with the name of the file it names.
func (e *Engine) readCutFail(reason string) (cutFail, string, bool) {
	f, err := openRegular(e.failedP, reason)
	if err != nil {
		return cutFail{}, "", false
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	f.Close()
	if err != nil {
		return cutFail{}, "", false
	}
	var file, source string
	cf := cutFail{final: strings.TrimSuffix(reason, ".error.txt")}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case "file":
			file = v
		case "source":
			source = v
		case "sha256":
			cf.sum = v
		case "sidecars":
			cf.sidecars = v
		case "reason":
			cf.reason = v
		}
		if k == "reason" {
			break // the rest is the reason's own text
		}
	}
	if file == "" || cf.sum == "" || source != e.id {
		return cutFail{}, "", false
	}
	return cf, file, true
}

// sameContent reports whether name in p holds content sum.
func sameContent(p place, name string, sum []byte) bool {
	got, err := sumOf(p, name)
	return err == nil && bytes.Equal(got, sum)
}

// finishFailedMoves ends the moves of files from from to failed/ (each
// files[i] to dsts[i], in order) that a crash cut short: a file not
// there yet is moved, one there already with its content (copied, the
// original not yet removed) is removed here. It reports false, moving
// nothing, when a name there holds other content.
func (e *Engine) finishFailedMoves(from place, files, dsts []string) (bool, error) {
	dir := e.failedP
	copied := make([]bool, len(files))
	for i, f := range files {
		if !existsIn(dir, dsts[i]) {
			continue
		}
		sum, err := sumOf(from, f)
		if err != nil {
			return false, err
		}
		if !sameContent(dir, dsts[i], sum) {
			return false, nil
		}
		copied[i] = true
	}
	for i, f := range files {
		if copied[i] {
			if err := from.root.Remove(from.join(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("remove %s, copied already: %w", f, err)
			}
			continue
		}
		_ = ownerOnly(from, f, 0o600)
		if err := moveIn(from, f, dir, dsts[i]); err != nil {
			return false, err
		}
	}
	if err := syncDirIn(dir); err != nil {
		return false, err
	}
	return true, syncDirIn(from)
}

// finishCutFail moves name, an input whose failure a crash cut short
// (cutFailOf), with the sidecars still beside it, to failed/ under the
// name its reason and its sidecars there have. Should a name there hold
// something else, it fails anew under another name, for the reason it
// failed for.
func (e *Engine) finishCutFail(name string, scNames []string, sum []byte, size int64, f cutFail) {
	stem, fstem := stemOf(name), stemOf(f.final)
	var dsts []string
	for _, sc := range scNames {
		dsts = append(dsts, fstem+strings.TrimPrefix(sc, stem))
	}
	ok, err := e.finishFailedMoves(e.proc, append(scNames, name), append(dsts, f.final))
	if err != nil {
		e.backoff(name, sum, fmt.Errorf("move to failed: %w", err))
		return
	}
	e.forgetCutFail(name, f)
	if !ok {
		e.fail(name, scNames, sum, size, fmt.Errorf("%s (its move to failed/ was cut short by a stop of ferry after sidecars of it were moved there, beside the reason %s.error.txt)", f.reason, f.final))
		return
	}
	delete(e.retry, name)
	e.stats.failed.Add(1)
	e.log.Warn("folder input refused for good before a stop that cut its move to failed/ short moved there beside its sidecars, not consumed again; see the .error.txt beside it",
		"folder", e.cfg.Name, e.logName(name, sum), "failed_dir", e.paths.Failed)
}

// cutLateSidecars finishes the moves to failed/ of the sidecars in the
// folder at the start that came after their input was taken, whose
// reasons an earlier run wrote before a crash cut the moves short: the
// run that knew the input they came too late for is gone, and left in
// the folder they would go with the next input of their name. Those
// moved are taken out of sidecars (stem → names in the folder). Only
// the first listing is looked at, and what could not be moved then is
// tried again after.
func (e *Engine) cutLateSidecars(sidecars map[string][]string) {
	folder := place{e.watched, "."}
	if !e.lateLooked {
		e.lateLooked = true
		if len(sidecars) == 0 || e.loadCutFails() != nil {
			return
		}
		for _, scs := range sidecars {
			for _, sc := range scs {
				for _, f := range e.cutFailsOf(sc) {
					if strings.HasPrefix(f.reason, lateReason) {
						if e.lateLeft == nil {
							e.lateLeft = map[string]cutFail{}
						}
						e.lateLeft[sc] = f
					}
				}
			}
		}
	}
	for st, scs := range sidecars {
		for _, sc := range scs {
			f, ok := e.lateLeft[sc]
			if !ok {
				continue
			}
			sum, err := sumOf(folder, sc)
			if err != nil || hex.EncodeToString(sum) != f.sum {
				delete(e.lateLeft, sc) // another file now
				continue
			}
			done, err := e.finishFailedMoves(folder, []string{sc}, []string{f.final})
			if err != nil {
				e.log.Warn("folder sidecar that came after its input was taken not moved to failed; tried again", "folder", e.cfg.Name, e.logErr(err, sum, sc))
				continue
			}
			delete(e.lateLeft, sc)
			e.forgetCutFail(sc, f)
			if !done {
				continue // failed/ holds another file of that name: not this one's
			}
			delete(e.seen, sc)
			sidecars[st] = deleteName(sidecars[st], sc)
			if len(sidecars[st]) == 0 {
				delete(sidecars, st)
			}
			e.stats.failed.Add(1)
			e.log.Warn("folder sidecar that came after its input was taken, whose move to failed/ a stop cut short, moved there beside its reason; see the .error.txt beside it",
				"folder", e.cfg.Name, e.logName(sc, sum), "failed_dir", e.paths.Failed)
		}
	}
	for sc := range e.lateLeft {
		if !slicesHas(sidecars[stemOf(sc)], sc) {
			delete(e.lateLeft, sc) // gone from the folder
		}
	}
}

func slicesHas(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func deleteName(names []string, name string) []string {
	out := names[:0:0]
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// sumOf is the SHA-256 of the file name in p.
func sumOf(p place, name string) ([]byte, error) {
	f, err := openRegular(p, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
