// Package folder is the watched-folder engine under every file source of
// ferry (EHR export drops, fax inboxes). It finds finished files, claims each
// one by an atomic rename, hands it to an adapters.Consumer and settles it
// only by the Consumer's answer:
//
//	<path>/x.xml ─ settled? unlocked? marker? ─► rename ─► <work>/processing/x.xml
//	   processing/x.xml ─ Consume nil ───────► done/YYYY-MM-DD/x.xml (or deleted)
//	                    ─ Consume permanent ─► failed/x.xml + failed/x.xml.error.txt
//	                    ─ Consume other ─────► stays; retried with backoff, and after a restart
//	                    ─ cannot be read ────► stays; retried with backoff, failed/ after ReadRetryFor
//
// A claimed file is ours: whatever is in processing/ at start is consumed
// again, so a crash between the claim and the durable enqueue loses nothing.
// The SHA-256 of the content goes into a durable seen-set after a successful
// Consume, so a second drop of the same export (or the file found again after
// a crash between the enqueue and the move) is moved to done/ without a
// second Consume. HL7 batch files that were partly enqueued before a crash
// are re-consumed whole; the pipeline's message-level dedup drops the
// messages it already has.
//
// The work folder is <path>/.ferry unless Config.WorkDir moves it (kind
// hylafax: beside the recvq, which faxcron purges). Start opens the watched
// folder, the work folder and any done_dir or failed_dir as os.Roots, and
// every create, rename and delete goes through them, so a writer of the
// watched folder who swaps .ferry for a symbolic link while ferry runs
// redirects nothing; claims stop until the work folder is back.
//
// Files are found by fsnotify events and by a full rescan on a gocron
// schedule, because SMB and NFS shares send no events (fsnotify#408) and an
// event queue can overflow (fsnotify.ErrEventOverflow triggers a rescan).
package folder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue"
)

// Meta keys set on every Raw the engine hands over. Their values hold no
// PHI, except that a file name may (exports named after the patient).
const (
	MetaFolder   = "folder"   // Config.Name
	MetaKind     = "kind"     // Config.Kind
	MetaFile     = "file"     // original file name
	MetaPath     = "path"     // absolute path of the claimed file in processing/
	MetaSize     = "size"     // bytes, decimal
	MetaSHA256   = "sha256"   // hex SHA-256 of the content (the dedup key)
	MetaModTime  = "mtime"    // RFC 3339 UTC modification time
	MetaAttempt  = "attempt"  // 1 for the first Consume of this claim, then 2, 3 …
	MetaSidecars = "sidecars" // comma-separated sidecar file names, if any
	// MetaRetaken is set on a file whose content was taken before, taken
	// again because another was taken under its name since (an export
	// undoing the night before's change): the first 16 bytes of that
	// other file's seen-set key, in hex. A consumer that knows the content (a CSV's bundles)
	// tells it from a re-drop by it.
	MetaRetaken = "retaken_after"
)

// Option changes how an Engine is built.
type Option func(*Engine)

// WithDeduper replaces the engine's own seen-set (Path/.ferry/seen.sha256)
// with d, e.g. the gateway-wide queue/dedup store.
func WithDeduper(d Deduper) Option { return func(e *Engine) { e.dedup = d } }

// WithNamesAsMetadata tells the engine that an input's file name carries
// what the consumer makes of it (a fax inbox's file name patterns: the
// patient's MRN), as a sidecar does: the seen-set then keys a file by its
// name as well as its content, so the same content under a name that
// says something else (a misfiled fax renamed with the right MRN) is
// consumed again, not skipped as a duplicate. The same content under the
// same name is still one.
func WithNamesAsMetadata() Option { return func(e *Engine) { e.namesMeta = true } }

// WithScheduler runs the rescan job on the gateway's gocron scheduler
// instead of one the engine owns. The engine removes its job on Shutdown.
func WithScheduler(s gocron.Scheduler) Option { return func(e *Engine) { e.sched = s } }

// Paths are the engine's working folders.
type Paths struct {
	// Work is the work folder (Config.WorkDir or DefaultWorkDir), which
	// holds processing/, the seen-set and, unless overridden, done/ and
	// failed/.
	Work       string
	Processing string
	Done       string
	Failed     string
}

// Engine watches one folder. Build it with New; it implements
// adapters.Source.
type Engine struct {
	set   adapters.Settings
	cfg   Config
	next  adapters.Consumer
	log   *slog.Logger
	id    string
	paths Paths

	// The folders, opened at Start (fsutil.go's place): every create,
	// rename and delete goes through them, none through a path.
	watched   *os.Root    // the watched folder
	work      *os.Root    // the work folder
	anchor    *os.Root    // a folder holding both: claims are renames in it
	relWatch  string      // the watched folder inside anchor
	relWork   string      // the work folder inside anchor
	workInfo  fs.FileInfo // the work folder as opened, to see it replaced
	proc      place       // processing/
	doneP     place       // done/ or done_dir
	failedP   place       // failed/ or failed_dir
	ownRoots  []*os.Root  // closed at Shutdown
	swapTold  bool        // the swapped work folder was logged
	namesMeta bool        // file names carry metadata (WithNamesAsMetadata)
	dedup     Deduper
	ownDedup  *SeenFile
	lastTaken *LastTaken // the key of the last file taken under each name
	sched     gocron.Scheduler
	ownSched  bool
	jobID     uuid.UUID
	watcher   *fsnotify.Watcher

	// ignore is cfg.Ignore in lower case (IgnoreMatch).
	ignore []string

	// rank orders a set's files (WithRank); nil: by time and name only.
	rank func(string) int

	poked chan struct{} // change events, debounced by the worker
	kick  chan struct{} // rescans: a pass right away

	// rootsMu is held while the running engine's folders are swapped
	// (reopen) or closed (Shutdown), and by PruneDone, which uses them
	// beside the worker.
	rootsMu sync.Mutex

	mu       sync.Mutex
	started  bool
	stopped  bool
	cancel   context.CancelFunc
	runCtx   context.Context // the worker's, ended as Shutdown begins
	wg       sync.WaitGroup
	stopOnce sync.Once
	done     chan struct{}

	// passes, heldSkips and waits count scans and refusals, so tests can wait
	// for "the engine looked and declined" without sleeping.
	passes    atomic.Int64
	heldSkips atomic.Int64
	waits     atomic.Int64 // settled inputs held back for a marker or sidecar
	events    atomic.Int64 // change events of the watched folder
	// inHand counts the files being processed, for the stop to say what
	// it waits for.
	inHand atomic.Int32

	stats counters

	// testHookReady, when set (tests only), runs in a pass for each ready
	// file before it is checked and claimed: it stands for a writer who
	// changes the folder between the listing and the claim.
	testHookReady func(name string)
	// testHookClaim, when set (tests only), runs after a ready file was
	// checked free and before it is claimed: it stands for another
	// process opening it in between (a virus scanner).
	testHookClaim func(name string)
	// testHookOpen, when set (tests only), stands between a claimed
	// file opened for reading and its reader: a share that fails.
	testHookOpen func(f *os.File) adapters.File
	// testHookArchive, when set (tests only), runs as a file is about to
	// be archived in done/ or failed/ ("come") and once its name there
	// is chosen ("named"), before it is moved in.
	testHookArchive func(stage string)

	// emptyLimit is how long an empty input waits for content before it
	// goes to failed/ (defaultEmptyLimit); rankLimit how long a ranked
	// file waits for one of a lower rank (WithRank) before it is taken
	// anyway (the same default).
	emptyLimit time.Duration
	rankLimit  time.Duration
	rankWait   map[string]time.Time // ranked files held back, since when
	// readLimit is how long a claimed file that cannot be read is tried
	// again before it goes to failed/ (ReadRetryFor).
	readLimit time.Duration

	// Worker-only state.
	oddSeen map[string]bool // entries that are not regular files, at the last pass
	seen    map[string]observation
	retry   map[string]retryState
	trouble claimTrouble
	// claimedNow is what processing/ holds (claimed.go).
	claimedNow claimedFiles
	// taken are the inputs claimed in the last lateSidecarMemory, by
	// stem, so that a sidecar that comes after its input was taken is
	// known for one (lateSidecars).
	taken     map[string]takenInput
	takenPrun time.Time // when taken was last pruned
	// leftovers are the inputs the first listing found in processing/,
	// claimed by an earlier run, until they leave it: only such a one
	// may be an input whose settle a crash cut short (markSettling).
	leftovers map[string]bool
	// leftMarkers are the markers of the leftovers, which a crash
	// between a claim and the marker's removal left in the folder
	// (staleMarkers); nil once looked at.
	leftMarkers []string
	// cutFails are the failures a crash may have cut short (cutFailOf,
	// cutLateSidecars), listed from failed/ at the first pass.
	cutFails cutFails
	// lateLooked: the folder's first listing was looked at for late
	// sidecars a crash left there (cutLateSidecars); lateLeft are those
	// whose move is still to be tried again.
	lateLooked bool
	lateLeft   map[string]cutFail
}

