// Package diskq is ferry's durable queue: an append-only log of segment
// files on local disk that implements queue.Queue.
//
// # Layout
//
//	<dir>/LOCK                        flock/LockFileEx: one process per dir
//	<dir>/0000000000000001.seg        segment files, oldest first
//	<dir>/0000000000000002.seg        ... the newest one takes appends
//	<dir>/bodies/b-<ulid>             bodies too large for the log (see bodies.go)
//	<dir>/dead/<seq hex>-<id>.json    dead letters, one file per item
//	<dir>/dead/<seq hex>-<id>.body    ... and the body of a spilled one
//
// With Options.Key the bodies, body files and dead letters are encrypted
// (AES-256-GCM, package seal); see encrypt.go.
//
// # Segment and record format
//
// A segment starts with a 24-byte header, followed by records. All integers
// are little-endian; crc is CRC-32C (Castagnoli) over type and payload.
//
//	segment header:
//	+----------------+--------------+-----------+--------------+
//	| magic 8 bytes  | firstSeq u64 | crc32c u32| reserved u32 |
//	| "FERRYQ\0\1"   |              | of 0..16  |              |
//	+----------------+--------------+-----------+--------------+
//
//	record:
//	+---------+---------+---------+---------------------------------+
//	| len u32 | crc u32 | type u8 | payload (len-1 bytes)           |
//	+---------+---------+---------+---------------------------------+
//	          \______ crc covers type + payload ______/
//
//	PUT  (1): seq u64 | enqueued unix-ns i64 | attempts u32 |
//	          uvarint-prefixed id, key, source | uvarint n | n * (key, value) |
//	          body (the rest)
//	ACK  (2): seq u64                 the item is settled (done or dead-lettered)
//	NACK (3): seq u64 | attempts u32  the item was released for redelivery
//	          [| not-before unix-ns i64 | written unix-ns i64]  not to be
//	          handed out before then (queue.NotBeforeDurable): the wait
//	          holds across a restart
//	PUTF (4): as PUT, but instead of the body: uvarint-prefixed name of
//	          its file in bodies/ | size u64
//	PUTS (5): as PUT, the body sealed (seal.Key.Seal, aad = the item ID)
//	PUTFS(6): as PUTF, the file a sealed stream; size is its size on disk
//
// Types 5 and 6 are written when Options.Key is set (see encrypt.go);
// the metadata stays readable, so replay and Inspect need no key.
//
//	+0x80 (0x81, 0x84, 0x85, 0x86): a PUT of an item with After keys
//	          (queue.Item.After): right after its key, uvarint n |
//	          n * uvarint-prefixed key; the rest as the type without it.
//
// Only items with After keys set the flag, so every other record is
// written as before, and records written before the flag existed decode
// unchanged (an older ferry reads a flagged record as corrupt, as it
// would a type it does not know).
//
// Seq numbers are assigned by the single writer in log order and never
// reused (each segment header carries the next seq), so replay needs no
// timestamps: the newest PUT of a seq wins, an ACK removes it.
//
// # Item states
//
//	           Put (after fsync)           Get
//	producer --------------------> READY --------> LEASED
//	                               ^  ^              |
//	                               |  |              +-- AckFunc(nil) ---------------> SETTLED
//	                               |  |              |                                 (ACK record)
//	                               |  +--------------+-- AckFunc(ordinary err):
//	                               |  |              |   Attempts+1, NACK record
//	                               |  +-- at --------+-- AckFunc(queue.NotBefore(err, at)):
//	                               |     DELAYED     |   Attempts+1, NACK record; the key
//	                               |                 |   stays blocked until at (delay.go)
//	                               +-----------------+-- Close or crash; ready again
//	                                                 |   on the next Open
//	                                                 +-- AckFunc(Permanent(err)) ---> dead/<seq>-<id>.json,
//	                                                                                  then SETTLED
//
// Items that share a non-empty Key are ready one at a time, in seq order:
// only the oldest unsettled item of a key is ever ready or leased, so an
// A08 never overtakes its A01, while other keys proceed in parallel. An
// item with After keys joins the order of each of its keys: it is ready
// only when it is the oldest unsettled item of all of them, holds them
// all while leased or delayed, and releases them all when settled (once
// the ACK record saying so is synced, see Durability). An
// A40 keyed to the surviving patient is so delivered after the backlog
// of the patient it retires.
//
// # Durability
//
// One writer goroutine owns the log. Put hands it an encoded record and
// waits; the writer takes every record that is waiting, writes them with
// one write and one fdatasync, and only then makes the items visible and
// answers the producers (group commit). The newest segment is kept filled
// with written zeros ahead of the data (segment.prezero), so that a commit's
// fdatasync does not also journal a size change; Close and rotation trim
// the zeros, and replay reads them as the torn tail they look like. On
// Linux with ext4 or XFS the batch is written with O_DIRECT into that
// region (direct.go), so the fdatasync has only the disk's cache to
// flush. ACK and NACK records ride along in the next batch without making
// the consumer wait: a crash before they are synced only means a
// redelivery, which at-least-once allows. Sync waits for them when a
// caller needs that. The next item of a settled item's keys waits for
// that sync, though, so that the log never holds its ACK record without
// the earlier one's: else a crash would deliver the older item again
// after the newer one (see keyState).
//
// A full disk fails only the writes it refuses: the failed records are
// cut off the segment again and their Puts return an error that matches
// queue.ErrFull, and the queue takes items again as soon as there is room.
// Only a failed fdatasync stops the queue until the process restarts
// (Stopped); see full.go.
//
// On Open the segments are replayed. A record that fails its CRC is
// skipped and logged when a good record follows it; a damaged tail of the
// newest segment (a write cut short by a crash) is truncated. Items that
// were leased when the process stopped are ready again.
//
// Memory holds only per-item metadata (seq, segment, offset, size, key,
// ID); bodies are read back from disk by Get, and bodies too large for
// memory are never read at all: they stay in files of their own that Get
// hands out as a stream (see bodies.go). A segment file is deleted
// once it and all older segments hold no unsettled item (and the ACK
// records saying so are synced). When a rotation finds the oldest segment
// held by a few stragglers (say one item that keeps failing), they are
// copied forward so that the disk use follows the queue's content.
package diskq

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/latency"
	"github.com/ferry-health/ferry/queue/seal"
)

// ErrLocked is returned by Open when another process (or another Queue in
// this one) has the directory open.
var ErrLocked = errors.New("queue directory is in use by another process")

// lockRetries × lockRetryWait is how long Open waits for a lock held by
// someone else before it reports ErrLocked: long enough for InUse's probe,
// short enough that a second gateway is told at once.
const (
	lockRetries   = 10
	lockRetryWait = 20 * time.Millisecond
)

// InUse reports whether a Queue (a running gateway, or a command such as
// `ferry held release`) has dir open, without opening it or taking its
// lock from anyone. A dir without a lock file was never opened.
func InUse(dir string) (bool, error) {
	held, err := lockHeld(filepath.Join(dir, "LOCK"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", dir, err)
	}
	return held, nil
}

// Hold takes dir's lock as Open does, without opening the queue: a command
// that reads or replaces the whole directory (`ferry backup`) keeps every
// Queue out meanwhile, a gateway starting then included, which gets
// ErrLocked. release gives the lock back. A dir that does not exist was
// never opened and holds nothing: Hold then takes nothing.
func Hold(dir string) (release func() error, err error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return func() error { return nil }, nil
	}
	f, err := lockFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	return func() error { return unlockFile(f) }, nil
}

// DefaultSegmentBytes is the size at which a new segment file is started.
const DefaultSegmentBytes = 64 << 20

// maxBatchBytes caps one group-commit write so that a burst of large items
// does not delay the first producer's answer without bound.
const maxBatchBytes = 8 << 20

// maxCommitDelay bounds how long the writer holds a batch open for more
// concurrent Puts (see writeLoop).
const maxCommitDelay = 2 * time.Millisecond

