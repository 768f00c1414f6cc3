package diskq

import (
	crand "crypto/rand"
	"encoding/binary"
	"math/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// idSource hands out the ULIDs of items and spilled bodies. An id never
// sorts before one handed out earlier or found in the log at open, even
// when the wall clock is set back (an NTP step after the clock ran fast,
// a virtual machine resumed, someone correcting the time by hand): while
// the clock is behind, ids keep the newest id's millisecond and count up
// within it. So the order of ids, and of the outbox's file names made of
// them, stays the order in which items were queued, which a program
// reading the outbox relies on for one patient's files. ulid.Make stamps
// each id with the current time alone.
type idSource struct {
	mu      sync.Mutex
	last    uint64 // the millisecond of the newest id
	entropy *ulid.MonotonicEntropy
	now     func() time.Time // time.Now; tests set the clock back
}

func newIDSource() *idSource {
	var seed [8]byte
	_, _ = crand.Read(seed[:]) // never fails (crypto/rand)
	rng := rand.New(rand.NewSource(int64(binary.LittleEndian.Uint64(seed[:]))))
	return &idSource{entropy: ulid.Monotonic(rng, 0), now: time.Now}
}

// next returns a new id, after every id next returned or observe saw.
func (s *idSource) next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := max(ulid.Timestamp(s.now()), s.last)
	id, err := ulid.New(ms, s.entropy)
	if err != nil {
		// The millisecond's ids are used up (ErrMonotonicOverflow: some
		// 2^48 ids at the increments' mean, so never in practice): go on
		// in the next one.
		ms++
		id, err = ulid.New(ms, s.entropy)
		if err != nil {
			panic("diskq: ulid: " + err.Error()) // a fresh millisecond draws fresh entropy
		}
	}
	s.last = ms
	return id.String()
}

// observe makes later ids sort after id (an item found in the log).
// Their millisecond is after id's, so their entropy need not exceed its.
func (s *idSource) observe(id string) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.last = max(s.last, u.Time()+1)
	s.mu.Unlock()
}