// takenInput is an input claimed: its name and when.
type takenInput struct {
	name string
	at   time.Time
	// Of an input taken by an earlier run (takenBefore), only its stem
	// and the day are known; name is empty.
	stem, day string
}

var _ adapters.Source = (*Engine)(nil)

type observation struct {
	size  int64
	mtime time.Time
	since time.Time // when this size and mtime were first seen
	first time.Time // when the file was first seen at all
}

type retryState struct {
	attempts int
	next     time.Time
	first    time.Time // when the file was first seen, or first failed
	// consumed: the Consumer took it, and only its move to done/ (or
	// its removal) is to be tried again.
	consumed bool
	// failed: the Consumer refused it for good, and only its move to
	// failed/ is to be tried again, for this reason; sum and size are
	// the content's, for its .error.txt.
	failed error
	sum    []byte
	size   int64
	// readFails counts the tries in a row that could not read the file,
	// since readSince (readFailed).
	readFails int
	readSince time.Time
}

// New checks cfg and builds an engine that hands files to next. Nothing
// touches the disk before Start.
func New(set adapters.Settings, cfg Config, next adapters.Consumer, opts ...Option) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("folder %q: invalid config: %w", cfg.Name, err)
	}
	if next == nil {
		return nil, fmt.Errorf("folder %q: nil consumer", cfg.Name)
	}
	cfg = cfg.withDefaults()
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("folder %q: path: %w", cfg.Name, err)
	}
	cfg.Path = abs
	e := &Engine{
		set:      set,
		cfg:      cfg,
		next:     next,
		log:      set.Logger,
		id:       set.ID,
		poked:    make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		seen:     map[string]observation{},
		retry:    map[string]retryState{},
		rankWait: map[string]time.Time{},
		taken:    map[string]takenInput{},
	}
	for _, p := range cfg.Ignore {
		e.ignore = append(e.ignore, strings.ToLower(p))
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.id == "" {
		e.id = "folder/" + cfg.Name
	}
	e.emptyLimit = defaultEmptyLimit(cfg.Settle)
	e.rankLimit = e.emptyLimit
	e.readLimit = ReadRetryFor
	if e.paths, err = cfg.ResolvePaths(); err != nil {
		return nil, fmt.Errorf("folder %q: %w", cfg.Name, err)
	}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// Paths returns the processing, done and failed folders.
func (e *Engine) Paths() Paths { return e.paths }

// Config returns the effective configuration, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Start creates the work folders, starts watching and schedules the rescan.
// It returns quickly; the first scan (which also resumes files left in
// processing/ by an earlier run) happens in the background.
func (e *Engine) Start(ctx context.Context, host adapters.Host) (err error) {
	defer func() {
		if err != nil {
			// Shown as a folder whose files cannot be claimed (status
			// page, ferry status) while the gateway tries again.
			e.stats.claimErrors.Add(1)
			e.stats.mu.Lock()
			e.stats.lastClaimError, e.stats.lastClaimErrorAt, e.stats.failing = "not started: "+ErrorClass(err), time.Now(), true
			e.stats.mu.Unlock()
		}
	}()
	return e.start(ctx, host)
}

func (e *Engine) start(_ context.Context, _ adapters.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return fmt.Errorf("folder %q: start after shutdown", e.cfg.Name)
	}
	if e.started {
		return fmt.Errorf("folder %q: already started", e.cfg.Name)
	}
	info, err := os.Stat(e.cfg.Path)
	if err != nil {
		return fmt.Errorf("folder %q: %w", e.cfg.Name, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("folder %q: %s is not a directory", e.cfg.Name, e.cfg.Path)
	}
	if err := e.openFolders(); err != nil {
		e.closeRoots()
		return err
	}
	if e.dedup == nil {
		sf, err := e.openSeen()
		if err != nil {
			e.closeRoots()
			return err
		}
		e.ownDedup, e.dedup = sf, sf
	}
	lt, err := e.openLastTaken()
	if err != nil {
		if e.ownDedup != nil {
			e.ownDedup.Close()
			e.ownDedup, e.dedup = nil, nil
		}
		e.closeRoots()
		return err
	}
	e.lastTaken = lt
	cleanup := func() {
		if e.ownDedup != nil {
			e.ownDedup.Close()
			e.ownDedup, e.dedup = nil, nil
		}
		e.lastTaken.Close()
		if e.watcher != nil {
			e.watcher.Close()
			e.watcher = nil
		}
		e.closeRoots()
	}
	if !e.cfg.Poll {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			err = w.Add(e.cfg.Path)
			if err != nil {
				w.Close()
			}
		}
		if err != nil {
			// inotify limits, odd filesystems: the rescan still finds files.
			e.log.Warn("folder events unavailable; polling only", "folder", e.cfg.Name, "err", err)
		} else {
			e.watcher = w
		}
	}
	if e.sched == nil {
		s, err := gocron.NewScheduler()
		if err != nil {
			cleanup()
			return fmt.Errorf("folder %q: scheduler: %w", e.cfg.Name, err)
		}
		e.sched, e.ownSched = s, true
	}
	job, err := e.sched.NewJob(
		gocron.DurationJob(e.cfg.Rescan),
		gocron.NewTask(e.Rescan),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithName("folder rescan "+e.cfg.Name),
	)
	if err != nil {
		if e.ownSched {
			e.sched.Shutdown()
		}
		cleanup()
		return fmt.Errorf("folder %q: schedule rescan: %w", e.cfg.Name, err)
	}
	e.jobID = job.ID()
	if e.ownSched {
		e.sched.Start()
	}

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.runCtx = cancel, ctx
	e.started = true
	e.wg.Add(1)
	go e.run(ctx)
	if e.watcher != nil {
		e.wg.Add(1)
		go e.watch(ctx, e.watcher)
	}
	return nil
}