// Options configures a Queue. The zero value is usable.
type Options struct {
	// MaxBytes caps the stored size of unsettled items; Put returns
	// queue.ErrFull beyond it. 0 means no limit.
	MaxBytes int64
	// MaxItems caps the number of unsettled items (recovered ones
	// included); Put returns queue.ErrFull beyond it, as for MaxBytes.
	// Memory holds about 200 bytes of index per unsettled item (see meta
	// and BenchmarkHeapPerItem), so this, not MaxBytes, is what bounds the
	// heap when items are small. 0 means no limit.
	MaxItems int
	// SegmentBytes is the size at which the log rolls to a new file.
	// Default DefaultSegmentBytes.
	SegmentBytes int64
	// DeadLetterDir is where dead letters go; default <dir>/dead. It must
	// belong to this queue alone: Open matches its files to the log.
	DeadLetterDir string
	// Logger receives recovery and corruption reports (never item
	// contents). Default: discard.
	Logger *slog.Logger
	// Key, when set, encrypts what the queue writes from now on: record
	// bodies, body files and dead letters (see encrypt.go). Items stored
	// without a key stay readable; items stored with a key need it.
	Key *seal.Key
	// BufferedWrites turns direct writes of the log off (see direct.go):
	// records go through the page cache, as they always do on file
	// systems other than ext4 and XFS and on systems other than Linux.
	BufferedWrites bool
}

func deadDir(dir, opt string) string {
	if opt != "" {
		return opt
	}
	return filepath.Join(dir, "dead")
}

// Queue is an on-disk queue.Queue. It is safe for concurrent use.
type Queue struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File
	dead *deadStore
	ids  *idSource
	// retryEdit, when set (SetRetryEdit), changes a dead letter's item as
	// Retry puts it back.
	retryEdit atomic.Pointer[func(*queue.Item) error]

	// unremoved holds the paths of settled segments, oldest first, whose
	// files are still to be removed: on Windows a file another process
	// has open (`ferry queue inspect`, a backup agent, a virus scanner)
	// cannot be deleted. Newer segments wait behind them (see
	// deleteSettledSegments). rmMu serializes the removals.
	rmMu      sync.Mutex
	unremoved []string

	reqs       chan *writeReq
	writerDone chan struct{}
	inflight   sync.WaitGroup // senders on reqs; Close waits before closing it
	syncq      chan *written  // written batches, from writeLoop to syncLoop
	pending    sync.WaitGroup // batches in syncq or being synced
	unsynced   atomic.Int64   // the same count, readable: a lone Put may write inline only at zero
	// wmu guards the writer's state (wbuf, wseq, the newest segment's
	// tail, rotation): held by writeLoop while it writes a batch, or by a
	// lone Put that writes and syncs its own record (see putInline).
	wmu        sync.Mutex
	wbuf       []byte            // writer-owned batch buffer
	dbuf       []byte            // writer-owned aligned buffer of direct writes
	direct     bool              // the newest segment is written directly (see direct.go); writer-owned
	gate       rawGate           // whether the commit path's disk calls are raw (hold.go)
	wseq       uint64            // writer-owned: the next seq to assign
	commits    atomic.Int64      // sync rounds, for tests and tuning
	activePuts atomic.Int64      // Put calls in progress
	expect     atomic.Int64      // Puts in flight at the last answer
	syncTime   atomic.Int64      // moving average of a commit (the batch's write when direct, and its sync), in ns
	flushes    latency.Histogram // each commit's disk time: its write and its fdatasync
	// Writer-owned (under wmu): what a failed write left to do (see
	// full.go). All zero on the fast path.
	carry        []*writeReq // ACK and NACK records of a failed batch, written first with the next
	writeFails   int         // failed writes since the last one that worked (logged once per episode)
	writeFailing atomic.Bool // writeFails > 0, for readers that must not wait for the writer (WriteFailing)
	zeroHold     time.Time   // pre-zeroing failed: not tried again before this
	zeroWarned   bool        // the pre-zeroing failure was logged
	writeErrors  atomic.Int64
	retryArmed   atomic.Bool   // a retry of the carry, or a probe, is scheduled (retryWrite)
	failedBytes  int           // writer-owned: the size of the last write that failed, which a probe writes
	stopped      chan struct{} // closed when failed is set

	mu           sync.Mutex
	closed       bool
	fullRefusals int64  // Puts refused at MaxItems or MaxBytes (under mu)
	fullReason   string // why the last Put was refused for capacity; "" once one is admitted
	fullBytes    int64  // that Put's size and items, for Stats to tell
	fullN        int    // whether it would still be refused
	failed       error  // set when a sync failed (or a failed write's tail could not be cut): the log's tail is unknown
	lastWrite    error  // the last write that failed, for Stats
	lastWAt      time.Time
	notify       chan struct{} // closed and replaced when an item becomes ready or on Close
	notifyTaken  bool          // a Get waits on notify: only then is it closed and replaced
	items        map[uint64]*meta
	keys         map[string]*keyState
	ready        seqHeap
	leased       int
	liveBytes    int64
	spillBytes   int64 // the part of liveBytes in body files, for Stats.DiskBytes
	reserved     int64 // bytes of Puts waiting for the writer
	reservedN    int   // the number of those Puts, counted against MaxItems
	segs         []*segment
	cur          *segment // newest segment; only the writer appends
	nextSeq      uint64
	lowSeq       uint64 // no unsettled item has a smaller seq
	corrupt      int
	later        laterHeap   // delayed items by due time (see delay.go)
	laterT       *time.Timer // fires at later[0]'s due time
	// deadKeys lists, per key, the dead letters whose later deliveries
	// are counted (later.go); deadKeyN is its length, read without mu on
	// every delivery.
	deadKeys map[string][]deadRef
	deadKeyN atomic.Int64
	// keyLogs are the files LogDeliveries appends every ordered delivery
	// to; keyLogN is their number, read without mu like deadKeyN.
	keyLogs     []string
	keyLogN     atomic.Int64
	keyLogDirty atomic.Bool // written to since syncLogs
	// logMu orders the appends to the logs and their compaction;
	// logSizes is each log's size after its last compaction.
	logMu    sync.Mutex
	logSizes map[string]int64

	// Test hooks, nil outside tests: hookSettle runs in settleIf once the
	// item has left memory, before its ACK record goes to the writer;
	// hookSync before a commit that holds an ACK record syncs.
	hookSettle atomic.Pointer[func(seq uint64)]
	hookSync   atomic.Pointer[func()]
}

// meta is what memory holds per unsettled item: 96 bytes, plus its share
// of the index maps, because a backlog during an outage is counted in
// hundreds of thousands of items. The key string is the keyState's own
// copy, shared by every item of that key.
type meta struct {
	seq      uint64
	seg      *segment
	off      int64
	size     int64
	enqueued int64
	attempts int
	id       string
	key      string
	ext      *metaExt // the body file, for a PUTF record, and After keys; nil without either
	hidx     int32    // index in the ready heap, -1 when not in it
	leased   bool
	delayed  bool // released with a NotBefore still ahead: neither ready nor leased
}

// metaExt is what few items have: a body file in bodies/ (its name and
// size) and After keys (queue.Item.After). Kept apart so that meta stays
// within its size class.
type metaExt struct {
	file  string
	fsize int64
	after []string // the keyStates' own copies once the item is enqueued
	// orig is, for a dead letter Retry put back, the seq its item had:
	// its data is as old as that, so it counts as no newer item of its
	// keys (origSeq). Kept in memory only: after a restart the item's
	// own seq counts, and a count errs high.
	orig uint64
}

// file is the item's body file in bodies/, or "".
func (m *meta) file() string {
	if m.ext == nil {
		return ""
	}
	return m.ext.file
}

// setFile records the item's body file (none when file is "").
func (m *meta) setFile(file string, fsize int64) {
	if m.ext == nil && file == "" {
		return
	}
	if m.ext == nil {
		m.ext = &metaExt{}
	}
	m.ext.file, m.ext.fsize = file, fsize
}

// after is the item's After keys (normalized: no empty key, no
// duplicate, not its Key).
func (m *meta) after() []string {
	if m.ext == nil {
		return nil
	}
	return m.ext.after
}

