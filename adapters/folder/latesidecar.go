package folder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// lateSidecarMemory is how long the engine remembers an input it took,
// for a sidecar of its name that comes after it.
const lateSidecarMemory = 24 * time.Hour

// lateSidecars settles the sidecars that came after their input was
// taken (a cloud fax's webhook writing x.json after x.pdf was claimed):
// they cannot go with it any more, and left in the folder they would lie
// there unseen, then be taken with the next input of that name as if
// they were its own. A sidecar of a stem this engine took, with no input
// of that stem in the folder or in processing/, that has waited for one
// for emptyLimit (the next x.pdf, written after its x.json, comes in
// that time) goes to failed/ with a reason naming the input it came too
// late for. stems counts the inputs in the folder by stem.
func (e *Engine) lateSidecars(sidecars map[string][]string, stems map[string]int, now time.Time, soon func(time.Time)) {
	if now.Sub(e.takenPrun) > time.Minute {
		e.takenPrun = now
		for st, tk := range e.taken {
			if now.Sub(tk.at) > lateSidecarMemory {
				delete(e.taken, st)
			}
		}
	}
	for st, scs := range sidecars {
		if stems[st] > 0 || e.stemClaimed(st) {
			continue
		}
		tk, ok := e.taken[st]
		if !ok {
			tk, ok = e.takenBefore(st, now)
		}
		if !ok {
			continue
		}
		for _, sc := range scs {
			o := e.seen[sc]
			at := o.first.Add(e.emptyLimit)
			if s := o.since.Add(e.cfg.Settle); s.After(at) {
				at = s
			}
			if now.Before(at) {
				soon(at)
				continue
			}
			e.failLateSidecar(sc, tk)
		}
	}
}

// takenKey is the seen-set's record that an input of stem stem was
// taken on day (YYYY-MM-DD, local) by a run of this folder (markTaken).
func takenKey(stem, day string) [32]byte {
	h := sha256.New()
	h.Write([]byte("ferry seen-set: an input of this stem taken on this day\x00"))
	h.Write([]byte(day + "\x00" + stem))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// markTaken records, durably, that an input of name's stem was taken
// today, when the folder has sidecars: taken is the run's own, and a
// sidecar that comes after a restart for an input taken before it is
// known for a late one by this record (takenBefore). Without it, such a
// sidecar lay in the folder and went with the next input of its name.
func (e *Engine) markTaken(name string) {
	if len(e.cfg.Sidecars) == 0 {
		return
	}
	if err := e.dedup.Add(takenKey(stemOf(name), time.Now().Format(time.DateOnly))); err != nil {
		e.log.Warn("folder seen-set not updated", "folder", e.cfg.Name, e.logErr(err, nil, name))
	}
}

// takenBefore reports whether an input of stem st was taken today or
// yesterday, by an earlier run (markTaken): the day stands for the
// time, and the input's full name is not known.
func (e *Engine) takenBefore(st string, now time.Time) (takenInput, bool) {
	for _, day := range []time.Time{now, now.AddDate(0, 0, -1)} {
		if e.dedup.Seen(takenKey(st, day.Format(time.DateOnly))) {
			return takenInput{stem: st, day: day.Format(time.DateOnly)}, true
		}
	}
	return takenInput{}, false
}

// failLateSidecar moves the sidecar sc, which came after tk was taken,
// from the folder to failed/, its reason written first beside it. A
// move that fails leaves it in the folder for the next pass.
func (e *Engine) failLateSidecar(sc string, tk takenInput) {
	folder := place{e.watched, "."}
	var sum []byte
	var size int64
	if f, err := openRegular(folder, sc); err == nil {
		h := sha256.New()
		size, err = io.Copy(h, f)
		f.Close()
		if err == nil {
			sum = h.Sum(nil)
		}
	}
	dir := e.failedP
	err := func() error {
		if err := mkdirAllIn(dir.root, dir.dir, 0o700); err != nil {
			return err
		}
		defer lockArchive(e.paths.Failed)()
		// A move that failed before left its reason: taken back, as
		// fail does, rather than another written beside it each pass.
		reclaimReason(dir, uniqueName(dir, sc, nil, nil), sum)
		final := uniqueName(dir, sc, nil, []string{".error.txt"})
		var b strings.Builder
		fmt.Fprintf(&b, "file: %s\n", sc)
		if final != sc {
			fmt.Fprintf(&b, "stored as: %s\n", final)
		}
		fmt.Fprintf(&b, "source: %s\n", e.id)
		fmt.Fprintf(&b, "failed at: %s\n", time.Now().UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "size: %d\n", size)
		fmt.Fprintf(&b, "sha256: %s\n", hex.EncodeToString(sum))
		if tk.name != "" {
			fmt.Fprintf(&b, "reason: "+lateReason+"%s was taken (%s), so %s went without it; "+
				"to send it with this sidecar, put the two in the folder again together (%s is in the done folder, or the failed one if it was refused, unless the folder deletes what it took)\n",
				tk.name, tk.at.UTC().Format(time.RFC3339), tk.name, tk.name)
		} else {
			fmt.Fprintf(&b, "reason: "+lateReason+"the input of its name (%s.*) was taken (on %s, before ferry restarted), so that input went without it; "+
				"to send it with this sidecar, put the two in the folder again together (the input is in the done folder, or the failed one if it was refused, unless the folder deletes what it took)\n",
				tk.stem, tk.day)
		}
		if err := writeFileIn(dir, final+".error.txt", []byte(b.String()), 0o600); err != nil {
			return err
		}
		_ = ownerOnly(folder, sc, 0o600)
		if err := moveIn(folder, sc, dir, final); err != nil {
			return err
		}
		if err := syncDirIn(dir); err != nil {
			return err
		}
		return syncDirIn(folder)
	}()
	if err != nil {
		e.log.Warn("folder sidecar that came after its input was taken not moved to failed; tried again", "folder", e.cfg.Name, e.logErr(err, sum, sc))
		return
	}
	delete(e.seen, sc)
	e.stats.failed.Add(1)
	e.log.Warn("folder sidecar came after its input was taken, which went without it; moved to failed, see the .error.txt beside it",
		"folder", e.cfg.Name, e.logName(sc, sum), "failed_dir", e.paths.Failed)
}