// Shutdown stops watching and waits for the file in hand: a Consume in
// progress sees its context cancelled, and its file stays in processing/ for
// the next start. It is idempotent and safe without Start.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.stopped = true
		started := e.started
		e.mu.Unlock()
		if !started {
			close(e.done)
			return
		}
		if n := e.inHand.Load(); n > 0 {
			// A stop is otherwise silent until it ends: say what it
			// waits for, as the MLLP listener does.
			e.log.Info("folder stopping: waiting for the file in hand (stored, or left in processing/ for the next start)",
				"folder", e.cfg.Name, "files", n)
		}
		e.cancel()
		if e.ownSched {
			_ = e.sched.Shutdown()
		} else {
			_ = e.sched.RemoveJob(e.jobID)
		}
		if e.watcher != nil {
			e.watcher.Close()
		}
		go func() {
			e.wg.Wait()
			if e.ownDedup != nil {
				e.ownDedup.Close()
			}
			e.lastTaken.Close()
			e.rootsMu.Lock()
			e.closeRoots()
			e.doneP = place{}
			e.rootsMu.Unlock()
			close(e.done)
		}()
	})
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("folder %q: shutdown: %w", e.cfg.Name, ctx.Err())
	}
}

// Rescan asks for a full scan now. The gocron job calls it; so does an
// event-queue overflow.
func (e *Engine) Rescan() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

func (e *Engine) poke() {
	select {
	case e.poked <- struct{}{}:
	default:
	}
}

// watch turns fsnotify events into debounced passes.
func (e *Engine) watch(ctx context.Context, w *fsnotify.Watcher) {
	defer e.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-w.Events:
			if !ok {
				return
			}
			e.events.Add(1)
			e.poke()
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				e.log.Warn("folder watch error; rescanning", "folder", e.cfg.Name, "err", err)
			}
			e.Rescan()
		}
	}
}

// debounce is how long the worker lets change events pile up before a pass;
// a file being written sends one event per write.
func (e *Engine) debounce() time.Duration {
	return min(max(e.cfg.Settle/4, 5*time.Millisecond), 250*time.Millisecond)
}

// run is the single worker: every pass resumes claimed files, then looks for
// new ones, and says when it next needs to look (a settle or retry deadline).
func (e *Engine) run(ctx context.Context) {
	defer e.wg.Done()
	timer := time.NewTimer(0) // the initial scan
	defer timer.Stop()
	var deadline time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.poked:
			d := time.Now().Add(e.debounce())
			if deadline.IsZero() || d.Before(deadline) {
				deadline = d
				timer.Reset(time.Until(d))
			}
			continue
		case <-e.kick:
		case <-timer.C:
		}
		next := e.pass(ctx)
		e.passes.Add(1)
		if ctx.Err() != nil {
			return
		}
		deadline = next
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(max(time.Until(next), 5*time.Millisecond))
		}
	}
}