// setAfter records the item's After keys.
func (m *meta) setAfter(after []string) {
	if m.ext == nil && len(after) == 0 {
		return
	}
	if m.ext == nil {
		m.ext = &metaExt{}
	}
	m.ext.after = after
}

// origSeq is the seq that dates the item's data: its own, or for a dead
// letter retried the seq it had (metaExt.orig).
func (m *meta) origSeq() uint64 {
	if m.ext != nil && m.ext.orig != 0 {
		return m.ext.orig
	}
	return m.seq
}

// ordered reports whether the item is ordered under any key (its Key,
// or an After key it does not only wait behind).
func (m *meta) ordered() bool { return ordered(m.key, m.after()) }

// ordered reports whether an item of key with these After keys is
// ordered under any key: only then can items of a key overtake it (a
// dead letter's later deliveries, see later.go). A key it only waits
// behind does not count: nothing of that key waits for it.
func ordered(key string, after []string) bool {
	if key != "" {
		return true
	}
	for _, k := range after {
		if _, behind := queue.BehindKey(k); !behind {
			return true
		}
	}
	return false
}

// eachKey calls fn with the keyState of each key the item is ordered
// under (Key, then After, but not the keys it only waits behind). The
// caller holds mu and m is enqueued.
func (q *Queue) eachKey(m *meta, fn func(ks *keyState)) {
	if m.key != "" {
		fn(q.keys[m.key])
	}
	for _, k := range m.after() {
		if _, behind := queue.BehindKey(k); !behind {
			fn(q.keys[k])
		}
	}
}

// eachBehind calls fn with the keyState of each key the item waits
// behind (queue.Behind) that has one. The caller holds mu.
func (q *Queue) eachBehind(m *meta, fn func(ks *keyState)) {
	for _, k := range m.after() {
		if key, behind := queue.BehindKey(k); behind {
			if ks := q.keys[key]; ks != nil {
				fn(ks)
			}
		}
	}
}

// blocks reports whether ks keeps m, an item behind its key, waiting: an
// item stored before m is not settled yet, or its settlement not synced.
// (A settlement still held may be of an item stored after m: m then
// waits one commit more, which costs nothing but that commit.)
func (ks *keyState) blocks(m *meta) bool {
	return ks.held > 0 || (len(ks.items) > 0 && ks.items[0].seq < m.seq)
}

// bytes is what the item costs on disk, counted against MaxBytes.
func (m *meta) bytes() int64 {
	if m.ext != nil {
		return m.size + m.ext.fsize
	}
	return m.size
}

// spillSize is the size of the item's body file, 0 without one.
func (m *meta) spillSize() int64 {
	if m.ext == nil {
		return 0
	}
	return m.ext.fsize
}

