package folder

import (
	"io/fs"
	"sort"
	"time"
)

// WithRank makes the engine take the files of a set that depend on each
// other in the set's order rather than by modification time and name:
// rank returns 0 for a file outside any such set, which keeps its place,
// and n > 0 for one of a set. Among the ready files the ranked ones are
// taken lowest rank first (by time and name within a rank), in the
// places the time order gives them, so that other inputs keep theirs;
// and a ranked file is not taken while a file of a lower rank waits in
// the folder (not settled yet, still being written, waiting for its
// marker) or in processing/ (to be tried again). A ranked file with
// nothing of a lower rank waiting is taken as soon as it is ready.
//
// An EHR drop ranks a FHIR Bulk Data export's files (ehrdrop): each line
// is keyed to its patient and the queue keeps one patient's items in the
// order queued, so Patient.ndjson taken after Observation.ndjson had the
// exchange receive Observations about a Patient it did not have yet.
func WithRank(rank func(name string) int) Option { return func(e *Engine) { e.rank = rank } }

// RankOrder reorders names, which are in time order, as WithRank says:
// the ranked ones fill the places ranked ones had, lowest rank first and
// in time order within a rank; the others stay where they are. It
// returns the indexes into names in the new order. ferry backfill orders
// the files of an old export's folder by it.
func RankOrder(names []string, rank func(string) int) []int {
	order := make([]int, len(names))
	var places, ranked []int
	for i, n := range names {
		order[i] = i
		if rank(n) > 0 {
			places = append(places, i)
			ranked = append(ranked, i)
		}
	}
	sort.SliceStable(ranked, func(a, b int) bool { return rank(names[ranked[a]]) < rank(names[ranked[b]]) })
	for k, at := range places {
		order[at] = ranked[k]
	}
	return order
}

// holdForRank reports whether name waits for a file of a lower rank
// (earlierRankWaits), at most rankLimit from the pass that first held it
// back: a file of a lower rank that never becomes ready (no marker ever
// written, a writer that keeps it open, a stray file whose name only
// looks like one of the set) must not keep the rest of the set in the
// folder for ever. Past the limit the file is taken, and a WARN says so.
// Its entry goes when it is no longer held back (waitingRanks drops those
// of files gone from the folder).
func (e *Engine) holdForRank(name string, waiting map[int]int) bool {
	if !e.earlierRankWaits(name, waiting) {
		delete(e.rankWait, name)
		return false
	}
	since, ok := e.rankWait[name]
	if !ok {
		e.rankWait[name] = time.Now()
		return true
	}
	if time.Since(since) < e.rankLimit {
		return true
	}
	delete(e.rankWait, name)
	e.log.Warn("folder input of an ordered set taken before a file of an earlier type that did not become ready; the exchange may get it before what it refers to",
		"folder", e.cfg.Name, e.logName(name, nil), "waited", e.rankLimit.String())
	return false
}

// waitingRanks counts the inputs of the folder (files) by their rank,
// those of rank 0 left out, once a pass: a file's wait for one of a
// lower rank is then a look at a few counts, not at every file (with
// thousands of a Bulk Data export's files the pass grew with their
// square). It also forgets the held-back files no longer there.
func (e *Engine) waitingRanks(files map[string]fs.FileInfo) map[int]int {
	for n := range e.rankWait {
		if _, ok := files[n]; !ok {
			delete(e.rankWait, n)
		}
	}
	waiting := map[int]int{}
	for n := range files {
		if e.isInput(n) {
			if r := e.rank(n); r > 0 {
				waiting[r]++
			}
		}
	}
	return waiting
}

// earlierRankWaits reports whether a file of a lower rank than name's
// waits in the folder (waiting, from waitingRanks less those claimed
// since) or in processing/: name must then wait for it. An error listing
// processing/ counts as one waiting, as for stemClaimed.
func (e *Engine) earlierRankWaits(name string, waiting map[int]int) bool {
	r := e.rank(name)
	if r <= 1 {
		return false
	}
	if e.claimedNow.err != nil {
		return true
	}
	for _, counts := range []map[int]int{waiting, e.claimedNow.ranks} {
		for k, n := range counts {
			if k > 0 && k < r && n > 0 {
				return true
			}
		}
	}
	return false
}