// pass does one round and returns the earliest time something may become
// ready, zero when only an event or the rescan can change anything.
func (e *Engine) pass(ctx context.Context) time.Time {
	var next time.Time
	soon := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}

	// 1. Claimed files: leftovers of an earlier run, and transient failures.
	names, err := e.listClaimed()
	if err == nil && e.leftovers == nil {
		e.leftovers = make(map[string]bool, len(names))
		for _, n := range names {
			e.leftovers[n] = true
		}
		if e.cfg.MarkerSuffix != "" {
			e.leftMarkers = make([]string, 0, 2*len(names))
			for _, n := range names {
				e.leftMarkers = append(e.leftMarkers, n+e.cfg.MarkerSuffix, stemOf(n)+e.cfg.MarkerSuffix)
			}
		}
		if len(e.cfg.Sidecars) > 0 {
			// The failures a crash cut short, of the leftovers and of
			// sidecars in the folder (cutFailOf, cutLateSidecars).
			if err := e.loadCutFails(); err != nil {
				e.log.Warn("folder scan failed", "folder", e.cfg.Name, "dir", "failed", "err", err)
			}
		}
	}
	if err != nil {
		e.log.Warn("folder scan failed", "folder", e.cfg.Name, "dir", "processing", "err", err)
	} else if len(e.retry) > 0 {
		// A file taken out of processing/ by hand no longer waits.
		there := make(map[string]bool, len(names))
		for _, n := range names {
			there[n] = true
		}
		for n := range e.retry {
			if !there[n] {
				delete(e.retry, n)
			}
		}
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return next
		}
		if r, ok := e.retry[name]; ok && time.Now().Before(r.next) {
			soon(r.next)
			continue
		}
		e.process(ctx, name)
		if r, ok := e.retry[name]; ok {
			soon(r.next)
		}
	}

	// 2. New files, in the folder now at Path.
	held := 0
	for _, n := range names {
		if _, ok := e.retry[n]; ok {
			held++
		}
	}
	if !e.followPath(held) {
		e.endPass(nil, nil)
		return next
	}
	entries, err := readDirIn(place{e.watched, "."})
	if err != nil {
		e.log.Warn("folder scan failed", "folder", e.cfg.Name, "err", err)
		return next
	}
	files := make(map[string]fs.FileInfo, len(entries))
	var odd []oddEntry
	for _, de := range entries {
		name := de.Name()
		if e.ignored(name) {
			continue
		}
		if t := de.Type(); !t.IsRegular() {
			// Never followed nor opened, and left where it is; shown,
			// since a fax saved as a link (or a pipe) is otherwise never
			// taken and nobody knows why.
			if !t.IsDir() && (e.isInput(name) || e.isSidecar(name) || e.isMarker(name)) {
				odd = append(odd, oddEntry{name: name, typ: t})
			}
			continue
		}
		if reservedName(name) {
			// A name Windows gives a device (con.hl7): no path reaches
			// the file, and the Root refuses the name; left in place and
			// shown, not a failed claim of the folder.
			if e.isInput(name) || e.isSidecar(name) || e.isMarker(name) {
				odd = append(odd, oddEntry{name: name, reserved: true})
			}
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue // gone since the listing
		}
		files[name] = info
	}
	now := time.Now()
	for name, info := range files {
		o, ok := e.seen[name]
		if !ok {
			o.first = now
		}
		if !ok || o.size != info.Size() || !o.mtime.Equal(info.ModTime()) {
			e.seen[name] = observation{size: info.Size(), mtime: info.ModTime(), since: now, first: o.first}
		}
	}
	for name := range e.seen {
		if _, ok := files[name]; !ok {
			delete(e.seen, name)
		}
	}
	e.staleMarkers(files)
	sidecars := map[string][]string{} // stem → sidecar names
	stems := map[string]int{}         // stem → inputs of that stem in the folder
	for name := range files {
		if e.isSidecar(name) {
			st := stemOf(name)
			sidecars[st] = append(sidecars[st], name)
		} else if e.isInput(name) {
			stems[stemOf(name)]++
		}
	}
	e.cutLateSidecars(sidecars)
	e.lateSidecars(sidecars, stems, now, soon)

	type candidate struct {
		name     string
		mtime    time.Time
		marker   string
		sidecars []string
	}
	var ready []candidate
	empty := 0
	for name, info := range files {
		if !e.isInput(name) {
			continue
		}
		if at := e.seen[name].since.Add(e.cfg.Settle); now.Before(at) {
			soon(at)
			if info.Size() == 0 {
				empty++
			}
			continue
		}
		if info.Size() == 0 {
			// No input of any kind is empty: its writer created it and
			// has not written yet (a fax server during the call), so it
			// waits, however long it has been settled, until it has
			// content or has stayed empty for emptyLimit; then it goes to
			// failed/ (process) rather than lie there unseen.
			if at := e.seen[name].since.Add(e.emptyLimit); now.Before(at) {
				soon(at)
				empty++
				continue
			}
		}
		marker := ""
		if e.cfg.MarkerSuffix != "" {
			if marker = e.markerOf(name, files); marker == "" {
				e.waits.Add(1)
				continue // the marker's event or the rescan brings us back
			}
		}
		scs := sidecars[stemOf(name)]
		// A sidecar of its stem in processing/ counts: a claim cut short
		// between the two (claim moves sidecars first).
		if e.cfg.SidecarRequired && len(scs) == 0 && len(e.claimedNow.sidecars[stemOf(name)]) == 0 {
			e.waits.Add(1)
			continue
		}
		settled := true
		for _, sc := range scs {
			if at := e.seen[sc].since.Add(e.cfg.Settle); now.Before(at) {
				soon(at)
				settled = false
			}
		}
		if !settled {
			continue
		}
		sort.Strings(scs)
		ready = append(ready, candidate{name: name, mtime: info.ModTime(), marker: marker, sidecars: scs})
	}
	// Oldest first, so an export series is consumed in the order written.
	sort.Slice(ready, func(i, j int) bool {
		if !ready[i].mtime.Equal(ready[j].mtime) {
			return ready[i].mtime.Before(ready[j].mtime)
		}
		return ready[i].name < ready[j].name
	})
	if e.rank != nil {
		names := make([]string, len(ready))
		for i, c := range ready {
			names[i] = c.name
		}
		inOrder := make([]candidate, len(ready))
		for i, j := range RankOrder(names, e.rank) {
			inOrder[i] = ready[j]
		}
		ready = inOrder
	}
	claimed := map[string]bool{}
	var ranks map[int]int
	if e.rank != nil {
		ranks = e.waitingRanks(files)
	}
	for _, c := range ready {
		if ctx.Err() != nil {
			return next
		}
		if e.rank != nil && e.holdForRank(c.name, ranks) {
			// That file's settle, marker, claim or retry brings a pass;
			// the periodic rescan one past rankLimit.
			e.waits.Add(1)
			continue
		}
		retryAt := time.Now().Add(e.cfg.Settle)
		group := append([]string{c.name}, c.sidecars...)
		if e.testHookReady != nil {
			e.testHookReady(c.name)
		}
		held, err := e.anyBusy(group)
		if errors.Is(err, errNotRegular) {
			soon(retryAt) // swapped for a pipe or a link since the listing: the next one shows it
			continue
		}
		if err != nil {
			e.claimFailed("lock check", err, append(group, c.marker)...)
			soon(retryAt)
			continue
		}
		if held {
			e.heldSkips.Add(1)
			soon(retryAt) // still being written (HylaFAX receive, Windows writer)
			continue
		}
		if e.stemClaimed(stemOf(c.name)) {
			// An earlier file of this name waits in processing/; keep order.
			soon(time.Now().Add(min(e.cfg.Rescan, max(e.cfg.Settle, time.Second))))
			continue
		}
		if e.testHookClaim != nil {
			e.testHookClaim(c.name)
		}
		marker := c.marker
		if marker != c.name+e.cfg.MarkerSuffix && stems[stemOf(c.name)] > 1 {
			// The stem's marker (x.done) stands for every input of the
			// stem (x.xml and x.pdf): it goes with the last of them.
			marker = ""
		}
		if err := e.claim(c.name, c.sidecars, marker); errors.Is(err, errNotRegular) {
			soon(retryAt)
			continue
		} else if heldOpen(err) {
			// Opened by another process since the check (a virus
			// scanner): not free yet, as the check would have found
			// it. A sidecar claimed already waits in processing/.
			e.heldSkips.Add(1)
			soon(retryAt)
			continue
		} else if err != nil {
			e.claimFailed("claim", err, append(group, c.marker)...)
			soon(retryAt)
			continue
		}
		e.claimedNow.claimed(c.name, c.sidecars)
		e.taken[stemOf(c.name)] = takenInput{name: c.name, at: time.Now()}
		e.markTaken(c.name)
		stems[stemOf(c.name)]--
		if e.rank != nil {
			ranks[e.rank(c.name)]--
		}
		e.stats.claimed.Add(1)
		e.trouble.passClaimed = true
		claimed[c.name] = true
		first := e.seen[c.name].first
		delete(e.seen, c.name)
		for _, sc := range c.sidecars {
			delete(e.seen, sc)
		}
		e.process(ctx, c.name)
		if r, ok := e.retry[c.name]; ok {
			if !first.IsZero() && first.Before(r.first) {
				r.first = first
				e.retry[c.name] = r
			}
			soon(r.next)
		}
	}
	e.endPass(files, claimed)
	e.noteOdd(odd, empty)
	return next
}

// claimTrouble counts a failed claim of class (the folder shows as
// stuck) and reports whether the episode's WARN is due: when it starts
// and then every claimWarnEvery.
func (e *Engine) claimTrouble(class string) bool {
	now := time.Now()
	e.stats.claimErrors.Add(1)
	e.stats.mu.Lock()
	e.stats.lastClaimError, e.stats.lastClaimErrorAt, e.stats.failing = class, now, true
	e.stats.mu.Unlock()
	return e.trouble.fail(now)
}

// claimFailed counts a failed claim and logs it: at DEBUG every time (the
// error with file names hidden), and at WARN when claims start failing and
// then every claimWarnEvery while they go on, naming the folder (its
// configured name and path are configuration, not PHI) and the operating
// system's reason, never a file.
func (e *Engine) claimFailed(step string, err error, names ...string) {
	class := ErrorClass(err)
	if e.claimTrouble(class) {
		e.log.Warn("folder files cannot be claimed; ferry needs read and write access to the folder (permissions, read-only mount, systemd ReadWritePaths)",
			"folder", e.cfg.Name, "path", e.cfg.Path, "step", step, "reason", class,
			"failed_attempts", e.trouble.attempts, "failing_since", e.trouble.since.UTC().Format(time.RFC3339))
	}
	e.log.Debug("folder claim failed; will retry", "folder", e.cfg.Name, "step", step, e.logErr(err, nil, names...))
}