// normAfter returns after without empty keys, duplicates and key itself;
// after itself when it has none of them.
func normAfter(key string, after []string) []string {
	clean := true
	for i, k := range after {
		if k == "" || k == key || slices.Contains(after[:i], k) {
			clean = false
			break
		}
	}
	if clean {
		return after
	}
	var out []string
	for _, k := range after {
		if k != "" && k != key && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// keyState orders the unsettled items of one key; items[0] is the only one
// that may be ready or leased. An item with After keys is in the items of
// each of its keys, and ready only when it is items[0] of all of them.
//
// A settled item holds its keys until its ACK record is synced (held):
// only then is the next item handed out. Were it handed out at once, its
// ACK record could reach the disk before the settled one's (a later
// group commit, or the same one torn by a power cut), and a crash would
// deliver the older item again after the newer one had reached the
// exchange: older data on top of newer (TestAckOrderAcrossCrash).
// The settling consumer does not wait; the key's next item waits one
// commit.
//
// Items behind the key (queue.Behind) are not among its items: each
// waits in behind until what was stored before it under the key is
// settled and synced (blocks), and is then ready as far as the key goes.
type keyState struct {
	key    string // shared by the items' meta.key
	items  []*meta
	behind []*meta // items waiting behind the key, in seq order
	busy   bool    // items[0] is leased, or delayed (released with a NotBefore ahead)
	held   int32   // settled items whose ACK records are not synced yet; the keyState stays while > 0
}

// writeReq is one unit of work for the writer. put is set for PUT records
// (their seq is filled in by the writer); done, when set, receives the
// outcome after the fsync. A request with no rec is a Sync barrier. An
// ACK record's segment counts the item as live until the record is on
// disk, so a segment is never deleted before its items' settlements are
// durable (else a crash could lose an item that was settled only in
// memory).
type writeReq struct {
	rec     []byte
	body    []byte // a PUT record's body, appended to rec by the writer
	put     *meta
	settles *segment // an ACK record: the segment holding the item's PUT
	settled *meta    // an ACK record: the item, whose keys are held until it is synced
	remove  string   // an ACK record: body file to delete once it is synced
	done    chan error
}

// Open opens (creating if needed) the queue in dir, replays its log and
// starts the writer. Only one Queue may have dir open at a time.
func Open(dir string, opts Options) (*Queue, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := durable.MkdirAll(filepath.Join(dir, bodiesDirName), 0o700); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	q := &Queue{
		dir:        dir,
		opts:       opts,
		log:        log,
		lock:       lock,
		reqs:       make(chan *writeReq, 256),
		syncq:      make(chan *written, 256),
		writerDone: make(chan struct{}),
		notify:     make(chan struct{}),
		stopped:    make(chan struct{}),
		keys:       map[string]*keyState{},
		ids:        newIDSource(),
	}
	if err := q.recover(); err != nil {
		q.closeFiles()
		unlockFile(lock)
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	q.wseq = q.nextSeq
	q.cur.wend = q.cur.size
	go q.writeLoop()
	return q, nil
}

// recover replays the segments into memory, truncates a torn tail,
// settles items whose dead letter was written just before a crash and
// prepares the newest segment for appends.
func (q *Queue) recover() error {
	dead, err := openDeadStore(deadDir(q.dir, q.opts.DeadLetterDir), true, q.opts.Key)
	if err != nil {
		return err
	}
	q.dead = dead
	st, err := replay(q.dir, q.log, false)
	if err != nil {
		return err
	}
	q.items, q.segs, q.nextSeq, q.corrupt = st.items, st.segs, st.nextSeq, st.corrupt
	if len(q.segs) == 0 {
		seg, err := createSegment(q.dir, st.nextIdx, q.nextSeq)
		if err != nil {
			return err
		}
		q.segs = append(q.segs, seg)
	}
	q.cur = q.segs[len(q.segs)-1]
	q.direct = !q.opts.BufferedWrites && directSupported(q.dir)
	q.gate.off.Store(!q.direct)
	q.useDirect(q.cur)

	// A dead letter is written before its ACK record; a crash in between
	// leaves both. Settle such items now instead of delivering them again.
	var settle []byte
	var settled []*meta
	for seq, m := range q.items {
		if q.dead.has(m.id, seq) {
			settle = append(settle, encodeAck(seq)...)
			settled = append(settled, m)
			delete(q.items, seq)
		}
	}
	if len(settle) > 0 {
		_, err := q.cur.f.WriteAt(settle, q.cur.size)
		if err == nil {
			if err := datasync(q.cur.f); err != nil {
				return fmt.Errorf("settle dead-lettered items: %w", err)
			}
			q.cur.size += int64(len(settle))
			for _, m := range settled {
				m.seg.live--
			}
		} else {
			// A full disk must not keep the gateway from starting
			// (and delivering, which frees room): the dead letters
			// settle the items at every start until their ACK
			// records go out with the first write that works (see
			// reject), which also keeps their segments till then.
			q.cur.wend = q.cur.size
			if cerr := q.cur.cutTail(); cerr != nil {
				return fmt.Errorf("settle dead-lettered items: %w, and then: %w", err, cerr)
			}
			q.log.Warn("queue settlements of dead-lettered items not written yet (disk full?); they go with the next write",
				"items", len(settled), "reason", err.Error())
			for _, m := range settled {
				q.carry = append(q.carry, &writeReq{rec: encodeAck(m.seq), settles: m.seg})
			}
		}
	}

	q.lowSeq = q.nextSeq
	for i, m := range sortedBySeq(q.items) {
		if i == 0 {
			q.lowSeq = m.seq
		}
		q.ids.observe(m.id)
		q.liveBytes += m.bytes()
		q.spillBytes += m.spillSize()
		q.enqueueLocked(m)
	}
	q.delayReplayedLocked(st.due)
	q.deleteSettledSegments()
	if err := q.removeOrphanBodies(); err != nil {
		return err
	}
	q.loadDeadKeys()
	// The bodies directory may be new: make its entry durable.
	return durable.SyncDir(q.dir)
}

// Put stores it durably and returns after the fsync. It sets it.ID (a ULID)
// when empty and it.Enqueued. An it.BodyFile (from CreateBody) is fsynced
// with its directory before the record is written; Put owns the file from
// the call on and deletes it itself when the item is not stored.
//
// Put copies it.Body into the log and keeps nothing of it once it returns
// nil or a non-context error (see CopiesBody); after a context error the
// writer may still read it, so the caller must not reuse the buffer then.
func (q *Queue) Put(ctx context.Context, it *queue.Item) error {
	one := [1]*queue.Item{it}
	return q.putAll(ctx, one[:], 0)
}

// PutAll stores items as Put does, all or none of them counted against the
// queue's limits, in one commit: a single write and fdatasync when no other
// Put is in progress (the parts of one message then cost one flush, not
// one each), the writer's next group otherwise. Items are committed in
// slice order. It returns after every item is synced, or with the first
// error; after a context error or a failed write some items may still be
// committed, which at-least-once delivery allows.
func (q *Queue) PutAll(ctx context.Context, items []*queue.Item) error {
	return q.putAll(ctx, items, 0)
}

// putAll is PutAll; orig, when not 0, is the seq the items' data had
// before (Retry: metaExt.orig).
func (q *Queue) putAll(ctx context.Context, items []*queue.Item, orig uint64) (err error) {
	// Body files are the queue's from the call on: those not handed to
	// the writer are deleted on the way out.
	handed := 0
	defer func() {
		if err == nil {
			return
		}
		for _, it := range items[handed:] {
			if it.BodyFile != "" && filepath.Clean(filepath.Dir(it.BodyFile)) == filepath.Clean(q.bodiesDir()) {
				os.Remove(it.BodyFile)
			}
		}
	}()
	if len(items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q.activePuts.Add(1)
	defer q.activePuts.Add(-1)
	var one [1]*writeReq
	reqs := one[:0]
	if len(items) > 1 {
		reqs = make([]*writeReq, 0, len(items))
	}
	var bytes int64
	for _, it := range items {
		r, err := q.prepare(it)
		if err != nil {
			return err
		}
		if orig != 0 {
			if r.put.ext == nil {
				r.put.ext = &metaExt{}
			}
			r.put.ext.orig = orig
		}
		reqs = append(reqs, r)
		bytes += r.put.bytes()
	}
	// Items the queue could not hold even empty are no capacity problem
	// that waiting ends: refused for good, and the queue not shown full.
	if q.opts.MaxBytes > 0 && bytes > q.opts.MaxBytes {
		return queue.Permanent(fmt.Errorf("put item %s: its %d bytes are more than queue.max_bytes (%d) lets the queue hold", items[0].ID, bytes, q.opts.MaxBytes))
	}
	if q.opts.MaxItems > 0 && len(reqs) > q.opts.MaxItems {
		return queue.Permanent(fmt.Errorf("put item %s: %d items at once, more than queue.max_items (%d) lets the queue hold", items[0].ID, len(reqs), q.opts.MaxItems))
	}

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	if q.failed != nil {
		q.mu.Unlock()
		return fmt.Errorf("put item %s: %w", items[0].ID, q.failed)
	}
	if q.opts.MaxBytes > 0 && q.liveBytes+q.reserved+bytes > q.opts.MaxBytes {
		q.fullRefusals++
		q.fullReason = fmt.Sprintf("refusing items: %d bytes waiting, queue.max_bytes is %d", q.liveBytes, q.opts.MaxBytes)
		q.fullBytes, q.fullN = bytes, len(reqs)
		q.mu.Unlock()
		return fmt.Errorf("put item %s of %d bytes: %w", items[0].ID, bytes, queue.ErrFull)
	}
	if q.opts.MaxItems > 0 && len(q.items)+q.reservedN+len(reqs) > q.opts.MaxItems {
		q.fullRefusals++
		q.fullReason = fmt.Sprintf("refusing items: %d waiting, queue.max_items is %d", len(q.items), q.opts.MaxItems)
		q.fullBytes, q.fullN = bytes, len(reqs)
		q.mu.Unlock()
		return fmt.Errorf("put item %s: %d items waiting, the most allowed: %w", items[0].ID, q.opts.MaxItems, queue.ErrFull)
	}
	q.reserved += bytes
	q.reservedN += len(reqs)
	q.fullReason = ""
	q.inflight.Add(1)
	q.mu.Unlock()

	handed = len(items)
	if !q.putInline(reqs) {
		for _, r := range reqs {
			q.reqs <- r
		}
	}
	q.inflight.Done()
	for i, r := range reqs {
		select {
		case err := <-r.done:
			if err != nil {
				return fmt.Errorf("put item %s: %w", items[i].ID, err)
			}
		case <-ctx.Done():
			// The records may still be committed; the caller will
			// retry and the duplicates carry new IDs, which
			// at-least-once allows.
			return ctx.Err()
		}
	}
	return nil
}

// prepare encodes it's PUT record (adopting its body file, sealing its
// body when the queue has a key) and sets its ID and Enqueued.
func (q *Queue) prepare(it *queue.Item) (*writeReq, error) {
	q.ItemID(it)
	it.Enqueued = time.Now()
	if it.After = normAfter(it.Key, it.After); len(it.After) > maxAfterKeys {
		return nil, fmt.Errorf("put item %s: %d keys to come after, at most %d", it.ID, len(it.After), maxAfterKeys)
	}
	var file string
	var fsize int64
	var sealed bool
	if it.BodyFile != "" {
		var err error
		if file, fsize, sealed, err = q.adoptBody(it.BodyFile, it.ID); err != nil {
			return nil, fmt.Errorf("put item %s: %w", it.ID, noSpace(err))
		}
	}
	var rec, body []byte
	switch {
	case file != "":
		rec = encodePutHead(it, file, fsize, sealed, 0)
	case q.opts.Key != nil:
		// Sealing writes the body into the record: still one copy of
		// it (the writer copies the record into its batch).
		rec = encodePutHead(it, "", 0, true, len(it.Body)+seal.Overhead)
		rec = q.opts.Key.Seal(rec, it.Body, []byte(it.ID))
	default:
		rec = encodePutHead(it, "", 0, false, 0)
		body = it.Body
	}
	if size := len(rec) + len(body); size > maxRecordLen {
		return nil, fmt.Errorf("put item %s: %d bytes is more than the %d a record holds", it.ID, size, maxRecordLen)
	}
	m := &meta{size: int64(len(rec) + len(body)), enqueued: it.Enqueued.UnixNano(), attempts: it.Attempts, id: it.ID, key: it.Key, hidx: -1}
	m.setFile(file, fsize)
	m.setAfter(slices.Clone(it.After)) // enqueueLocked swaps in the keyStates' copies
	return &writeReq{rec: rec, body: body, put: m, done: make(chan error, 1)}, nil
}

// ItemID sets it.ID as Put would, when it is empty, and returns it: a
// caller that must record durably which item it is about to put (`ferry
// held release`) learns the ID before the Put.
func (q *Queue) ItemID(it *queue.Item) string {
	if it.ID == "" {
		if _, err := ulid.ParseStrict(bodyID(it.BodyFile)); it.BodyFile != "" && err == nil {
			// CreateBody sealed the file for this ID.
			it.ID = bodyID(it.BodyFile)
		} else {
			it.ID = q.ids.next()
		}
	}
	return it.ID
}

// Holds reports whether item id is stored in the queue, waiting (or being
// delivered) or as a dead letter.
func (q *Queue) Holds(id string) bool {
	q.mu.Lock()
	for _, m := range q.items {
		if m.id == id {
			q.mu.Unlock()
			return true
		}
	}
	q.mu.Unlock()
	_, dead := q.dead.name(id)
	return dead
}

// CopiesBody reports that Put keeps nothing of Item.Body once it has
// returned nil: callers may reuse the buffer (pipeline.BodyCopier).
func (q *Queue) CopiesBody() bool { return true }

// putInline writes and syncs r on the calling goroutine when it is the
// only Put in progress and the writer is idle, and reports whether it did.
// A lone closed-loop producer (one MLLP connection) then pays for its
// write and fdatasync only, not for handing the record to writeLoop and
// the answer back from syncLoop (three goroutine wake-ups, ≈ 30 µs here).
// Under concurrency the pipelined writer does the work, so batches still
// form. Nothing may be written or awaiting its sync (unsynced == 0), so
// seqs are still published in order.
func (q *Queue) putInline(reqs []*writeReq) bool {
	if q.activePuts.Load() != 1 || len(q.reqs) != 0 || !q.wmu.TryLock() {
		return false
	}
	defer q.wmu.Unlock()
	if q.unsynced.Load() != 0 || len(q.reqs) != 0 {
		return false
	}
	if w := q.write(reqs); w != nil {
		q.commit([]*written{w})
	}
	return true
}

// Get leases the next ready item, blocking until there is one, ctx is
// done or the queue is closed (queue.ErrClosed).
func (q *Queue) Get(ctx context.Context) (*queue.Item, queue.AckFunc, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, nil, queue.ErrClosed
		}
		if len(q.ready) == 0 {
			ch := q.notify
			q.notifyTaken = true
			q.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		m := heap.Pop(&q.ready).(*meta)
		m.leased = true
		q.leased++
		q.eachKey(m, func(ks *keyState) { ks.busy = true })
		attempts := m.attempts
		q.mu.Unlock()

		it, err := q.readItem(m)
		if isKeyError(err) {
			// An operator problem, not damage: the item stays for
			// when the right key is configured.
			q.unlease(m)
			q.log.Error("queue item sealed with a key that is not configured", "id", m.id, "reason", err.Error())
			return nil, nil, fmt.Errorf("get item %s: %w", m.id, err)
		}
		if errors.Is(err, errCorrupt) {
			q.dropCorrupt(m, err)
			continue
		}
		if err != nil {
			// An I/O error (or Close closing the file under us) says
			// nothing about the item: give the lease back untouched.
			q.unlease(m)
			if q.isClosed() {
				return nil, nil, queue.ErrClosed
			}
			return nil, nil, fmt.Errorf("get item %s: %w", m.id, err)
		}
		it.Attempts = attempts
		return it, q.ackFunc(m, it), nil
	}
}

// readItem reads and checks the PUT record of m from its segment. The
// segment cannot be deleted meanwhile: m is leased, so it is live. A body
// kept in a file is not read: the item gets Open and Size instead.
func (q *Queue) readItem(m *meta) (*queue.Item, error) {
	rec := make([]byte, m.size)
	if _, err := m.seg.f.ReadAt(rec, m.off); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", filepath.Base(m.seg.path), m.off, err)
	}
	if parseHeader(rec) != len(rec) {
		return nil, fmt.Errorf("%s at %d: %w: length changed", filepath.Base(m.seg.path), m.off, errCorrupt)
	}
	if err := checkRecord(rec); err != nil {
		return nil, fmt.Errorf("%s at %d: %w", filepath.Base(m.seg.path), m.off, err)
	}
	it, seq, file, fsize, err := decodePut(rec)
	if err != nil {
		return nil, err
	}
	if seq != m.seq || it.ID != m.id {
		return nil, fmt.Errorf("%s at %d: %w: holds seq %d, want %d", filepath.Base(m.seg.path), m.off, errCorrupt, seq, m.seq)
	}
	if file != "" {
		if err := q.openBody(it, file, fsize, isSealed(rec)); err != nil {
			return nil, err
		}
	} else if isSealed(rec) {
		if q.opts.Key == nil {
			return nil, ErrNoKey
		}
		body, err := q.opts.Key.Open(nil, it.Body, []byte(it.ID))
		if err != nil {
			return nil, fmt.Errorf("%s at %d: %w", filepath.Base(m.seg.path), m.off, asCorrupt(err))
		}
		it.Body = body
	}
	return it, nil
}

// dropCorrupt takes an item whose record went bad on disk after Open out
// of the queue, leaving a dead letter with what is still known about it.
func (q *Queue) dropCorrupt(m *meta, cause error) {
	q.log.Error("queue item unreadable, moved to dead letters", "id", m.id, "seq", m.seq, "reason", cause.Error())
	dl := &DeadLetter{
		ID: m.id, Key: m.key, Attempts: m.attempts, Seq: m.seq,
		Enqueued: time.Unix(0, m.enqueued), Died: time.Now(),
		Reason: "corrupt record on disk: " + cause.Error(), Corrupt: true,
	}
	if err := q.dead.write(dl); err != nil {
		q.log.Error("queue dead letter not written", "id", m.id, "reason", err.Error())
	} else {
		q.trackDeadLetter(m)
	}
	q.mu.Lock()
	q.corrupt++
	q.mu.Unlock()
	if err := q.settle(m); err != nil {
		q.log.Error("queue settle failed", "id", m.id, "reason", err.Error())
	}
}

// deadLetterRetry is how long an item whose dead letter could not be
// written (a full disk) waits before it is delivered again.
const deadLetterRetry = time.Minute

// ackFunc returns the AckFunc for one lease. Only the first call counts.
func (q *Queue) ackFunc(m *meta, it *queue.Item) queue.AckFunc {
	var used atomic.Bool
	return func(ctx context.Context, err error) error {
		if !used.CompareAndSwap(false, true) {
			return fmt.Errorf("ack item %s: lease already settled", m.id)
		}
		switch {
		case err == nil:
			q.noteDelivered(m)
			return q.settle(m)
		case queue.IsPermanent(err):
			if q.isClosed() {
				return queue.ErrClosed
			}
			dl := &DeadLetter{
				ID: it.ID, Key: it.Key, After: it.After, Source: it.Source, Attrs: it.Attrs,
				Attempts: m.attempts + 1, Enqueued: it.Enqueued, Died: time.Now(),
				Reason: err.Error(), Seq: m.seq, Body: it.Body, KeyedWith: q.keyedWith(m),
			}
			if body, cut := queue.OutcomeOf(err); len(body) > 0 {
				if len(body) > queue.MaxOutcomeBytes {
					body, cut = body[:queue.MaxOutcomeBytes], true
				}
				dl.Outcome, dl.OutcomeTruncated = string(body), cut
			}
			if errors.Is(err, errCorrupt) {
				// Its body file failed to verify midway (damagedBody):
				// a stub, as for a record damaged on disk, since no
				// retry would deliver it.
				q.log.Error("queue item body damaged on disk, moved to dead letters", "id", m.id, "seq", m.seq, "reason", err.Error())
				dl.Corrupt = true
				q.mu.Lock()
				q.corrupt++
				q.mu.Unlock()
			} else if f := m.file(); f != "" {
				dl.bodySrc = filepath.Join(q.bodiesDir(), f)
			}
			if derr := q.dead.write(dl); derr != nil {
				// Keep the item, but not ready at once: it would go
				// straight back to the exchange, which has just
				// refused it. It is tried again after deadLetterRetry
				// (or at the next start), when the disk may have room.
				if rerr := q.releaseUntil(m, time.Now().Add(deadLetterRetry), false); rerr != nil {
					return errors.Join(derr, rerr)
				}
				return derr
			}
			q.trackDeadLetter(m)
			return q.settle(m)
		default:
			at, _ := queue.NotBeforeOf(err)
			return q.releaseUntil(m, at, queue.NotBeforeDurableOf(err))
		}
	}
}

func (q *Queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// settle removes a leased item (delivered or dead-lettered) and queues its
// ACK record for the next group commit.
func (q *Queue) settle(m *meta) error { return q.settleIf(m, nil) }

// settleIf is settle, unless check, called under mu, returns an error: a
// caller that does not hold m's lease (Purge) checks there that m is
// still unsettled and unleased, in the same critical section as the
// removal, so that a Get cannot lease it in between.
func (q *Queue) settleIf(m *meta, check func() error) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	if check != nil {
		if err := check(); err != nil {
			q.mu.Unlock()
			return err
		}
	}
	q.removeLocked(m)
	seg := m.seg
	q.inflight.Add(1)
	q.mu.Unlock()
	if h := q.hookSettle.Load(); h != nil {
		(*h)(m.seq)
	}
	r := &writeReq{rec: encodeAck(m.seq), settles: seg, settled: m}
	if f := m.file(); f != "" {
		r.remove = filepath.Join(q.bodiesDir(), f)
	}
	q.reqs <- r
	q.inflight.Done()
	return nil
}

// release returns a leased item for redelivery with one more attempt.
func (q *Queue) release(m *meta) error { return q.releaseUntil(m, time.Time{}, false) }

// releaseUntil is release for an item that is not to be delivered again
// before at (queue.NotBefore): it is no longer leased, but it stays out
// of the ready heap, and its key stays busy, until then (see delay.go).
// With durable (queue.NotBeforeDurable) the NACK record carries the
// time, so that the wait holds after a restart too (the exchange may
// still be committing an attempt whose answer never came); like any NACK
// it goes with the next group commit, without a sync of its own. Without
// it the time is not persisted, and after a restart the item is ready at
// once.
func (q *Queue) releaseUntil(m *meta, at time.Time, durable bool) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	m.attempts++
	delay := time.Until(at) > 0
	var due int64
	if delay && durable {
		due = at.UnixNano()
	}
	// Encoded under mu: once requeued, another consumer may lease the
	// item and count the next attempt.
	rec := encodeNack(m.seq, m.attempts, due, time.Now().UnixNano())
	if delay {
		q.delayLocked(m, at, durable)
	} else {
		q.requeueLocked(m)
	}
	q.inflight.Add(1)
	q.mu.Unlock()
	q.reqs <- &writeReq{rec: rec}
	q.inflight.Done()
	return nil
}

// unlease makes a leased item ready again without counting an attempt.
func (q *Queue) unlease(m *meta) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requeueLocked(m)
}

