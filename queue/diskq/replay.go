package diskq

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
)

// replayState is the queue rebuilt from its segments.
type replayState struct {
	items map[uint64]*meta
	// due holds the not-before time of the items whose last NACK
	// record gave one (queue.NotBeforeDurable), and when it was written.
	due     map[uint64][2]int64
	segs    []*segment
	nextSeq uint64
	nextIdx uint64
	corrupt int
}

// replay reads every segment of dir, oldest first. Unless readOnly, it
// truncates a torn tail of the newest segment and removes a newest
// segment whose creation a crash cut short; readOnly opens files for
// reading only and changes nothing, so it may run beside the owner. Read
// so while the owner has the queue open, what the owner changes meanwhile
// is no damage: a segment removed after the listing held only settled
// items, and the newest segment ends where the owner's writing stood.
func replay(dir string, log *slog.Logger, readOnly bool) (*replayState, error) {
	idxs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	beside := false
	if readOnly {
		beside, _ = InUse(dir)
	}
	st := &replayState{items: map[uint64]*meta{}, due: map[uint64][2]int64{}, nextSeq: 1, nextIdx: 1}
	for i, idx := range idxs {
		last := i == len(idxs)-1
		st.nextIdx = idx + 1
		path := filepath.Join(dir, segName(idx))
		var f *os.File
		if readOnly {
			// Beside a running owner a segment may be held for a moment
			// without sharing (Windows: being created at a rotation, or
			// removed), which openRead waits out (CI's Wine run of
			// TestInspectBesideRunningQueue: 6 reads of 300).
			f, err = openRead(path)
		} else {
			f, err = os.OpenFile(path, os.O_RDWR, 0)
		}
		if readOnly && errors.Is(err, fs.ErrNotExist) {
			continue // settled and removed by the owner since the listing
		}
		if err != nil {
			st.close()
			return nil, fmt.Errorf("open segment: %w", err)
		}
		seg := &segment{idx: idx, path: path, f: f}
		res, err := scanSegment(f, segName(idx), log, beside && last, func(off int64, rec []byte) {
			st.apply(seg, off, rec, log)
		})
		if err != nil {
			f.Close()
			st.close()
			return nil, err
		}
		st.corrupt += res.corrupt
		seg.size = res.end
		seg.firstSeq = res.firstSeq
		if res.headerOK {
			st.nextSeq = max(st.nextSeq, res.firstSeq)
		}
		if !res.headerOK && res.end <= segHeaderLen && !readOnly {
			if last {
				// A crash while creating this segment: it holds nothing.
				f.Close()
				if err := os.Remove(path); err != nil {
					st.close()
					return nil, fmt.Errorf("remove empty segment: %w", err)
				}
				continue
			}
			// An older segment had its header synced before any record
			// was written to it, and records before the next segment was
			// created: one with neither (zeroed or emptied, as a file
			// system repair leaves a file) has lost its items. A torn
			// rest is reported below; a file too short for its header
			// has no rest, so it is reported here.
			if res.tornBytes == 0 {
				st.corrupt++
				log.Error("queue segment damaged; its records are lost",
					"segment", segName(idx), "bytes", res.end)
			}
		}
		if res.zeros && last {
			// The zeros prezero keeps ahead of the data: every stop
			// without Close (kill -9, power cut) leaves them in the
			// newest segment. Nothing was written there, so nothing is
			// lost, and a WARN naming megabytes after each such restart
			// sent operators looking for lost messages. (In an older
			// segment, trimmed before the next one was created, zeros
			// are damage: reported below.)
			log.Info("queue segment ends in its unused pre-zeroed space (the gateway stopped without closing the queue); trimmed, no record lost",
				"segment", segName(idx), "offset", res.end, "bytes", res.tornBytes)
		}
		if res.tornBytes > 0 && !readOnly {
			if last {
				if err := f.Truncate(res.end); err != nil {
					f.Close()
					st.close()
					return nil, fmt.Errorf("truncate torn tail of %s: %w", segName(idx), err)
				}
				if err := f.Sync(); err != nil {
					f.Close()
					st.close()
					return nil, fmt.Errorf("sync %s: %w", segName(idx), err)
				}
			} else {
				// Older segments were complete and synced before the
				// next one was created, so this is damage, not a crash.
				st.corrupt++
				log.Error("queue segment damaged; records after the offset are lost",
					"segment", segName(idx), "offset", res.end, "bytes", res.tornBytes)
			}
		}
		st.segs = append(st.segs, seg)
	}
	return st, nil
}

// apply replays one checked record.
func (st *replayState) apply(seg *segment, off int64, rec []byte, log *slog.Logger) {
	seq := recSeq(rec)
	st.nextSeq = max(st.nextSeq, seq+1)
	switch recType(rec) {
	case recPut, recPutFile, recPutSealed, recPutFileSealed:
		h, err := decodePutHead(rec)
		if err != nil {
			st.corrupt++
			log.Error("queue record undecodable, skipped", "segment", filepath.Base(seg.path), "offset", off, "reason", err.Error())
			return
		}
		m := st.items[seq]
		if m == nil {
			m = &meta{seq: seq, hidx: -1}
			st.items[seq] = m
		} else {
			m.seg.live--
		}
		m.seg, m.off, m.size = seg, off, int64(len(rec))
		m.enqueued, m.attempts, m.id, m.key = h.enqueued, h.attempts, h.id, h.key
		m.setFile(h.file, h.fsize)
		m.setAfter(normAfter(h.key, h.after))
		seg.live++
	case recAck:
		if m := st.items[seq]; m != nil {
			m.seg.live--
			delete(st.items, seq)
			delete(st.due, seq)
		}
	case recNack:
		if m := st.items[seq]; m != nil {
			m.attempts = nackAttempts(rec)
			if due, since := nackDue(rec); due != 0 {
				st.due[seq] = [2]int64{due, since}
			} else {
				delete(st.due, seq)
			}
		}
	}
}

func (st *replayState) close() {
	for _, s := range st.segs {
		s.f.Close()
	}
}

// sortedBySeq returns the items in seq (Put) order.
func sortedBySeq(items map[uint64]*meta) []*meta {
	out := make([]*meta, 0, len(items))
	for _, m := range items {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *meta) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out
}