// endPass publishes the pass's figures and ends a claim-failure episode
// when the pass shows the folder works again.
func (e *Engine) endPass(files map[string]fs.FileInfo, claimed map[string]bool) {
	waiting := 0
	var oldest time.Time
	older := func(t time.Time) {
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	for name := range files {
		if claimed[name] || !e.isInput(name) {
			continue
		}
		waiting++
		older(e.seen[name].first)
	}
	for _, r := range e.retry {
		older(r.first)
	}
	if ended, ok := e.trouble.endPass(waiting); ok {
		e.log.Info("folder files can be claimed again", "folder", e.cfg.Name, "failed_attempts", ended.attempts,
			"failing_for", time.Since(ended.since).Round(time.Second))
	}
	e.stats.mu.Lock()
	e.stats.waiting, e.stats.retrying, e.stats.oldest = waiting, len(e.retry), oldest
	e.stats.failing = e.trouble.on
	e.stats.mu.Unlock()
}

// oddEntry is an entry of the watched folder that would be an input (or
// a sidecar or marker) by its name but is not a regular file.
type oddEntry struct {
	name     string
	typ      fs.FileMode
	reserved bool // a regular file of a name Windows reserves for a device
}

// noteOdd publishes the counts of the pass's entries that are not taken
// although their names say they would be: symbolic links, named pipes
// and other special files (never followed nor opened), and empty inputs
// (waiting for content). It logs at WARN when an entry that is not a
// regular file appears that the pass before did not list, so one that
// stays is logged once, with its name only under log_phi. A file of a
// name Windows reserves for a device counts as a special file, with a
// WARN of its own.
func (e *Engine) noteOdd(odd []oddEntry, empty int) {
	links, special, reserved := 0, 0, 0
	now := make(map[string]bool, len(odd))
	var fresh, freshReserved []string
	for _, o := range odd {
		switch {
		case o.reserved:
			reserved++
			special++
		case o.typ&fs.ModeSymlink != 0:
			links++
		default:
			special++
		}
		now[o.name] = true
		if !e.oddSeen[o.name] {
			if o.reserved {
				freshReserved = append(freshReserved, o.name)
			} else {
				fresh = append(fresh, o.name)
			}
		}
	}
	e.oddSeen = now
	if len(fresh) > 0 {
		attrs := []any{"folder", e.cfg.Name, "path", e.cfg.Path, "symlinks", links, "special_files", special - reserved}
		if e.set.LogPHI {
			sort.Strings(fresh)
			attrs = append(attrs, "files", fresh)
		}
		e.log.Warn("folder entries left in place: symbolic links, named pipes and other files that are not regular files are never followed, opened or taken; replace them with the files themselves", attrs...)
	}
	if len(freshReserved) > 0 {
		attrs := []any{"folder", e.cfg.Name, "path", e.cfg.Path, "reserved_names", reserved}
		if e.set.LogPHI {
			sort.Strings(freshReserved)
			attrs = append(attrs, "files", freshReserved)
		}
		e.log.Warn("folder files left in place: Windows reserves their names for devices (CON, PRN, AUX, NUL, COM1 to COM9, LPT1 to LPT9, with any extension), so no Windows program can open or move them; rename them (from the computer or share that wrote them) and ferry takes them", attrs...)
	}
	e.stats.mu.Lock()
	e.stats.symlinks, e.stats.special, e.stats.empty = links, special, empty
	e.stats.mu.Unlock()
}

func (e *Engine) ignored(name string) bool {
	lower := strings.ToLower(name)
	for _, p := range e.ignore {
		if ok, _ := filepath.Match(p, lower); ok { // IgnoreMatch
			return true
		}
	}
	return false
}

func (e *Engine) isMarker(name string) bool {
	return e.cfg.MarkerSuffix != "" && strings.HasSuffix(name, e.cfg.MarkerSuffix)
}

func (e *Engine) isSidecar(name string) bool {
	ext := filepath.Ext(name)
	for _, s := range e.cfg.Sidecars {
		if strings.EqualFold(ext, s) {
			return true
		}
	}
	return false
}

// IsInput reports whether the engine takes a file of this name as an
// input: not ignored, not a marker or a sidecar, and taken by Include.
// ferry backfill picks the files of an old export by it, so that they are
// the ones the live folder would have taken.
func (e *Engine) IsInput(name string) bool { return e.isInput(name) }

// Uses reports whether the engine does anything with a file of this
// name: an input, a sidecar or a marker. A fetch from a remote directory
// takes only those, so that what the folder would leave for ever (a
// name its ignore list or include list leaves out) stays on the server.
func (e *Engine) Uses(name string) bool {
	return e.isInput(name) || e.isSidecar(name) || e.isMarker(name)
}

// IsSidecar reports whether a file of this name is a sidecar
// (Config.Sidecars), handed on with the input of the same stem.
func (e *Engine) IsSidecar(name string) bool { return e.isSidecar(name) }

// isInput tells whether name is a file to consume, as opposed to a marker, a
// sidecar or something Include leaves out.
func (e *Engine) isInput(name string) bool {
	if e.ignored(name) || e.isMarker(name) || e.isSidecar(name) {
		return false
	}
	if len(e.cfg.Include) == 0 {
		return true
	}
	for _, p := range e.cfg.Include {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// staleMarkers removes, at the first listing of the folder, the markers
// of inputs an earlier run claimed (leftovers) that stand for no input
// in the folder: claim removes a marker after its input's rename, and a
// crash between the two left it there, so the next input of that name
// (the nightly export.xml) was taken as soon as it settled, before its
// writer was done and wrote the marker anew. files is the folder's
// listing.
func (e *Engine) staleMarkers(files map[string]fs.FileInfo) {
	if e.leftMarkers == nil {
		return
	}
	left := e.leftMarkers
	e.leftMarkers = nil
	used := map[string]bool{}
	for name := range files {
		if e.isInput(name) {
			used[name+e.cfg.MarkerSuffix] = true
			used[stemOf(name)+e.cfg.MarkerSuffix] = true
		}
	}
	removed := false
	for _, m := range left {
		if _, ok := files[m]; !ok || used[m] {
			continue
		}
		if err := e.watched.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("folder marker not removed", "folder", e.cfg.Name, e.logErr(err, nil, m))
			continue
		}
		delete(files, m)
		removed = true
	}
	if removed {
		if err := syncDirIn(place{e.watched, "."}); err != nil {
			e.log.Warn("folder marker not removed", "folder", e.cfg.Name, e.logErr(err, nil))
		}
		e.log.Info("folder markers of files taken before a stop removed", "folder", e.cfg.Name)
	}
}

// markerOf returns the name of name's marker file if it exists.
func (e *Engine) markerOf(name string, files map[string]fs.FileInfo) string {
	for _, m := range []string{name + e.cfg.MarkerSuffix, stemOf(name) + e.cfg.MarkerSuffix} {
		if _, ok := files[m]; ok {
			return m
		}
	}
	return ""
}

func stemOf(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

// claimedInOrder returns the inputs among processing/'s entries in the
// order they were taken, which is the order they are consumed in again:
// oldest first (a rename keeps the modification time), by name within a
// time, and a ranked set (WithRank) in its order, as pass takes new
// files. The listing's own order is the file system's, and resuming by
// it after a full queue or a restart sent an export series shuffled.
func (e *Engine) claimedInOrder(entries []fs.DirEntry) []string {
	type claimed struct {
		name  string
		mtime time.Time
	}
	var in []claimed
	for _, de := range entries {
		if !de.Type().IsRegular() || !e.isInput(de.Name()) {
			continue
		}
		var mtime time.Time
		if info, err := de.Info(); err == nil {
			mtime = info.ModTime()
		}
		in = append(in, claimed{de.Name(), mtime})
	}
	sort.Slice(in, func(i, j int) bool {
		if !in[i].mtime.Equal(in[j].mtime) {
			return in[i].mtime.Before(in[j].mtime)
		}
		return in[i].name < in[j].name
	})
	names := make([]string, len(in))
	for i, c := range in {
		names[i] = c.name
	}
	if e.rank == nil || len(names) < 2 {
		return names
	}
	ordered := make([]string, len(names))
	for i, j := range RankOrder(names, e.rank) {
		ordered[i] = names[j]
	}
	return ordered
}

func (e *Engine) anyBusy(names []string) (bool, error) {
	for _, n := range names {
		b, err := busy(place{e.watched, "."}, n)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return true, nil // renamed away meanwhile; look again later
			}
			return false, err
		}
		if b {
			return true, nil
		}
	}
	return false, nil
}

// claim moves the input and its sidecars into processing/. Sidecars go
// first: if a crash cuts the claim short, the input is still in the folder
// and is claimed whole later (a sidecar left in processing/ counts as its
// sidecar, for sidecar_required too, and is consumed with it).
func (e *Engine) claim(name string, sidecars []string, marker string) error {
	if err := e.workInPlace(); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	for _, sc := range sidecars {
		if err := e.claimOne(sc); err != nil {
			return fmt.Errorf("claim sidecar: %w", err)
		}
	}
	if err := e.claimOne(name); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	if marker != "" {
		if err := e.watched.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("folder marker not removed", "folder", e.cfg.Name, e.logErr(err, nil, marker, name))
		}
	}
	if err := syncDirIn(e.proc); err != nil {
		return fmt.Errorf("claim: sync processing: %w", err)
	}
	if err := syncDirIn(place{e.watched, "."}); err != nil {
		return fmt.Errorf("claim: sync folder: %w", err)
	}
	return nil
}