// requeueLocked returns a leased item to the ready heap (releasing its
// key for the next Get) and wakes a waiting Get.
func (q *Queue) requeueLocked(m *meta) {
	m.leased = false
	q.leased--
	q.eachKey(m, func(ks *keyState) { ks.busy = false })
	heap.Push(&q.ready, m)
	q.wakeLocked()
}

// removeLocked forgets an unsettled item whose ACK record is about to be
// written. Its keys are held (see keyState): their next items are made
// ready by releaseHeldLocked once that record is synced.
func (q *Queue) removeLocked(m *meta) {
	delete(q.items, m.seq)
	wasLeased := m.leased
	if m.leased {
		q.leased--
		m.leased = false
	}
	if m.hidx >= 0 {
		heap.Remove(&q.ready, int(m.hidx))
	}
	q.liveBytes -= m.bytes()
	q.spillBytes -= m.spillSize()
	wasDelayed := m.delayed
	m.delayed = false // a pending timer entry skips it (see delay.go)
	q.eachBehind(m, func(ks *keyState) {
		// Settled while still waiting (a purge, say).
		if i := slices.Index(ks.behind, m); i >= 0 {
			ks.behind = slices.Delete(ks.behind, i, i+1)
		}
	})
	if m.ordered() {
		q.eachKey(m, func(ks *keyState) {
			if len(ks.items) > 0 && ks.items[0] == m {
				// The usual case, the key's oldest item settling: O(1),
				// so a long backlog of one key drains in linear time.
				ks.items[0] = nil
				ks.items = ks.items[1:]
			} else {
				for i, x := range ks.items {
					if x == m {
						ks.items = append(ks.items[:i], ks.items[i+1:]...)
						break
					}
				}
			}
			if wasLeased || wasDelayed {
				ks.busy = false
			}
			ks.held++
		})
	}
	for q.lowSeq < q.nextSeq && q.items[q.lowSeq] == nil {
		q.lowSeq++
	}
}

