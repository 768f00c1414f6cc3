package folder

import (
	"runtime"
	"slices"
	"strings"
)

// claimedFiles is what processing/ holds: listed once at the start of a
// pass (and after the folders were opened again), then kept up to date
// by the pass's own claims and settlements. Every file of a pass asked
// whether an input of its stem waits there, and every Consume which
// sidecars lie there, and each asked by listing processing/: after a full
// queue left thousands of files waiting in it, a pass listed it thousands
// of times over (2,000 files took 15 s, 5,000 more than two minutes,
// growing with the square). Worker-only state.
type claimedFiles struct {
	err      error               // the listing failed: act as if everything waits
	inputs   map[string]int      // stemKey → inputs of that stem
	names    map[string]bool     // the inputs
	sidecars map[string][]string // stem → sidecar names
	rank     func(string) int    // WithRank's, or nil
	ranks    map[int]int         // rank → inputs of that rank (WithRank)
}

// listClaimed lists processing/ into e.claimedNow and returns its inputs
// in the order they were taken (claimedInOrder).
func (e *Engine) listClaimed() ([]string, error) {
	entries, err := readDirIn(e.proc)
	c := claimedFiles{err: err, inputs: map[string]int{}, names: map[string]bool{}, sidecars: map[string][]string{},
		rank: e.rank, ranks: map[int]int{}}
	for _, de := range entries {
		n := de.Name()
		switch {
		case !de.Type().IsRegular():
		case e.isInput(n):
			c.addInput(n)
		case e.isSidecar(n):
			c.sidecars[stemOf(n)] = append(c.sidecars[stemOf(n)], n)
		}
	}
	e.claimedNow = c
	return e.claimedInOrder(entries), err
}

func (c *claimedFiles) addInput(name string) {
	if !c.names[name] {
		c.names[name] = true
		c.inputs[stemKey(stemOf(name))]++
		if c.rank != nil {
			c.ranks[c.rank(name)]++
		}
	}
}

// claimed records a claim: name and its sidecars are in processing/ now.
func (c *claimedFiles) claimed(name string, sidecars []string) {
	c.addInput(name)
	st := stemOf(name)
	for _, sc := range sidecars {
		if !slices.Contains(c.sidecars[st], sc) {
			c.sidecars[st] = append(c.sidecars[st], sc)
		}
	}
}

// settled records that name and the sidecars consumed with it left
// processing/.
func (c *claimedFiles) settled(name string, sidecars []string) {
	st := stemOf(name)
	if c.names[name] {
		delete(c.names, name)
		if k := stemKey(st); c.inputs[k] <= 1 {
			delete(c.inputs, k)
		} else {
			c.inputs[k]--
		}
		if c.rank != nil {
			c.ranks[c.rank(name)]--
		}
	}
	if len(sidecars) > 0 {
		c.sidecars[st] = slices.DeleteFunc(c.sidecars[st], func(n string) bool { return slices.Contains(sidecars, n) })
		if len(c.sidecars[st]) == 0 {
			delete(c.sidecars, st)
		}
	}
}

// stemClaimed reports whether an input with this stem is in processing/.
// Its sidecars would collide with the new file's, and on Windows one of
// the same name in another case (LAB.hl7 for lab.hl7) is the new file's
// own name there: the claim's rename would replace it.
func (e *Engine) stemClaimed(stem string) bool {
	return e.claimedNow.err != nil || e.claimedNow.inputs[stemKey(stem)] > 0
}

// stemKey is stem as the folder's file system compares names: on Windows
// without regard to case.
func stemKey(stem string) string {
	if runtime.GOOS == "windows" {
		return strings.ToUpper(stem)
	}
	return stem
}

// sidecarsIn lists name's sidecars in processing/, sorted.
func (e *Engine) sidecarsIn(name string) []string {
	var out []string
	for _, n := range e.claimedNow.sidecars[stemOf(name)] {
		if n != name {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