// logName names a file in logs: the name only when PHI logging is on (export
// names often carry patient names), else a prefix of the content hash.
func (e *Engine) logName(name string, sum []byte) slog.Attr {
	if e.set.LogPHI {
		return slog.String("file", name)
	}
	if len(sum) == 0 {
		return slog.String("file", "(name hidden)")
	}
	return slog.String("sha256", hex.EncodeToString(sum)[:12])
}

// process consumes one claimed file and settles it by the answer.
func (e *Engine) process(ctx context.Context, name string) {
	e.inHand.Add(1)
	defer e.inHand.Add(-1)
	var scNames []string
	defer func() {
		// Not waiting for another try: it left processing/ (settled,
		// failed, or taken away), unless the engine is stopping.
		if _, waits := e.retry[name]; !waits && ctx.Err() == nil {
			e.claimedNow.settled(name, scNames)
			delete(e.leftovers, name)
		}
	}()
	if r := e.retry[name]; r.failed != nil {
		// Refused for good already; its sidecars may be in failed/.
		scNames = e.sidecarsIn(name)
		e.fail(name, scNames, r.sum, r.size, r.failed)
		return
	}
	if e.retry[name].consumed {
		// Consumed already; its sidecars may have gone to done/
		// before the move of the file itself failed, and read again
		// without them it would be another input to the seen-set.
		scNames = e.sidecarsIn(name)
		if err := e.settle(name, scNames); err != nil {
			e.settleLater(name, nil, err)
			return
		}
		delete(e.retry, name)
		e.stats.done.Add(1)
		return
	}
	path := filepath.Join(e.paths.Processing, name)
	sum, size, mtime, body, err := e.readClaimed(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			delete(e.retry, name)
			return
		}
		scNames = e.sidecarsIn(name)
		e.readFailed(name, scNames, nil, 0, fmt.Errorf("read claimed file: %w", err))
		return
	}
	scNames = e.sidecarsIn(name)
	var scs map[string][]byte
	for _, sc := range scNames {
		data, err := readSmall(e.proc, sc, e.cfg.MaxBodyBytes)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				e.fail(name, scNames, sum, size, queue.Permanent(fmt.Errorf("sidecar %s: %w", sc, err)))
				return
			}
			e.readFailed(name, scNames, sum, size, fmt.Errorf("read sidecar: %w", err))
			return
		}
		if scs == nil {
			scs = map[string][]byte{}
		}
		scs[sc] = data
	}
	if e.leftovers[name] && len(e.cfg.Sidecars) > 0 {
		// Refused for good, with sidecars that fail moved to failed/
		// before a crash cut it short: not another input.
		f, cut, err := e.cutFailOf(name, sum, scNames)
		if err != nil {
			e.backoff(name, sum, err)
			return
		}
		if cut {
			e.finishCutFail(name, scNames, sum, size, f)
			return
		}
	}
	if size == 0 {
		// Claimed only after it stayed empty for emptyLimit (or by an
		// earlier ferry): no consumer can make anything of it, and the
		// reason says why it failed, not "neither TIFF nor PDF".
		e.fail(name, scNames, sum, size, queue.Permanent(fmt.Errorf("the file is empty (0 bytes) and stayed so for %s in the folder: no input of any kind is empty; "+
			"the program that created it failed or never wrote it (should it write it now, the content lands here)", e.emptyLimit)))
		return
	}
	key := seenKey(sum, scs)
	if e.namesMeta {
		key = namedKey(key, name)
	}

	if e.leftovers[name] && len(e.cfg.Sidecars) > 0 && !e.dedup.Seen(key) && e.dedup.Seen(settlingKey(sum, name)) && e.settledWith(sum, name, scs) {
		// Consumed with its sidecars, which settle moved out (all, or
		// some of them) before a crash cut it short: it is not another
		// input (markSettling). One claimed by this run came without
		// them: the same image under the same name dropped again
		// without them, or with one that says something else, is
		// consumed as it always was.
		if err := e.settle(name, scNames); err != nil {
			e.settleLater(name, sum, err)
			return
		}
		delete(e.retry, name)
		e.stats.done.Add(1)
		e.log.Info("folder file consumed before a crash archived after its sidecars, not sent again", "folder", e.cfg.Name, e.logName(name, sum))
		return
	}

	// A file of content taken before is a re-drop, unless another was
	// taken under its name since: an export written under one name each
	// night that undoes the night before's change is byte for byte an
	// earlier night's, and skipped it left the change at the exchange.
	prev, named := e.lastTaken.Get(name)
	retaken := named && prev != [16]byte(key[:16])
	if e.dedup.Seen(key) && !retaken {
		if err := e.markSettling(name, sum, scs); err != nil {
			e.backoff(name, sum, err)
			return
		}
		if err := e.settle(name, scNames); err != nil {
			e.settleLater(name, sum, err)
			return
		}
		delete(e.retry, name)
		e.stats.done.Add(1)
		e.stats.duplicates.Add(1)
		// INFO, not DEBUG: a re-drop meant to correct something (another
		// patient's name on the same fax) would otherwise vanish without
		// a trace. The same content is the same document; it is archived
		// and not sent again.
		e.log.Info("folder file has the content of one taken before; archived, not sent again", "folder", e.cfg.Name, e.logName(name, sum))
		return
	}

	meta := map[string]string{
		MetaFolder:  e.cfg.Name,
		MetaKind:    e.cfg.Kind,
		MetaFile:    name,
		MetaPath:    path,
		MetaSize:    strconv.FormatInt(size, 10),
		MetaSHA256:  hex.EncodeToString(sum),
		MetaModTime: mtime.UTC().Format(time.RFC3339Nano),
		MetaAttempt: strconv.Itoa(e.retry[name].attempts + 1),
	}
	if len(scNames) > 0 {
		meta[MetaSidecars] = strings.Join(scNames, ",")
	}
	if retaken && e.dedup.Seen(key) {
		meta[MetaRetaken] = hex.EncodeToString(prev[:])
	}
	raw := adapters.Raw{
		Source:   e.id,
		Name:     name,
		Body:     body,
		Received: time.Now(),
		Meta:     meta,
		Size:     size,
		Open:     func() (io.ReadCloser, error) { return e.openClaimed(name) },
		Sidecars: scs,
	}
	err = e.consume(ctx, raw, sum)
	switch {
	case err == nil:
		// Recorded before the seen-set: a crash between the two leaves
		// the file a duplicate of the last one taken under its name.
		if err := e.lastTaken.Set(name, key); err != nil {
			e.log.Warn("folder last-taken record not updated", "folder", e.cfg.Name, e.logErr(err, sum, name))
		}
		if err := e.dedup.Add(key); err != nil {
			// The enqueue stands; at worst a later identical drop is sent
			// again, which the exchange absorbs (idempotent bundles).
			e.log.Warn("folder seen-set not updated", "folder", e.cfg.Name, e.logErr(err, sum, name))
		}
		if err := e.markSettling(name, sum, scs); err != nil {
			// Tried again as a duplicate, once the seen-set can be
			// written.
			e.backoff(name, sum, err)
			return
		}
		if err := e.settle(name, scNames); err != nil {
			e.settleLater(name, sum, err)
			return
		}
		delete(e.retry, name)
		e.stats.done.Add(1)
	case queue.IsPermanent(err):
		e.fail(name, scNames, sum, size, err)
	default:
		if ctx.Err() != nil {
			return // shutting down: the file waits in processing/ for the next start
		}
		if adapters.IsReadError(err) {
			// The consumer could not read the file (a share that
			// dropped mid-read): not a fault of its content.
			e.readFailed(name, scNames, sum, size, err)
			return
		}
		e.readOK(name)
		e.backoff(name, sum, err)
	}
}