// releaseHeldLocked ends the hold that settling m put on its keys, its
// ACK record now synced, and makes the next item of each ready (unless
// another settlement still holds it). A settlement that is never synced
// (the queue stopped, see full.go) keeps its keys held until the restart,
// which delivers again, in order, what it had settled.
func (q *Queue) releaseHeldLocked(m *meta) {
	if !m.ordered() {
		return
	}
	// The heads are checked once every key is released: one may wait
	// for m under two keys.
	var one [2]*meta
	heads := one[:0]
	var freed []*meta
	q.eachKey(m, func(ks *keyState) {
		ks.held--
		if ks.held > 0 {
			return
		}
		if len(ks.behind) > 0 {
			// The items behind the key that nothing stored before
			// them holds any more; behind is in seq order.
			n := 0
			for n < len(ks.behind) && !ks.blocks(ks.behind[n]) {
				n++
			}
			for _, b := range ks.behind[:n] {
				// Free for good: a later item of the key, settled
				// and not yet synced, must not hold it again (nothing
				// would free it a second time).
				b.dropBehind(ks.key)
			}
			freed = append(freed, ks.behind[:n]...)
			// Resliced, not shifted: a long export stream can wait
			// behind a key that frees a few items at a time.
			clear(ks.behind[:n])
			ks.behind = ks.behind[n:]
		}
		switch {
		case len(ks.items) == 0:
			delete(q.keys, ks.key) // and behind is empty: nothing blocks
		default:
			heads = append(heads, ks.items[0])
		}
	})
	for _, h := range heads {
		q.readyIfHeadLocked(h)
	}
	for _, b := range freed {
		q.readyIfHeadLocked(b)
	}
}

// readyIfHeadLocked makes m ready when it heads the items of every key
// it is ordered under and is neither ready, leased nor delayed already.
func (q *Queue) readyIfHeadLocked(m *meta) {
	if m.hidx >= 0 || m.leased || m.delayed {
		return
	}
	head := true
	q.eachKey(m, func(ks *keyState) { head = head && ks.items[0] == m && !ks.busy && ks.held == 0 })
	q.eachBehind(m, func(ks *keyState) { head = head && !ks.blocks(m) })
	if head {
		heap.Push(&q.ready, m)
		q.wakeLocked()
	}
}

// enqueueLocked adds a newly stored item in seq order: at the end of the
// items of each key it is ordered under and behind the keys it waits
// behind, ready when it heads them all and waits behind none.
func (q *Queue) enqueueLocked(m *meta) {
	q.items[m.seq] = m
	head := q.behindLocked(m)
	if !m.ordered() {
		if head {
			heap.Push(&q.ready, m)
			q.wakeLocked()
		}
		return
	}
	join := func(key string) string {
		ks := q.keys[key]
		if ks == nil {
			ks = &keyState{key: key}
			q.keys[key] = ks
		}
		ks.items = append(ks.items, m)
		head = head && len(ks.items) == 1 && !ks.busy && ks.held == 0
		return ks.key
	}
	if m.key != "" {
		m.key = join(m.key)
	}
	after := m.after()
	for i, k := range after {
		if _, behind := queue.BehindKey(k); !behind {
			after[i] = join(k)
		}
	}
	if head {
		heap.Push(&q.ready, m)
		q.wakeLocked()
	}
}

// behindLocked puts m, newly stored, in the behind list of each key it
// waits behind that holds something stored before it, and reports
// whether none does. The keys that hold nothing are dropped from m: items
// are enqueued in seq order, so nothing stored later can hold m back.
func (q *Queue) behindLocked(m *meta) bool {
	after := m.after()
	free, drop := true, false
	for i, k := range after {
		key, behind := queue.BehindKey(k)
		if !behind {
			continue
		}
		if ks := q.keys[key]; ks != nil && ks.blocks(m) {
			ks.behind = append(ks.behind, m)
			free = false
			continue
		}
		after[i], drop = "", true
	}
	if drop {
		m.setAfterKeys(slices.DeleteFunc(after, func(k string) bool { return k == "" }))
	}
	return free
}

