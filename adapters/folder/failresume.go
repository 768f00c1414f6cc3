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
	"strings"
)

// cutFail is a failure whose moves a crash cut short: its reason, which
// fail (and failLateSidecar) write first, is in failed/, and the file it
// names is not beside it. For an input with sidecars fail moves them
// before the input, so some may be there and the input still in
// processing/; a late sidecar may still be in the watched folder.
type cutFail struct {
	sum      string // the file's content, as its reason gives it (hex)
	final    string // the file's name in failed/: its reason's, less .error.txt
	sidecars string // the sidecars the reason lists, as named in processing/ (fail's "a, b")
	reason   string // the reason's "reason:" line
}

// lateReason begins the reason of a sidecar that came after its input
// was taken (failLateSidecar).
const lateReason = "a sidecar that came after "

// cutFailOf returns the cut-short failure of name, an input of content
// sum claimed by an earlier run and found in processing/ with the
// sidecars scNames, if failed/ holds its reason, written by this
// source, listing sidecars of which some are no longer in processing/
// (their moves had begun). Consumed again, it went without them.
func (e *Engine) cutFailOf(name string, sum []byte, scNames []string) (cutFail, bool, error) {
	if err := e.loadCutFails(); err != nil {
		return cutFail{}, false, err
	}
	for _, f := range e.cutFails[name] {
		// Both sorted, by sidecarsIn: the same list when no move had
		// begun.
		if f.sum == hex.EncodeToString(sum) && f.sidecars != "" && strings.Join(scNames, ", ") != f.sidecars {
			return f, true, nil
		}
	}
	return cutFail{}, false, nil
}

// forgetCutFail drops f, done with, from the cut-short failures of name.
func (e *Engine) forgetCutFail(name string, f cutFail) {
	list := e.cutFails[name]
	for i := range list {
		if list[i] == f {
			e.cutFails[name] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(e.cutFails[name]) == 0 {
		delete(e.cutFails, name)
	}
}

// loadCutFails reads, once, the reasons in failed/ whose file is not
// beside them: the failures a crash may have cut short. Only those are
// read.
func (e *Engine) loadCutFails() error {
	if e.cutFails != nil {
		return nil
	}
	out := map[string][]cutFail{}
	dir := e.failedP
	entries, err := readDirIn(dir)
	if errors.Is(err, fs.ErrNotExist) {
		e.cutFails = out
		return nil
	}
	if err != nil {
		return fmt.Errorf("list failed folder: %w", err)
	}
	there := make(map[string]bool, len(entries))
	for _, de := range entries {
		there[de.Name()] = true
	}
	for _, de := range entries {
		final, ok := strings.CutSuffix(de.Name(), ".error.txt")
		if !ok || there[final] || !de.Type().IsRegular() {
			continue
		}
		f, err := openRegular(dir, de.Name())
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(f, 64<<10))
		f.Close()
		if err != nil {
			continue
		}
		var file, source string
		cf := cutFail{final: final}
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
			continue
		}
		out[file] = append(out[file], cf)
	}
	e.cutFails = out
	return nil
}

// finishCutFail moves name, an input whose failure a crash cut short
// (cutFailOf), with the sidecars still beside it, to failed/ under the
// name its reason and its sidecars there have. Should a name there be
// taken meanwhile, it fails anew under another name, for the reason it
// failed for.
func (e *Engine) finishCutFail(name string, scNames []string, sum []byte, size int64, f cutFail) {
	dir := e.failedP
	taken := existsIn(dir, f.final)
	stem, fstem := stemOf(name), stemOf(f.final)
	for _, sc := range scNames {
		taken = taken || existsIn(dir, fstem+strings.TrimPrefix(sc, stem))
	}
	if taken {
		e.forgetCutFail(name, f)
		e.fail(name, scNames, sum, size, fmt.Errorf("%s (its move to failed/ was cut short by a stop of ferry after sidecars of it were moved there, beside the reason %s.error.txt)", f.reason, f.final))
		return
	}
	if err := e.moveAs(name, scNames, dir, f.final); err != nil {
		e.backoff(name, sum, fmt.Errorf("move to failed: %w", err))
		return
	}
	e.forgetCutFail(name, f)
	delete(e.retry, name)
	e.stats.failed.Add(1)
	e.log.Warn("folder input refused for good before a stop that cut its move to failed/ short moved there beside its sidecars, not consumed again; see the .error.txt beside it",
		"folder", e.cfg.Name, e.logName(name, sum), "failed_dir", e.paths.Failed)
}

// cutLateSidecars finishes the moves to failed/ of the sidecars in the
// folder that came after their input was taken, whose reasons an
// earlier run wrote before a crash cut the moves short: the run that
// knew the input they came too late for is gone, and left in the folder
// they would go with the next input of their name. Those moved are
// taken out of sidecars (stem → names in the folder).
func (e *Engine) cutLateSidecars(sidecars map[string][]string) {
	if len(e.cutFails) == 0 {
		return
	}
	folder := place{e.watched, "."}
	for st, scs := range sidecars {
		for _, sc := range scs {
			var late cutFail
			for _, f := range e.cutFails[sc] {
				if strings.HasPrefix(f.reason, lateReason) {
					late = f
				}
			}
			if late.final == "" || existsIn(e.failedP, late.final) {
				continue
			}
			sum, err := sumOf(folder, sc)
			if err != nil || hex.EncodeToString(sum) != late.sum {
				continue
			}
			_ = ownerOnly(folder, sc, 0o600)
			err = moveIn(folder, sc, e.failedP, late.final)
			if err == nil {
				err = syncDirIn(e.failedP)
			}
			if err == nil {
				err = syncDirIn(folder)
			}
			if err != nil {
				e.log.Warn("folder sidecar that came after its input was taken not moved to failed; tried again", "folder", e.cfg.Name, e.logErr(err, sum, sc))
				continue
			}
			e.forgetCutFail(sc, late)
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