// seenKey is the key a claimed file is remembered by in the seen-set: the
// SHA-256 of its content alone, or, with sidecars, of that digest and the
// digests of the sidecars' contents in order. The same fax with the same
// metadata is the same input; the same fax image with another sidecar (a
// corrected patient, or one form faxed for two patients) is another and
// is consumed, where the image's digest alone skipped it as a duplicate.
// A file without sidecars keeps the key it always had.
func seenKey(sum []byte, sidecars map[string][]byte) [32]byte {
	var key [32]byte
	if len(sidecars) == 0 {
		copy(key[:], sum)
		return key
	}
	digests := make([][32]byte, 0, len(sidecars))
	for _, data := range sidecars {
		digests = append(digests, sha256.Sum256(data))
	}
	slices.SortFunc(digests, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	h.Write([]byte("ferry seen-set: file and sidecars\x00"))
	h.Write(sum)
	for _, d := range digests {
		h.Write(d[:])
	}
	copy(key[:], h.Sum(nil))
	return key
}

// namedKey is the seen-set key of a file whose name carries metadata
// (WithNamesAsMetadata): its content key (seenKey) and its name.
func namedKey(key [32]byte, name string) [32]byte {
	h := sha256.New()
	h.Write([]byte("ferry seen-set: content and name\x00"))
	h.Write(key[:])
	h.Write([]byte(name))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// settlingKey is the seen-set's record that the input of content sum
// named name was consumed (or found a duplicate) with sidecars
// (markSettling).
func settlingKey(sum []byte, name string) [32]byte {
	h := sha256.New()
	h.Write([]byte("ferry seen-set: settled with sidecars\x00"))
	h.Write(sum)
	h.Write([]byte(name))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// settledSidecarKey is the seen-set's record that the input of content
// sum named name was consumed (or found a duplicate) with the sidecar sc
// holding data, among others (markSettling).
func settledSidecarKey(sum []byte, name, sc string, data []byte) [32]byte {
	d := sha256.Sum256(data)
	h := sha256.New()
	h.Write([]byte("ferry seen-set: settled with the sidecar\x00"))
	h.Write(sum)
	h.Write([]byte(name + "\x00" + sc + "\x00"))
	h.Write(d[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// markSettling records, durably, that name is settled with sidecars,
// before settle moves them: they go first, and a crash before the
// input's own move leaves it in processing/ alone, or with those of
// its sidecars not moved yet, where the seen-set key of its content and
// theirs no longer matches it. Without this record the next start
// consumed it again, without its sidecars (or some of them). Of an
// input with more than one, each sidecar is recorded too, so that one
// left beside it is known for one of them (settledWith).
func (e *Engine) markSettling(name string, sum []byte, sidecars map[string][]byte) error {
	if len(sidecars) == 0 {
		return nil
	}
	if len(sidecars) > 1 {
		for sc, data := range sidecars {
			if err := e.dedup.Add(settledSidecarKey(sum, name, sc, data)); err != nil {
				return fmt.Errorf("seen-set: %w", err)
			}
		}
	}
	if err := e.dedup.Add(settlingKey(sum, name)); err != nil {
		return fmt.Errorf("seen-set: %w", err)
	}
	return nil
}

// settledWith reports whether every sidecar in sidecars was settled
// with the input of content sum named name (markSettling).
func (e *Engine) settledWith(sum []byte, name string, sidecars map[string][]byte) bool {
	for sc, data := range sidecars {
		if !e.dedup.Seen(settledSidecarKey(sum, name, sc, data)) {
			return false
		}
	}
	return true
}

// consume hands raw to the Consumer. A panic in it (a converter bug
// tripped by an odd file) becomes a permanent failure, so the file goes to
// failed/ with its .error.txt and the engine goes on with the next one;
// otherwise the file would be consumed again from processing/ after every
// restart and take the whole gateway, MLLP listeners included, down with
// it each time. The pipeline recovers its converters' panics itself and
// quarantines the input (a *adapters.ConvertPanic); those are logged here
// the same way, since only the engine knows the file and log_phi.
func (e *Engine) consume(ctx context.Context, raw adapters.Raw, sum []byte) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		e.logPanic(raw.Name, sum, p, debug.Stack())
		err = queue.Permanent(fmt.Errorf("internal error: the converter panicked: %v", p))
	}()
	err = e.next.Consume(ctx, raw)
	var cp *adapters.ConvertPanic
	if errors.As(err, &cp) {
		e.logPanic(raw.Name, sum, cp.Value, cp.Stack)
	}
	return err
}

// logPanic logs a consumer's panic with its stack and, unless PHI logging
// is on, only the kind of the panic value, which may quote the input. Where
// the input went (failed/, or back for a retry when not even the quarantine
// could take it) the engine's next line says.
func (e *Engine) logPanic(name string, sum []byte, p any, stack []byte) {
	what := adapters.PanicText(p, e.set.LogPHI)
	e.log.Error("folder consumer panicked", "folder", e.cfg.Name,
		e.logName(name, sum), "panic", redactNames(what, hashLabel(sum), name), "stack", string(stack))
}

var errTooLarge = errors.New("file too large")

// defaultEmptyLimit is how long an empty input waits for content: ten
// settle periods, and at least five minutes. A fax server may create the
// file when the call starts and write nothing until the first page is
// received (negotiation and training, then up to a minute per page at
// 9,600 bit/s and twice that after a fallback to 4,800), and an export
// job may create its files before it fills them; five minutes covers
// both with room, while an empty file that will never be written still
// reaches failed/, and the operator, the same morning. Until then it is
// counted in Stats.Empty.
func defaultEmptyLimit(settle time.Duration) time.Duration {
	return max(10*settle, 5*time.Minute)
}

// readClaimed hashes the claimed file name and, when it is small enough,
// keeps its bytes.
func (e *Engine) readClaimed(name string) (sum []byte, size int64, mtime time.Time, body []byte, err error) {
	f, err := e.openClaimed(name)
	if err != nil {
		return nil, 0, time.Time{}, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, time.Time{}, nil, err
	}
	h := sha256.New()
	if info.Size() <= e.cfg.MaxBodyBytes {
		var buf bytes.Buffer
		buf.Grow(int(info.Size()) + 512)
		// Never more than the limit and a byte: a file that grew after
		// the claim is streamed, not buffered whole first.
		n, err := io.Copy(io.MultiWriter(h, &buf), io.LimitReader(f, e.cfg.MaxBodyBytes+1))
		if err != nil {
			return nil, 0, time.Time{}, nil, err
		}
		if n <= e.cfg.MaxBodyBytes {
			return h.Sum(nil), n, info.ModTime(), buf.Bytes(), nil
		}
		// It grew after the claim (a writer that ignored every sign); fall
		// through to streaming.
		h.Reset()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, time.Time{}, nil, err
		}
	}
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, time.Time{}, nil, err
	}
	return h.Sum(nil), n, info.ModTime(), nil, nil
}

func readSmall(p place, name string, limit int64) ([]byte, error) {
	f, err := openRegular(p, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("over %d bytes: %w", limit, errTooLarge)
	}
	return data, nil
}

// backoff keeps the file in processing/ and schedules the next attempt.
func (e *Engine) backoff(name string, sum []byte, err error) {
	r := e.retry[name]
	r.attempts++
	if r.first.IsZero() {
		r.first = time.Now()
	}
	d := e.cfg.RetryInitial
	for i := 1; i < r.attempts && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.RetryMax)
	r.next = time.Now().Add(d)
	e.retry[name] = r
	msg := "folder input not consumed; will retry"
	if r.consumed {
		msg = "folder input queued, but not moved out of processing/; will retry the move"
	}
	e.log.Warn(msg, "folder", e.cfg.Name, e.logName(name, sum),
		"attempt", r.attempts, "retry_in", d, e.logErr(err, sum, name))
}

// settleLater keeps a consumed (or duplicate) input whose move out of
// processing/ failed for another try of the move alone: it is in the
// queue, so the next try only settles it.
func (e *Engine) settleLater(name string, sum []byte, err error) {
	r := e.retry[name]
	r.consumed = true
	e.retry[name] = r
	e.backoff(name, sum, err)
}

// settle finishes a consumed (or duplicate) file: into done/YYYY-MM-DD/
// under a name no earlier file there has, or deleted, per After.
func (e *Engine) settle(name string, sidecars []string) error {
	proc := e.proc
	if e.cfg.After == AfterDelete {
		for _, n := range append(sidecars, name) {
			if err := proc.root.Remove(proc.join(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("delete consumed file: %w", err)
			}
		}
		if err := syncDirIn(proc); err != nil {
			return fmt.Errorf("delete consumed file: sync: %w", err)
		}
		return nil
	}
	dir := e.doneP.sub(time.Now().Format("2006-01-02"))
	if err := mkdirAllIn(dir.root, dir.dir, 0o700); err != nil {
		return fmt.Errorf("move to done: %w", err)
	}
	if err := e.moveGroup(name, sidecars, dir, nil); err != nil {
		return fmt.Errorf("move to done: %w", err)
	}
	return nil
}

// moveGroup moves an input and its sidecars from processing/ into dir,
// renaming them alike when the name is taken, and returns after both
// directories are fsynced.
func (e *Engine) moveGroup(name string, sidecars []string, dir place, nameSuffixes []string) error {
	e.archiveHook("come")
	defer lockArchive(e.paths.Done)()
	final := e.finalName(dir, name, sidecars, nameSuffixes)
	e.archiveHook("named")
	return e.moveAs(name, sidecars, dir, final)
}

func (e *Engine) finalName(dir place, name string, sidecars []string, nameSuffixes []string) string {
	stem := stemOf(name)
	var stemSuffixes []string
	for _, sc := range sidecars {
		stemSuffixes = append(stemSuffixes, strings.TrimPrefix(sc, stem))
	}
	return uniqueName(dir, name, stemSuffixes, nameSuffixes)
}

func (e *Engine) moveAs(name string, sidecars []string, dir place, final string) error {
	proc := e.proc
	stem, fstem := stemOf(name), stemOf(final)
	// Narrowed before the move, so no one sees it in dir with the mode
	// it came with (a fax spool's 0644), not even for a moment.
	for _, sc := range sidecars {
		dst := fstem + strings.TrimPrefix(sc, stem)
		_ = ownerOnly(proc, sc, 0o600)
		if err := moveIn(proc, sc, dir, dst); err != nil {
			return err
		}
	}
	_ = ownerOnly(proc, name, 0o600)
	if err := moveIn(proc, name, dir, final); err != nil {
		return err
	}
	if err := syncDirIn(dir); err != nil {
		return err
	}
	return syncDirIn(proc)
}

// reclaimReason removes cand's reason when cand itself is not there and
// the reason names content sum: fail writes the reason first and moves
// the file beside it after, so a crash in between left the reason alone,
// and the file, failing again after the restart, went in under another
// name (name~2) beside a reason that named no file. The file's own
// earlier reason is taken back instead, so it keeps its name.
func reclaimReason(dir place, cand string, sum []byte) {
	if len(sum) == 0 {
		return
	}
	reason := cand + ".error.txt"
	f, err := openRegular(dir, reason)
	if err != nil {
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	f.Close()
	if err == nil && bytes.Contains(b, []byte("\nsha256: "+hex.EncodeToString(sum)+"\n")) {
		_ = dir.root.Remove(dir.join(reason))
	}
}

// fail moves a file that can never be consumed to failed/, with the reason
// in <name>.error.txt beside it. The reason file is written first, so a
// failed file never lacks one.
func (e *Engine) fail(name string, sidecars []string, sum []byte, size int64, cause error) {
	dir := e.failedP
	err := func() error {
		if err := mkdirAllIn(dir.root, dir.dir, 0o700); err != nil {
			return err
		}
		e.archiveHook("come")
		defer lockArchive(e.paths.Failed)()
		reclaimReason(dir, e.finalName(dir, name, sidecars, nil), sum)
		final := e.finalName(dir, name, sidecars, []string{".error.txt"})
		e.archiveHook("named")
		var b strings.Builder
		fmt.Fprintf(&b, "file: %s\n", name)
		if final != name {
			fmt.Fprintf(&b, "stored as: %s\n", final)
		}
		fmt.Fprintf(&b, "source: %s\n", e.id)
		fmt.Fprintf(&b, "failed at: %s\n", time.Now().UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "size: %d\n", size)
		fmt.Fprintf(&b, "sha256: %s\n", hex.EncodeToString(sum))
		if len(sidecars) > 0 {
			fmt.Fprintf(&b, "sidecars: %s\n", strings.Join(sidecars, ", "))
		}
		fmt.Fprintf(&b, "reason: %s\n", cause.Error())
		if err := writeFileIn(dir, final+".error.txt", []byte(b.String()), 0o600); err != nil {
			return err
		}
		return e.moveAs(name, sidecars, dir, final)
	}()
	if err != nil {
		e.backoff(name, sum, fmt.Errorf("move to failed: %w", err))
		r := e.retry[name]
		r.failed, r.sum, r.size = cause, sum, size
		e.retry[name] = r
		return
	}
	delete(e.retry, name)
	e.stats.failed.Add(1)
	e.log.Warn("folder input failed permanently; see the .error.txt beside it", "folder", e.cfg.Name, e.logName(name, sum), "failed_dir", e.paths.Failed)
}