// dropBehind forgets that m waits behind key, once nothing holds it there.
func (m *meta) dropBehind(key string) {
	m.setAfterKeys(slices.DeleteFunc(m.after(), func(k string) bool {
		b, behind := queue.BehindKey(k)
		return behind && b == key
	}))
}

// setAfterKeys replaces the After keys of an enqueued item, dropping its
// metaExt when nothing is left in it (most items of an export: nothing
// holds them back).
func (m *meta) setAfterKeys(after []string) {
	if len(after) == 0 && m.ext.file == "" && m.ext.orig == 0 {
		m.ext = nil
		return
	}
	m.ext.after = after
}

// wakeLocked wakes the Gets waiting for a ready item. Nobody waits while
// the consumers are busy or backing off (the exchange down, items piling
// up), and then an item stored costs no channel: notify is replaced only
// once a Get has taken it.
func (q *Queue) wakeLocked() {
	if !q.notifyTaken {
		return
	}
	close(q.notify)
	q.notify = make(chan struct{})
	q.notifyTaken = false
}

// Len is the number of items stored and not yet settled.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Sync waits until every record handed to the writer so far (ACK and
// NACK records included) is on disk.
func (q *Queue) Sync(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return queue.ErrClosed
	}
	q.inflight.Add(1)
	q.mu.Unlock()
	r := &writeReq{done: make(chan error, 1)}
	q.reqs <- r
	q.inflight.Done()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the queue: Get and Put return queue.ErrClosed, pending ACK
// and NACK records are synced, files are closed and the directory lock is
// released. Items leased and not settled are delivered again after the
// next Open. Close is idempotent.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.wakeLocked()
	if q.laterT != nil {
		q.laterT.Stop()
	}
	q.mu.Unlock()

	q.inflight.Wait()
	close(q.reqs)
	select {
	case <-q.writerDone:
	case <-ctx.Done():
		// The writer finishes on its own; the lock stays until it has.
		go func() { <-q.writerDone; q.closeFiles(); unlockFile(q.lock) }()
		return fmt.Errorf("close queue %s: %w", q.dir, ctx.Err())
	}
	q.mu.Lock()
	failed := q.failed
	q.mu.Unlock()
	var err error
	if failed == nil {
		err = q.cur.trimZeros()
	}
	if cerr := q.closeFiles(); err == nil {
		err = cerr
	}
	if uerr := unlockFile(q.lock); err == nil {
		err = uerr
	}
	if err == nil && failed != nil {
		err = failed
	}
	if err != nil {
		return fmt.Errorf("close queue %s: %w", q.dir, err)
	}
	return nil
}

