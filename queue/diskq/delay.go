package diskq

import (
	"container/heap"
	"time"
)

// Delayed items: an item released with queue.NotBefore(err, at) is
// neither ready nor leased until at. It stays first among its key's
// items and the key stays busy (each of its keys, for an item with After
// keys), so nothing of the same key overtakes it,
// while items of other keys are handed out as usual. One timer, set to
// the earliest due time, makes the due ones ready. After a restart the
// item is ready at once, unless it was released with
// queue.NotBeforeDurable: that due time goes into the item's NACK record,
// and the item waits out what is left of it (delayReplayedLocked). The
// wait the dispatcher asks for after an attempt whose outcome is unknown
// must hold across a restart, or the re-sent bundle races the first
// attempt at the exchange.

// laterEntry is a delayed item and when it is due; durable when its NACK
// record holds the time (queue.NotBeforeDurable).
type laterEntry struct {
	m       *meta
	due     time.Time
	durable bool
}

// laterHeap orders delayed items by due time.
type laterHeap []laterEntry

func (h laterHeap) Len() int           { return len(h) }
func (h laterHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h laterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *laterHeap) Push(x any)        { *h = append(*h, x.(laterEntry)) }
func (h *laterHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = laterEntry{}
	*h = old[:len(old)-1]
	return e
}

// delayLocked turns a leased item into a delayed one, due at at.
func (q *Queue) delayLocked(m *meta, at time.Time, durable bool) {
	m.leased = false
	q.leased--
	m.delayed = true // the key stays busy
	heap.Push(&q.later, laterEntry{m: m, due: at, durable: durable})
	if q.later[0].m == m {
		q.armLocked()
	}
}

// delayReplayedLocked delays, on Open, the items whose last NACK record
// gave a not-before time still ahead (due: by seq, that time and when
// the record was written, unix ns; see replayDue). Only an item that is
// ready (the first of its keys) can be delayed; it holds its keys as it
// did before the restart.
func (q *Queue) delayReplayedLocked(due map[uint64][2]int64) {
	now := time.Now()
	for seq, d := range due {
		m := q.items[seq]
		at := replayDue(d[0], d[1], now)
		if m == nil || m.hidx < 0 || !at.After(now) {
			continue
		}
		heap.Remove(&q.ready, int(m.hidx))
		m.delayed = true
		q.eachKey(m, func(ks *keyState) { ks.busy = true })
		heap.Push(&q.later, laterEntry{m: m, due: at, durable: true})
	}
	q.armLocked()
}

// armLocked sets the timer to the earliest due time.
func (q *Queue) armLocked() {
	if len(q.later) == 0 {
		return
	}
	d := time.Until(q.later[0].due)
	if q.laterT == nil {
		q.laterT = time.AfterFunc(d, q.wakeDelayed)
		return
	}
	q.laterT.Reset(d)
}

// wakeDelayed makes every due item ready. An entry whose item was
// settled meanwhile (purged) is dropped.
func (q *Queue) wakeDelayed() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	now := time.Now()
	for len(q.later) > 0 && !q.later[0].due.After(now) {
		e := heap.Pop(&q.later).(laterEntry)
		m := e.m
		if !m.delayed || q.items[m.seq] != m {
			continue
		}
		m.delayed = false
		q.eachKey(m, func(ks *keyState) { ks.busy = false })
		heap.Push(&q.ready, m)
		q.wakeLocked()
	}
	q.armLocked()
}

// Delayed is the number of items released with a NotBefore that is
// still ahead.
func (q *Queue) Delayed() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.later {
		if e.m.delayed && q.items[e.m.seq] == e.m {
			n++
		}
	}
	return n
}
