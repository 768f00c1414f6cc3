package folder

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// cutFail is a failure of an input with sidecars whose moves a crash cut
// short: fail writes the reason, moves the sidecars to failed/ and then
// the input, so the reason (and some sidecars) are in failed/ and the
// input is still in processing/.
type cutFail struct {
	final    string // the input's name in failed/: its reason's, less .error.txt
	sidecars string // the sidecars the reason lists, as named in processing/ (fail's "a, b")
	reason   string // the reason's "reason:" line, for a fallback
}

// cutFailKey keys a cut-short failure by the input's name and content.
func cutFailKey(name string, sum []byte) string { return name + "\x00" + hex.EncodeToString(sum) }

// cutFailOf returns the cut-short failure of name (content sum), claimed
// by an earlier run and found in processing/ with the sidecars scNames,
// if failed/ holds its reason, written by this source, listing sidecars
// of which some are no longer in processing/ (their moves had begun),
// and not the input beside it. Consumed again, it went without them.
func (e *Engine) cutFailOf(name string, sum []byte, scNames []string) (cutFail, bool, error) {
	if e.cutFails == nil {
		m, err := e.listCutFails()
		if err != nil {
			return cutFail{}, false, err
		}
		e.cutFails = m
	}
	f, ok := e.cutFails[cutFailKey(name, sum)]
	if !ok {
		return cutFail{}, false, nil
	}
	// Both sorted, by sidecarsIn: the same list when no move had begun.
	return f, strings.Join(scNames, ", ") != f.sidecars, nil
}

// listCutFails reads the reasons in failed/ whose input is not beside
// them and that list sidecars: the failures a crash may have cut short.
// Only they are read, once, for the inputs an earlier run left in
// processing/.
func (e *Engine) listCutFails() (map[string]cutFail, error) {
	out := map[string]cutFail{}
	dir := e.failedP
	entries, err := readDirIn(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list failed folder: %w", err)
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
		var file, source, sum string
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
				sum = v
			case "sidecars":
				cf.sidecars = v
			case "reason":
				cf.reason = v
			}
			if k == "reason" {
				break // the rest is the reason's own text
			}
		}
		if file == "" || sum == "" || source != e.id || len(cf.sidecars) == 0 {
			continue
		}
		out[file+"\x00"+sum] = cf
	}
	return out, nil
}

// finishCutFail moves name, an input whose failure a crash cut short
// (cutFailOf), with the sidecars still beside it, to failed/ under the
// name its reason and its sidecars there have. Should a name there be
// taken meanwhile, it fails anew under another name, for the reason it
// failed for.
func (e *Engine) finishCutFail(name string, scNames []string, sum []byte, size int64, f cutFail) {
	delete(e.cutFails, cutFailKey(name, sum))
	dir := e.failedP
	taken := existsIn(dir, f.final)
	stem, fstem := stemOf(name), stemOf(f.final)
	for _, sc := range scNames {
		taken = taken || existsIn(dir, fstem+strings.TrimPrefix(sc, stem))
	}
	if taken {
		e.fail(name, scNames, sum, size, fmt.Errorf("%s (its move to failed/ was cut short by a stop of ferry after sidecars of it were moved there, beside the reason %s.error.txt)", f.reason, f.final))
		return
	}
	if err := e.moveAs(name, scNames, dir, f.final); err != nil {
		e.cutFails[cutFailKey(name, sum)] = f
		e.backoff(name, sum, fmt.Errorf("move to failed: %w", err))
		return
	}
	delete(e.retry, name)
	e.stats.failed.Add(1)
	e.log.Warn("folder input refused for good before a stop that cut its move to failed/ short moved there beside its sidecars, not consumed again; see the .error.txt beside it",
		"folder", e.cfg.Name, e.logName(name, sum), "failed_dir", e.paths.Failed)
}