func (q *Queue) closeFiles() error {
	var errs []error
	for _, s := range q.segs {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeLoop is the single writer: it takes every waiting request, writes
// them with one write and hands them to syncLoop, which syncs and answers
// them. The two overlap (pipelined group commit): while the disk syncs one
// batch, the writer already gathers and writes the next, and the next
// sync covers everything written meanwhile. A producer is answered only by
// a sync that started after its record was written, so every ACK still
// follows the fdatasync of its own bytes.
//
// Batching only what is already waiting splits N closed-loop producers
// into two halves that take turns (one half is answered while the other
// waits for the next sync), so each sync carries N/2 items. To merge them,
// the writer remembers how many Puts were in flight when the last batch
// was answered and, if fewer than that are waiting now, waits for the rest
// a little: at most one recent sync time. A lone producer pays nothing;
// for N closed-loop producers N/(sync+wait) is never less than the N/2
// per sync of the split, and it doubles when they all make it (the idea
// of PostgreSQL's commit_delay, sized by measurement, not configuration).
func (q *Queue) writeLoop() {
	syncDone := make(chan struct{})
	go q.syncLoop(syncDone)
	defer func() {
		q.flushCarry()
		close(q.syncq)
		<-syncDone
		close(q.writerDone)
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for r := range q.reqs {
		batch := []*writeReq{r}
		size, puts := len(r.rec)+len(r.body), 0
		if r.put != nil {
			puts++
		}
		var deadline time.Time
	drain:
		for size < maxBatchBytes {
			var r *writeReq
			var ok bool
			select {
			case r, ok = <-q.reqs:
			default:
				syncTime := time.Duration(q.syncTime.Load())
				if puts == 0 || puts >= int(q.expect.Load()) || syncTime <= 0 {
					break drain
				}
				if deadline.IsZero() {
					deadline = time.Now().Add(min(syncTime, maxCommitDelay))
				}
				wait := time.Until(deadline)
				if wait <= 0 {
					break drain
				}
				timer.Reset(wait)
				select {
				case r, ok = <-q.reqs:
					timer.Stop()
				case <-timer.C:
					break drain
				}
			}
			if !ok {
				break drain
			}
			batch = append(batch, r)
			size += len(r.rec) + len(r.body)
			if r.put != nil {
				puts++
			}
		}
		q.wmu.Lock()
		w := q.write(batch)
		if w != nil {
			q.pending.Add(1)
			q.unsynced.Add(1)
		}
		q.wmu.Unlock()
		if w != nil {
			q.syncq <- w
		}
	}
}

// written is a batch the writer has written and syncLoop has yet to sync.
type written struct {
	batch   []*writeReq
	seg     *segment
	n       int64         // bytes written to seg
	nextSeq uint64        // the writer's next seq after this batch
	took    time.Duration // the write call: with direct writes, the disk's part of the commit
}

// write assigns seqs to one batch and writes it to the newest segment; the
// caller syncs and publishes it (commit). It returns nil when the batch
// failed (and was answered). A write that fails (a full disk) fails its
// batch only; see full.go. The caller holds wmu.
func (q *Queue) write(batch []*writeReq) *written {
	if len(q.carry) > 0 {
		// Settlements from a batch that failed go first, in order.
		batch = append(q.carry, batch...)
		q.carry = nil
	}
	// A batch with nothing to write while writes fail (Sync's barrier,
	// retryWrite's) probes the disk where the next record goes (probe)
	// and leaves a rotation to the next record: the timer's barriers
	// count no failed write of their own.
	probing := q.writeFails > 0 && !slices.ContainsFunc(batch, func(r *writeReq) bool { return len(r.rec) > 0 })
	failed := q.failedErr()
	if failed == nil && q.cur.wend >= q.opts.SegmentBytes && !probing {
		// Rotation and relocation expect the log to be synced and
		// published up to its end: let syncLoop catch up first.
		q.pending.Wait()
		failed = q.failedErr()
		if failed == nil {
			if err := q.rotate(); err != nil {
				// Tried again with the next batch.
				q.reject(batch, err)
				return nil
			}
			if err := q.relocateOldest(); err != nil {
				// Only disk use depends on it: the next rotation
				// tries again.
				q.log.Warn("queue items not relocated", "reason", err.Error())
			}
			failed = q.failedErr()
		}
	}
	if failed != nil {
		q.finish(batch, failed)
		return nil
	}
	seg := q.cur
	buf := q.wbuf[:0]
	seq := q.wseq
	for _, r := range batch {
		start := len(buf)
		buf = append(buf, r.rec...)
		buf = append(buf, r.body...)
		r.body = nil // the producer's buffer is not read again
		if r.put != nil {
			rec := buf[start:]
			setSeq(rec, seq)
			sealRecord(rec)
			r.put.seq = seq
			r.put.seg = seg
			r.put.off = seg.wend + int64(start)
			seq++
		}
	}
	var took time.Duration
	if len(buf) > 0 {
		start := time.Now()
		err := q.writeAt(seg, buf)
		took = time.Since(start)
		if err != nil {
			// The seqs are not used: the next batch takes them.
			q.failedBytes = len(buf)
			q.reject(batch, q.writeFailed(seg, err))
			return nil
		}
		seg.wend += int64(len(buf))
		if q.writeFails > 0 {
			q.writeRecovered()
		}
		q.prezero(seg)
	} else if probing {
		q.probe(seg)
	}
	n := int64(len(buf))
	if cap(buf) <= maxBatchBytes {
		q.wbuf = buf[:0]
	} else {
		q.wbuf = nil
	}
	q.wseq = seq
	return &written{batch: batch, seg: seg, n: n, nextSeq: seq, took: took}
}

// writeAt writes buf at the end of seg's log: directly when it can (see
// direct.go), buffered otherwise. The caller holds wmu.
func (q *Queue) writeAt(seg *segment, buf []byte) error {
	ok, err := seg.appendDirect(buf, seg.wend, &q.dbuf)
	if errors.Is(err, errDirect) {
		q.log.Warn("queue direct writes refused by the file system; writing through the page cache from now on", "reason", err.Error())
		q.direct = false
		q.gate.off.Store(true)
		seg.dropDirect()
		ok = false
	}
	if ok {
		return err
	}
	_, err = seg.f.WriteAt(buf, seg.wend)
	return err
}

// useDirect gives seg, the newest segment, its direct-write descriptor
// when the queue writes directly. The caller is the writer (or Open).
func (q *Queue) useDirect(seg *segment) {
	if q.direct && seg.dio == nil {
		seg.dio = openDirect(seg.path)
		if seg.dio != nil {
			seg.dio.gate = &q.gate
		}
	}
}

// syncLoop syncs what the writer has written, every batch waiting with
// one fdatasync, then publishes the items and answers the producers.
func (q *Queue) syncLoop(done chan<- struct{}) {
	defer close(done)
	var group []*written
	for w := range q.syncq {
		group = append(group[:0], w)
	more:
		for {
			select {
			case w, ok := <-q.syncq:
				if !ok {
					break more
				}
				group = append(group, w)
			default:
				break more
			}
		}
		q.commit(group)
		for range group {
			q.unsynced.Add(-1)
			q.pending.Done()
		}
		clear(group)
	}
}

// commit syncs a group of written batches, then publishes their items.
func (q *Queue) commit(group []*written) {
	if h := q.hookSync.Load(); h != nil && slices.ContainsFunc(group, func(w *written) bool {
		return slices.ContainsFunc(w.batch, func(r *writeReq) bool { return r.settled != nil })
	}) {
		(*h)()
	}
	failed := q.failedErr()
	if failed == nil && slices.ContainsFunc(group, func(w *written) bool {
		return slices.ContainsFunc(w.batch, func(r *writeReq) bool { return r.settled != nil })
	}) {
		q.syncLogs()
	}
	if failed == nil {
		start := time.Now()
		var synced *segment
		for _, w := range group {
			if w.n == 0 || w.seg == synced {
				continue
			}
			if err := q.syncSegment(w.seg.f); err != nil {
				// After a failed fsync the file's tail is unknown
				// (see "fsyncgate"): stop taking items until reopened.
				failed = fmt.Errorf("sync queue segment %s: %w", filepath.Base(w.seg.path), err)
				q.stop(failed)
				failed = q.failedErr()
				break
			}
			synced = w.seg
		}
		if synced != nil && failed == nil {
			// A commit's disk time is its write and its sync: with
			// direct writes the data reaches the disk in the write,
			// and the sync only flushes the disk's cache. That is what
			// the flush histogram reports and what the commit delay
			// (writeLoop) waits up to for the rest of the producers.
			took := time.Since(start)
			commit := took
			for _, w := range group {
				commit = max(commit, took+w.took)
			}
			q.flushes.Observe(commit)
			old := time.Duration(q.syncTime.Load())
			q.syncTime.Store(int64((3*old + commit) / 4))
			q.commits.Add(1)
		}
	}
	if failed != nil {
		for _, w := range group {
			q.finish(w.batch, failed)
		}
		return
	}

	q.mu.Lock()
	for _, w := range group {
		q.nextSeq = w.nextSeq
		w.seg.size += w.n
		for _, r := range w.batch {
			if m := r.put; m != nil {
				q.reserved -= m.bytes()
				q.reservedN--
				q.liveBytes += m.bytes()
				q.spillBytes += m.spillSize()
				w.seg.live++
				q.enqueueLocked(m)
			}
			if r.settles != nil {
				r.settles.live--
			}
			if r.settled != nil {
				q.releaseHeldLocked(r.settled)
			}
		}
	}
	q.mu.Unlock()
	q.expect.Store(q.activePuts.Load())
	for _, w := range group {
		for _, r := range w.batch {
			if r.done != nil {
				r.done <- nil
			}
			if r.remove != "" {
				// The settlement is durable now. A crash before this
				// removal leaves an orphan, which Open deletes.
				if err := os.Remove(r.remove); err != nil && !errors.Is(err, fs.ErrNotExist) {
					q.log.Warn("queue body file not removed", "file", filepath.Base(r.remove), "reason", err.Error())
				}
			}
		}
	}
	q.deleteSettledSegments()
}

func (q *Queue) failedErr() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failed
}

// finish fails a batch of a queue that has stopped (with err, see stop).
// Nothing of it is kept: the records may be on disk or not, which only the
// replay after a restart can tell.
func (q *Queue) finish(batch []*writeReq, err error) {
	q.mu.Lock()
	for _, r := range batch {
		if r.put != nil {
			q.reserved -= r.put.bytes()
			q.reservedN--
		}
	}
	q.mu.Unlock()
	for _, r := range batch {
		if r.done != nil {
			r.done <- err
		}
	}
}

// rotate starts a new segment; the old one stays open for reads. When it
// fails the current segment stays the newest, and the next batch tries
// again; only a failed sync stops the queue.
func (q *Queue) rotate() error {
	if err := q.cur.trimZeros(); err != nil {
		var se *syncError
		if errors.As(err, &se) {
			q.stop(err)
		}
		return err
	}
	seg, err := createSegment(q.dir, q.cur.idx+1, q.nextSeq)
	if err != nil {
		return noSpace(err)
	}
	q.cur.dropDirect()
	q.useDirect(seg)
	q.mu.Lock()
	q.segs = append(q.segs, seg)
	q.cur = seg
	q.mu.Unlock()
	return nil
}

// deleteSettledSegments removes the oldest segments while they hold no
// unsettled item. Only a prefix is removed: a newer segment may hold the
// ACK records for items of an older one, so removing it first could bring
// settled items back after a crash.
func (q *Queue) deleteSettledSegments() {
	q.mu.Lock()
	var gone []*segment
	for len(q.segs) > 1 && q.segs[0].live == 0 && q.segs[0] != q.cur {
		gone = append(gone, q.segs[0])
		q.segs = q.segs[1:]
	}
	q.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	q.rmMu.Lock()
	defer q.rmMu.Unlock()
	for _, s := range gone {
		s.close()
		q.unremoved = append(q.unremoved, s.path)
	}
	// A segment that cannot be removed now is tried again at the next
	// compaction that settles a segment, and the newer ones stay until it
	// is gone: removing them
	// first would lose the ACK records of its items, which would come
	// back at the next start and be delivered again.
	removed := false
	for len(q.unremoved) > 0 {
		path := q.unremoved[0]
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			q.log.Warn("queue segment not removed yet; it is tried again at the next compaction",
				"segment", filepath.Base(path), "waiting", len(q.unremoved), "reason", err.Error())
			break
		}
		q.unremoved = q.unremoved[1:]
		removed = true
	}
	if !removed {
		return
	}
	if err := durable.SyncDir(q.dir); err != nil {
		q.log.Warn("queue directory not synced after segment removal", "reason", err.Error())
	}
}

// seqHeap orders ready items by seq (oldest first).
type seqHeap []*meta

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h seqHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = int32(i)
	h[j].hidx = int32(j)
}
func (h *seqHeap) Push(x any) {
	m := x.(*meta)
	m.hidx = int32(len(*h))
	*h = append(*h, m)
}
func (h *seqHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	m.hidx = -1
	return m
}
