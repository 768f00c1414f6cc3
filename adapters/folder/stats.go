package folder

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of one watched folder's figures, for the status page
// and /metrics. It holds counts, times and error classes, never a file
// name: a folder whose files stop moving (no write access, a read-only
// mount, a file ferry may not read) shows here and nowhere else but the log.
type Stats struct {
	// Claimed counts files moved into processing/ since start.
	Claimed int64 `json:"claimed"`
	// Done counts files settled after a successful Consume (or found to be
	// duplicates): moved to done/ or deleted.
	Done int64 `json:"done"`
	// Duplicates counts the files among Done whose content the folder had
	// taken before (a re-drop, a fax received twice): archived, not sent
	// again, since the same content is the same document.
	Duplicates int64 `json:"duplicates"`
	// Failed counts files moved to failed/.
	Failed int64 `json:"failed"`
	// ClaimErrors counts failed attempts to claim a ready file (the rename
	// into processing/, or the check that no writer holds it).
	ClaimErrors int64 `json:"claim_errors"`
	// LastClaimError is the operating system's reason for the last failed
	// claim ("permission denied", "read-only file system"), without paths.
	LastClaimError   string    `json:"last_claim_error,omitempty"`
	LastClaimErrorAt time.Time `json:"last_claim_error_at,omitzero"`
	// ClaimsFailing is true while claims keep failing (since the first
	// failure, until a pass claims without one or nothing waits).
	ClaimsFailing bool `json:"claims_failing"`
	// Waiting is how many input files lie in the folder, not yet claimed,
	// at the last scan.
	Waiting int `json:"waiting"`
	// Retrying is how many claimed files wait in processing/ for another
	// Consume after a transient failure.
	Retrying int `json:"retrying"`
	// OldestWaiting is when the engine first saw the oldest file that is
	// waiting or retrying; zero when none is.
	OldestWaiting time.Time `json:"oldest_waiting,omitzero"`
	// Empty is how many of the Waiting files are empty (0 bytes) at the
	// last scan: created and not written yet. They are taken once they
	// have content; one that stays empty for five minutes (ten settle
	// periods, if longer) goes to failed/.
	Empty int `json:"empty"`
	// Symlinks is how many symbolic links named like inputs lie in the
	// folder at the last scan. They are never followed nor taken: an
	// operator who copied a link in instead of the file sees it here.
	Symlinks int `json:"symlinks"`
	// SpecialFiles is how many other entries named like inputs are not
	// regular files (named pipes, sockets, devices) at the last scan:
	// never opened (a pipe would block the folder) nor taken. On Windows
	// it counts files whose names Windows reserves for devices (con.hl7)
	// too, which no path there reaches.
	SpecialFiles int `json:"special_files"`
}

// counters are the engine's figures; the worker writes, Stats reads.
type counters struct {
	claimed, done, duplicates, failed, claimErrors atomic.Int64

	mu               sync.Mutex
	lastClaimError   string
	lastClaimErrorAt time.Time
	failing          bool
	waiting          int
	retrying         int
	oldest           time.Time
	empty            int
	symlinks         int
	special          int
}

// Stats returns the folder's current figures.
func (e *Engine) Stats() Stats {
	c := &e.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Claimed:          c.claimed.Load(),
		Done:             c.done.Load(),
		Duplicates:       c.duplicates.Load(),
		Failed:           c.failed.Load(),
		ClaimErrors:      c.claimErrors.Load(),
		LastClaimError:   c.lastClaimError,
		LastClaimErrorAt: c.lastClaimErrorAt,
		ClaimsFailing:    c.failing,
		Waiting:          c.waiting,
		Retrying:         c.retrying,
		OldestWaiting:    c.oldest,
		Empty:            c.empty,
		Symlinks:         c.symlinks,
		SpecialFiles:     c.special,
	}
}

// claimWarnEvery is how often a claim problem that persists is logged
// again at WARN after its first failure.
const claimWarnEvery = 5 * time.Minute

// claimTrouble follows an episode of failing claims, so that a folder ferry
// cannot take files from is reported at WARN once when it starts and then
// at most every claimWarnEvery, not on every attempt (a claim is retried
// every settle period) nor only at DEBUG. Worker-only state.
type claimTrouble struct {
	on       bool
	since    time.Time
	attempts int64
	lastWarn time.Time
	warned   bool
	// passFailed and passClaimed record the current pass.
	passFailed, passClaimed bool
}

// fail records a failed claim at now and reports whether to log it at WARN.
func (t *claimTrouble) fail(now time.Time) bool {
	t.passFailed = true
	if !t.on {
		*t = claimTrouble{on: true, since: now, passFailed: true, passClaimed: t.passClaimed}
	}
	t.attempts++
	if !t.warned || now.Sub(t.lastWarn) >= claimWarnEvery {
		t.warned, t.lastWarn = true, now
		return true
	}
	return false
}

// endPass closes a pass: the episode ends when the pass claimed a file
// without a failure, or nothing is left waiting. It returns the episode
// that ended, if one did and was reported.
func (t *claimTrouble) endPass(waiting int) (ended claimTrouble, ok bool) {
	claimed, failed := t.passClaimed, t.passFailed
	t.passClaimed, t.passFailed = false, false
	if !t.on || failed || (!claimed && waiting > 0) {
		return claimTrouble{}, false
	}
	ended = *t
	*t = claimTrouble{}
	return ended, ended.warned
}
