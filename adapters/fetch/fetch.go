// Package fetch brings the files of a remote SFTP directory into a watched
// folder (sources.folders[].fetch): the exports a cloud EHR leaves on its
// own SFTP server, a fax service's outbound directory. It does not convert
// anything: each file is downloaded into the folder, where the folder
// engine takes it as it takes a file dropped there (patterns, sidecars,
// ZIP archives, CSV mappings, its dedup log and archives all apply).
//
// Every poll (default 5m) lists the directory; a server that cannot be
// logged in to or listed is tried again after twice the wait each time,
// up to backoffMax. A file is taken only when
// its size and modification time are what the previous poll saw, so one
// still being written is left for later; files are taken oldest first and
// keep the server's modification time, as the folder engine goes oldest
// first too (a folder's sidecars before the rest and its markers after
// the files they stand for, a marker waiting while one of those cannot
// be fetched yet, and a file waits while
// a sidecar of its stem is still being written, or could not be fetched);
// names starting with a
// dot and the usual partial-transfer suffixes (.part, .tmp, .filepart,
// .crdownload) are never taken. A file is downloaded as a hidden
// .ferry-fetch-* file in the folder (which the folder engine skips),
// flushed to disk (a sidecar then waits there until a file of its stem is
// downloaded too, and is renamed just before it), then renamed to its name (or, when the folder still
// holds an unread file of that name, to name.<n>.ext, the same <n> for
// the files of one stem, a fax and its sidecar) and the folder flushed: only then is the remote file moved to done_dir (default
// <dir>/ferry-done, made when missing) or deleted (after: delete), a
// sidecar after the files of its stem, and not while one of them could
// not be moved. A crash
// or a failed move in between means the file is fetched again, which the
// folder's dedup log (content hashes) absorbs; within one run a file whose
// remote move failed is not fetched again until it changes.
//
// The login is configssh's: ferry's key, the server's host key in
// known_hosts, no password and no trust on first use.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/pkg/sftp"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/queue/durable"
)

// After settings.
const (
	AfterMove   = "move"
	AfterDelete = "delete"
)

// Defaults for Config fields left zero.
const (
	DefaultPoll    = 5 * time.Minute
	DefaultTimeout = 30 * time.Second
	// DefaultDoneDir is done_dir, under the fetched directory, when
	// after is move.
	DefaultDoneDir = "ferry-done"
)

// TempPrefix starts the hidden name a file is downloaded under in the
// folder, which the folder engine must skip (its default ignore list does,
// by ".*").
const TempPrefix = ".ferry-fetch-"

// Config is a folder's fetch section.
type Config struct {
	// URL is sftp://user@host[:port]/dir, the directory to empty.
	URL             string `yaml:"url"`
	configssh.Login `yaml:",inline"`
	// Poll is how often the directory is listed (default 5m, at least
	// 1s). A file is taken at the first poll that sees it unchanged.
	Poll time.Duration `yaml:"poll"`
	// After is what becomes of a remote file once it is safely in the
	// folder: move (default, to DoneDir) or delete.
	After string `yaml:"after"`
	// DoneDir is where moved files go on the server: a path, absolute or
	// under the fetched directory (default ferry-done).
	DoneDir string `yaml:"done_dir"`
	// Timeout bounds the login and each file's transfer without progress
	// (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// Validate checks the settings without I/O.
func (c Config) Validate() error {
	var errs []error
	t, err := configssh.ParseURL(c.URL)
	if err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if err := c.Login.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Poll != 0 && c.Poll < time.Second {
		errs = append(errs, fmt.Errorf("poll: at least 1s, got %s", c.Poll))
	}
	switch c.After {
	case "", AfterMove, AfterDelete:
	default:
		errs = append(errs, fmt.Errorf("after: %q is not move or delete", c.After))
	}
	if c.DoneDir != "" && c.After == AfterDelete {
		errs = append(errs, errors.New("done_dir: set with after: delete, which moves nothing"))
	}
	if d := c.DoneDir; d != "" && err == nil {
		if !path.IsAbs(d) {
			d = path.Join(t.Dir, d)
		}
		if path.Clean(d) == path.Clean(t.Dir) {
			errs = append(errs, fmt.Errorf("done_dir: %q is the fetched directory itself: a file moved there stays, and is fetched again at every poll; name another (default %s)", c.DoneDir, DefaultDoneDir))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.After == "" {
		c.After = AfterMove
	}
	if c.After == AfterMove && c.DoneDir == "" {
		c.DoneDir = DefaultDoneDir
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// warnAgain is how often a failure that lasts is logged again.
const warnAgain = 15 * time.Minute

// backoffMax bounds the wait between tries of a server that keeps failing
// the login or the listing (a poll longer than it is kept).
const backoffMax = 15 * time.Minute

// Stats are a fetcher's figures since start.
type Stats struct {
	Polls   int64 // polls that listed the directory
	Fetched int64 // files brought into the folder
	// LastPoll is the end of the last poll that listed the directory;
	// zero (left out of the JSON) before one.
	LastPoll time.Time `json:",omitzero"`
	// LastError is the last poll's error ("" after a good one): the
	// server unreachable, the key refused, a file that could not be
	// stored or moved.
	LastError string
}

// obs is what a listing said of one file.
type obs struct {
	size  int64
	mtime time.Time
}

// hang is how many polls in a row the server left a file's download
// unanswered, the file as listed then (o).
type hang struct {
	o     obs
	polls int
}

// hungPolls is how many polls in a row a file's download must go
// unanswered before it is tried after the others: once may be the link
// (a large file over a dropping line), which must not put a newer file
// of an export series before it; twice at the same file is the file.
const hungPolls = 2

// Fetcher empties one remote directory into one local folder. It
// implements adapters.Source.
type Fetcher struct {
	cfg   Config
	t     configssh.Target
	local string
	log   *slog.Logger
	// logPHI names remote files in errors and logs (log.phi).
	logPHI bool
	sched  gocron.Scheduler
	own    bool // sched is the Fetcher's own (tests, no shared scheduler)
	job    gocron.Job

	// wanted, when set (Only), picks the remote names to fetch.
	wanted func(name string) bool
	// sidecar, when set (Sidecars), tells the folder's sidecars.
	sidecar func(name string) bool
	// markerSuffix, when set (Markers), is the folder's marker_suffix.
	markerSuffix string

	pollMu sync.Mutex     // one poll at a time
	seen   map[string]obs // the previous listing
	// warned is the failure last logged, at warnedAt ("" after a good
	// poll).
	warned   string
	warnedAt time.Time
	// fails counts the polls in a row that could not log in or list the
	// directory; the scheduled polls skip until retryAt meanwhile.
	fails   int
	retryAt time.Time
	taken   map[string]obs // fetched in this run, remote move failed
	// hung counts the polls in a row whose connection the watchdog
	// closed while a file was downloaded (the server answered nothing
	// for it), as listed then.
	hung   map[string]hang
	ctx    context.Context // ends at Shutdown
	cancel context.CancelFunc

	mu    sync.Mutex
	stats Stats

	now func() time.Time // time.Now; a test's clock
}

var _ adapters.Source = (*Fetcher)(nil)

// New returns a Fetcher for local (the watched folder's path). sched runs
// the polls; nil makes the Fetcher its own.
func New(set adapters.Settings, cfg Config, local string, sched gocron.Scheduler) (*Fetcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, _ := configssh.ParseURL(cfg.URL)
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Fetcher{cfg: cfg.withDefaults(), t: t, local: local, log: log, logPHI: set.LogPHI, sched: sched,
		seen: map[string]obs{}, taken: map[string]obs{}, hung: map[string]hang{}, ctx: ctx, cancel: cancel, now: time.Now}, nil
}

// Only makes the Fetcher take just the remote files whose names wanted
// accepts (the folder's folder.Engine.Uses: its inputs, sidecars and
// markers); the others stay on the server, where whoever put them there
// sees them, instead of being moved off it into a folder that never
// takes them. Call it before Start.
func (f *Fetcher) Only(wanted func(name string) bool) { f.wanted = wanted }

// Sidecars tells the Fetcher which names are the folder's sidecars
// (folder.Engine.IsSidecar: a fax's x.json beside x.pdf). A file waits
// while a sidecar of its stem on the server is still being written, and
// a poll brings sidecars into the folder before the other files, so that
// the folder, which takes an input with the sidecars it finds beside it,
// never takes a fax without the sidecar that names its patient. Call it
// before Start.
func (f *Fetcher) Sidecars(is func(name string) bool) { f.sidecar = is }

// Markers tells the Fetcher the folder's marker_suffix
// (folder.Config.MarkerSuffix: x.done stands for x.xml and x.pdf,
// x.xml.done for x.xml). Call it before Start.
func (f *Fetcher) Markers(suffix string) { f.markerSuffix = suffix }

func (f *Fetcher) isSidecar(name string) bool { return f.sidecar != nil && f.sidecar(name) }

func (f *Fetcher) isMarker(name string) bool {
	return f.markerSuffix != "" && strings.HasSuffix(name, f.markerSuffix)
}

// marks reports whether the marker m stands for name, as the folder pairs
// them: x.xml.done for x.xml, x.done for every file of stem x.
func (f *Fetcher) marks(m, name string) bool {
	return m != name && (m == name+f.markerSuffix || m == stem(name)+f.markerSuffix)
}

// stem is name without its extension, as the folder pairs an input with
// its sidecars.
func stem(name string) string { return strings.TrimSuffix(name, path.Ext(name)) }

// Start removes the downloads a crash interrupted, then schedules the
// polls, the first at once.
func (f *Fetcher) Start(context.Context, adapters.Host) error {
	f.removeTemps()
	if f.sched == nil {
		s, err := gocron.NewScheduler()
		if err != nil {
			return err
		}
		f.sched, f.own = s, true
		s.Start()
	}
	job, err := f.sched.NewJob(
		gocron.DurationJob(f.cfg.Poll),
		gocron.NewTask(f.tick),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartImmediately()),
	)
	if err != nil {
		return fmt.Errorf("schedule the fetch of %s: %w", f.t.Addr, err)
	}
	f.job = job
	return nil
}

// removeTemps removes the hidden files of downloads a crash (or a power
// cut) interrupted: no poll runs yet, and the remote files are still there
// to be fetched again. A folder that cannot be read is the polls' to report.
func (f *Fetcher) removeTemps() {
	es, err := os.ReadDir(f.local)
	if err != nil {
		return
	}
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), TempPrefix) && e.Type().IsRegular() && os.Remove(filepath.Join(f.local, e.Name())) == nil {
			n++
		}
	}
	if n > 0 {
		f.log.Info("removed the downloads an earlier run left unfinished", "folder", f.local, "files", n)
	}
}

// tick is a scheduled poll: skipped while a server that keeps failing
// waits out its backoff.
func (f *Fetcher) tick() {
	f.pollMu.Lock()
	wait := f.now().Before(f.retryAt)
	f.pollMu.Unlock()
	if !wait {
		_ = f.Poll(f.ctx)
	}
}

// Shutdown stops polling and waits for a poll in progress.
func (f *Fetcher) Shutdown(context.Context) error {
	f.cancel()
	if f.job != nil {
		f.sched.RemoveJob(f.job.ID())
	}
	if f.own {
		f.sched.Shutdown()
	}
	f.pollMu.Lock() // a running poll sees ctx done at its next file
	f.pollMu.Unlock()
	return nil
}

// Stats returns the figures since start.
func (f *Fetcher) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Config returns the settings in force (defaults filled in).
func (f *Fetcher) Config() Config { return f.cfg }

// Poll lists the directory once and fetches what has settled.
func (f *Fetcher) Poll(ctx context.Context) error {
	f.pollMu.Lock()
	defer f.pollMu.Unlock()
	start := f.now()
	n, err := f.poll(ctx)
	f.mu.Lock()
	f.stats.Fetched += int64(n)
	// pollErrors are files' failures after a good listing.
	var files pollErrors
	if err == nil || errors.As(err, &files) {
		f.stats.Polls++
		f.stats.LastPoll = time.Now()
	}
	prev := f.stats.LastError
	f.stats.LastError = ""
	if err != nil {
		f.stats.LastError = summary(err)
	}
	f.mu.Unlock()
	// A server that could not be logged in to or listed is tried again
	// after the poll interval, then after twice the wait each time up to
	// backoffMax: a server that is down, or refuses ferry's key, is not
	// dialled at every poll (a failed login each, which intrusion
	// blockers and account lockouts answer by shutting ferry out). A
	// listing that worked, its files' problems aside, ends the backoff.
	next := f.cfg.Poll
	if err != nil && !errors.As(err, &files) {
		f.fails++
		limit := max(backoffMax, f.cfg.Poll)
		for i := 1; i < f.fails && next < limit; i++ {
			next *= 2
		}
		next = min(next, limit)
		// Half a poll early: the scheduled poll due then is not skipped.
		f.retryAt = start.Add(next - f.cfg.Poll/2)
	} else {
		f.fails, f.retryAt = 0, time.Time{}
	}
	// As a fax mailbox: a failure is logged again when its reason changes
	// (the key fixed, the server now unreachable) and every warnAgain
	// while it lasts.
	switch {
	case err != nil && (reasonKey(err) != f.warned || f.now().Sub(f.warnedAt) >= warnAgain):
		f.log.Warn("fetch failed; trying again later", "server", f.t.Addr, "error", summary(err), "next_try", next)
		f.warned, f.warnedAt = reasonKey(err), f.now()
	case err == nil && prev != "":
		f.log.Info("fetch works again", "server", f.t.Addr)
		f.warned = ""
	}
	if n > 0 {
		f.log.Info("fetched files into the folder", "server", f.t.Addr, "files", n)
	}
	return err
}

// summary is err's text without file paths or the server's words: a
// problem's own summary, or configssh.Reason.
func summary(err error) string {
	var s interface{ Summary() string }
	if errors.As(err, &s) {
		return s.Summary()
	}
	return configssh.Reason(err)
}

// reasonKey is summary(err) without the connection's addresses
// (adapters.FailureKey): what tells one failure's reason from another's.
// Of files that failed after a good listing it is their reasons, each
// once, without the files or their count: a full disk or a folder ferry
// may not write fails each new export for the same reason, which is one
// failure that lasts, not a new one at each poll.
func reasonKey(err error) string {
	var files pollErrors
	if errors.As(err, &files) {
		var reasons []string
		for _, e := range files {
			var fe *fileError
			r := summary(e)
			if errors.As(e, &fe) {
				r = adapters.FailureKey(fe.err, summary(fe.err))
			}
			if !slices.Contains(reasons, r) {
				reasons = append(reasons, r)
			}
		}
		slices.Sort(reasons)
		return strings.Join(reasons, "; ")
	}
	return adapters.FailureKey(err, summary(err))
}

func (f *Fetcher) poll(ctx context.Context) (int, error) {
	sess, err := configssh.Dial(ctx, f.cfg.Login, f.t, f.cfg.Timeout, "fetch")
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	// A server that stops answering would hold the poll for ever: the
	// watchdog closes the session when a request makes no progress.
	progress, done := sess.Watch(ctx, f.cfg.Timeout)
	defer done()

	c := sess.SFTP
	entries, err := c.ReadDir(f.t.Dir)
	if err != nil {
		return 0, configssh.FileError(sess.Unanswered(err), "list "+f.t.Dir)
	}
	progress()
	now := map[string]obs{}
	var ready []string
	unsettled := map[string]bool{} // stems with a sidecar still being written
	for _, e := range entries {
		name := e.Name()
		if !e.Mode().IsRegular() || skipped(name) || (f.wanted != nil && !f.wanted(name)) {
			continue
		}
		o := obs{size: e.Size(), mtime: e.ModTime()}
		now[name] = o
		if t, ok := f.taken[name]; ok && t == o {
			continue // fetched in this run; its move failed: not again
		}
		if p, ok := f.seen[name]; ok && p == o {
			ready = append(ready, name)
		} else if f.isSidecar(name) {
			unsettled[stem(name)] = true
		}
	}
	f.seen = now
	// A fax whose sidecar is still being uploaded (the service writes
	// the PDF, then the JSON naming the patient) waits for it: taken now,
	// the folder would take it alone.
	ready = slices.DeleteFunc(ready, func(name string) bool { return !f.isSidecar(name) && unsettled[stem(name)] })
	for name := range f.taken {
		if _, ok := now[name]; !ok {
			delete(f.taken, name) // moved by someone, or gone
		}
	}
	for name, h := range f.hung {
		if o, ok := now[name]; !ok || o != h.o {
			delete(f.hung, name) // gone, or changed: tried as a new file
		}
	}
	if len(ready) == 0 {
		return 0, nil
	}
	// Sidecars first, so that each is in the folder before its input
	// (which the folder takes once settled, with what lies beside it
	// then), and markers last, after the files they stand for (the
	// folder takes the files of a marker's stem that it finds beside it,
	// and removes the marker with the last of them: one that came before
	// x.xml, as x.done sorts before it, left x.xml waiting for a marker
	// for ever); then oldest first, as the folder engine takes files, so
	// that an export series (one patient's messages) comes in the order
	// it was written. A file the server keeps leaving unanswered (hung)
	// goes after the others, with the files of its stem: it was tried
	// first at every poll, and the connection, closed at it, failed the
	// files after it, so none was fetched for as long as it hung.
	late := map[string]bool{}
	for _, name := range ready {
		if f.hung[name].polls >= hungPolls {
			late[f.groupKey(name)] = true
		}
	}
	lateness := func(name string) int {
		if late[f.groupKey(name)] {
			return 1
		}
		return 0
	}
	rank := func(name string) int {
		switch {
		case f.isSidecar(name):
			return 0
		case f.isMarker(name):
			return 2
		}
		return 1
	}
	slices.SortFunc(ready, func(a, b string) int {
		if c := lateness(a) - lateness(b); c != 0 {
			return c
		}
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		if c := now[a].mtime.Compare(now[b].mtime); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if f.cfg.After == AfterMove {
		if err := c.MkdirAll(f.doneDir()); err != nil {
			return 0, configssh.FileError(err, "make done_dir "+f.doneDir())
		}
	}
	// Names in the folder are chosen for the poll's files together, so
	// that a fax and its sidecar renamed for a clash stay a pair.
	dsts, used := map[string]string{}, map[string]bool{}
	var errs []error
	for _, group := range f.stemGroups(ready) {
		m, err := f.freeNames(group, used)
		if err != nil {
			for _, name := range group {
				errs = append(errs, &fileError{file: f.label(name), err: err})
			}
			ready = slices.DeleteFunc(ready, func(name string) bool { return slices.Contains(group, name) })
		}
		for name, p := range m {
			dsts[name], used[p] = p, true
		}
	}
	n := 0
	// Stems whose sidecar this poll could not bring into the folder: their
	// inputs wait with it, as they wait while it is being written.
	noSidecar := map[string]bool{}
	// A sidecar whose input comes in this poll is downloaded first but
	// kept under its hidden name (pending) until an input of its stem is
	// downloaded too; the two are then renamed into the folder, the
	// sidecar first. An input that cannot be downloaded (or a crash
	// meanwhile) leaves neither in the folder and both on the server, to
	// come together at the next poll: the sidecar stored alone lay in the
	// folder, unseen when the input never came (a crash: it came again
	// renamed), to go with the next input of its name. The
	// sidecar is moved on the server after its input (held), and not at
	// all when the input is in the folder but could not be moved (kept):
	// the two then come again together after a restart, a pair the
	// folder's dedup log knows, where the input alone would be taken as
	// another input. It is moved as soon as the last input of its stem
	// in the poll is done, not once the whole poll is: a stop while a
	// later file was downloaded (the connection is closed then) left it
	// on the server without its input, and after the restart it came
	// into the folder alone, as a sidecar come too late.
	inputs := map[string]bool{}
	left := map[string]int{} // inputs of the stem still to take
	for _, name := range ready {
		if !f.isSidecar(name) {
			inputs[stem(name)] = true
			if !f.isMarker(name) {
				left[stem(name)]++
			}
		}
	}
	pending := map[string][]download{}
	defer func() {
		for _, ds := range pending {
			for _, d := range ds {
				os.Remove(d.tmp)
			}
		}
	}()
	var held []string
	kept := map[string]bool{}
	stored := map[string]bool{} // in the folder now
	// firstStall reports whether err is the first of the poll that the
	// watchdog's closing of the connection caused: the request it was
	// for is the one the server did not answer; the rest failed with it.
	stalled := false
	firstStall := func(err error) bool {
		var se *configssh.StallError
		if stalled || !errors.As(err, &se) {
			return false
		}
		stalled = true
		return true
	}
	// settleHeld moves the held sidecars of stem st, or all of them.
	settleHeld := func(st string, all bool) {
		rest := held[:0]
		for _, name := range held {
			if !all && stem(name) != st {
				rest = append(rest, name)
				continue
			}
			if kept[stem(name)] {
				f.taken[name] = now[name] // its input's error says why
				continue
			}
			if err := f.settle(c, name, now[name], progress); err != nil {
				err = sess.Unanswered(err)
				firstStall(err)
				errs = append(errs, &fileError{file: f.label(name), err: err})
			}
		}
		held = rest
	}
	for _, name := range ready {
		if ctx.Err() != nil {
			break
		}
		if noSidecar[stem(name)] && !f.isSidecar(name) {
			continue
		}
		if f.isMarker(name) && f.markerWaits(name, now, stored) {
			continue
		}
		var ok, last bool
		var placed []string
		var err error
		if f.isSidecar(name) && inputs[stem(name)] {
			progress()
			var tmp string
			if tmp, err = f.downloadTemp(c, path.Join(f.t.Dir, name), now[name], progress); err == nil {
				pending[stem(name)] = append(pending[stem(name)], download{name: name, tmp: tmp})
			} else {
				noSidecar[stem(name)] = true
			}
		} else {
			sidecars := pending[stem(name)]
			had := len(sidecars)
			placed, ok, err = f.fetchOne(c, name, dsts, now[name], progress, &sidecars)
			if sidecars == nil {
				delete(pending, stem(name))
				if len(placed) < had {
					// A sidecar could not be renamed into the folder:
					// the stem's other inputs wait with it.
					noSidecar[stem(name)] = true
				}
			}
			held = append(held, placed...)
			n += len(placed)
			if ok && err != nil {
				kept[stem(name)] = true
			}
			if !f.isSidecar(name) && !f.isMarker(name) {
				left[stem(name)]--
				last = left[stem(name)] == 0
			}
		}
		if ok {
			n++
			stored[name] = true
			delete(f.hung, name)
		}
		for _, p := range placed {
			stored[p] = true
		}
		// A file taken away between the listing and now is no error.
		if err != nil && !errors.Is(err, errGone) {
			// One file's problem (unreadable, not movable) must not keep
			// the others back; a broken session fails the rest quickly.
			err = sess.Unanswered(err)
			errs = append(errs, &fileError{file: f.label(name), err: err})
			if firstStall(err) && !ok {
				// Its download, not its move (it is in the folder).
				f.hung[name] = hang{o: now[name], polls: f.hung[name].polls + 1}
			}
		}
		if last {
			settleHeld(stem(name), false)
		}
	}
	settleHeld("", true)
	if len(errs) == 0 {
		return n, nil
	}
	return n, pollErrors(errs)
}

// markerWaits reports whether the marker m stays on the server this
// poll: a file it stands for is listed there but not in the folder (still
// being written, or its download failed), and would come after the
// marker, which the folder has removed by then.
func (f *Fetcher) markerWaits(m string, now map[string]obs, stored map[string]bool) bool {
	for name, o := range now {
		if !f.marks(m, name) || f.isMarker(name) || f.isSidecar(name) || stored[name] {
			continue
		}
		if t, ok := f.taken[name]; ok && t == o {
			continue // in the folder, its move failed
		}
		return true
	}
	return false
}

// pollErrors are the files one poll could not take or settle.
type pollErrors []error

// shownErrors is how many files a poll's error names; it counts the
// others, so that a whole directory failing (the folder gone, a broken
// session) does not make a status and a log line as long as its listing.
const shownErrors = 3

func (p pollErrors) Error() string {
	parts := make([]string, 0, shownErrors+1)
	for _, e := range p[:min(len(p), shownErrors)] {
		parts = append(parts, summary(e))
	}
	if len(p) > shownErrors {
		parts = append(parts, fmt.Sprintf("and %d more files", len(p)-shownErrors))
	}
	return strings.Join(parts, "; ")
}
func (p pollErrors) Summary() string { return p.Error() }
func (p pollErrors) Unwrap() []error { return p }

// Check logs in and lists the directory without taking anything:
// `ferry doctor`'s test. It returns how many files wait there.
func (f *Fetcher) Check(ctx context.Context) (int, error) {
	sess, err := configssh.Dial(ctx, f.cfg.Login, f.t, f.cfg.Timeout, "fetch")
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	// As in a poll: a server that stops answering must not hold `ferry
	// doctor` for ever.
	_, done := sess.Watch(ctx, f.cfg.Timeout)
	defer done()
	entries, err := sess.SFTP.ReadDir(f.t.Dir)
	if err != nil {
		return 0, configssh.FileError(sess.Unanswered(err), "list "+f.t.Dir)
	}
	n := 0
	for _, e := range entries {
		if e.Mode().IsRegular() && !skipped(e.Name()) && (f.wanted == nil || f.wanted(e.Name())) {
			n++
		}
	}
	return n, nil
}

// label names a remote file in errors and logs: export file names often
// carry the patient's name and chart number, so without log.phi it is
// the first 12 hex digits of the name's SHA-256 (`printf %s NAME |
// sha256sum` finds it).
func (f *Fetcher) label(name string) string {
	if f.logPHI {
		return strconv.Quote(name)
	}
	h := sha256.Sum256([]byte(name))
	return "name-sha256=" + hex.EncodeToString(h[:6])
}

// fileError is one remote file's failure; its text names the file by
// label and holds no path.
type fileError struct {
	file string
	err  error
}

func (e *fileError) Error() string   { return "file " + e.file + ": " + summary(e.err) }
func (e *fileError) Summary() string { return e.Error() }
func (e *fileError) Unwrap() error   { return e.err }

// skipped reports whether a remote name is never taken: hidden, or a
// transfer still in progress by its suffix.
func skipped(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~$") {
		return true
	}
	l := strings.ToLower(name)
	for _, suf := range []string{".part", ".partial", ".tmp", ".temp", ".filepart", ".crdownload", ".download", ".lock"} {
		if strings.HasSuffix(l, suf) {
			return true
		}
	}
	return false
}

func (f *Fetcher) doneDir() string {
	if path.IsAbs(f.cfg.DoneDir) {
		return f.cfg.DoneDir
	}
	return path.Join(f.t.Dir, f.cfg.DoneDir)
}

// download is a file downloaded into the folder under its hidden name
// tmp, flushed, waiting to be renamed to its own.
type download struct{ name, tmp string }

// fetchOne downloads name into the folder durably, then moves or deletes
// it on the server; stored reports that it is in the folder. The
// sidecars of its stem, downloaded already, are renamed into the folder
// just before it (placed names those that are there), and only once it
// is downloaded whole; then *sidecars is emptied (nil), a sidecar that
// could not be renamed dropping the others with the input.
func (f *Fetcher) fetchOne(c *sftp.Client, name string, dsts map[string]string, o obs, progress func(), sidecars *[]download) (placed []string, stored bool, _ error) {
	// The watchdog bounds each request, not the poll: a new file starts
	// it again, and so does the move once the local copy is synced (a
	// run of empty marker files, or a slow local disk, made no progress
	// it counted and had the session closed mid-poll).
	progress()
	tmp, err := f.downloadTemp(c, path.Join(f.t.Dir, name), o, progress)
	if err != nil {
		return nil, false, err
	}
	// Downloaded: the sidecars go with it, or (one that cannot be
	// renamed) none of them is kept and they come again.
	ss := *sidecars
	*sidecars = nil
	for i, s := range ss {
		if err := f.place(s.tmp, dsts[s.name]); err != nil {
			for _, r := range ss[i+1:] {
				os.Remove(r.tmp)
			}
			os.Remove(tmp)
			return placed, false, err
		}
		placed = append(placed, s.name)
	}
	if err := f.place(tmp, dsts[name]); err != nil {
		return placed, false, err
	}
	return placed, true, f.settle(c, name, o, progress)
}

// settle moves or deletes name, stored in the folder, on the server. A
// file that is no longer what the listing said stays there: it changed
// since it was downloaded (a sidecar is moved only once its fax is in the
// folder too, minutes later for a large fax), and moved or deleted the new
// version would be lost unread; it is fetched again once settled.
func (f *Fetcher) settle(c *sftp.Client, name string, o obs, progress func()) error {
	progress()
	remote := path.Join(f.t.Dir, name)
	st, err := c.Stat(remote)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil // taken away meanwhile; it is in the folder
	case err != nil:
		f.taken[name] = o
		return configssh.FileError(err, "look at it again before its move (it is in the folder; it stays on the server and is not fetched again until it changes or ferry restarts)")
	case st.Size() != o.size || !st.ModTime().Equal(o.mtime):
		return errors.New("it changed on the server after it was fetched (the folder has it as it was); the new version stays there and is fetched once settled")
	}
	switch f.cfg.After {
	case AfterDelete:
		err = c.Remove(remote)
	default:
		err = configssh.Replace(c, remote, path.Join(f.doneDir(), name))
	}
	if err != nil {
		f.taken[name] = o
		return configssh.FileError(err, "move or delete it on the server (it is in the folder; it stays on the server and is not fetched again until it changes or ferry restarts)")
	}
	return nil
}

// errGone is a remote file no longer there when it is opened: taken away
// since the listing. Only the remote file: a local folder that is not there
// is a problem to report.
var errGone = errors.New("gone from the server since the listing")

// downloadTemp copies remote into the folder under a hidden name, which
// it returns, and flushes it. A copy whose size is not what the listing
// said, or of a file whose size or modification time is no longer what
// the listing said (the file changed meanwhile), is dropped.
func (f *Fetcher) downloadTemp(c *sftp.Client, remote string, o obs, progress func()) (string, error) {
	rf, err := c.Open(remote)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", errGone
		}
		return "", configssh.FileError(err, "open it")
	}
	defer rf.Close()
	tmp, err := os.CreateTemp(f.local, TempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// WriteTo reads the file's chunks concurrently (a WAN link's round
	// trips overlap).
	n, err := rf.WriteTo(configssh.ProgressWriter(tmp, progress))
	if err != nil {
		return "", fmt.Errorf("download: %s", summary(err))
	}
	if n != o.size {
		return "", fmt.Errorf("download: %d bytes, the listing said %d (changed meanwhile; next poll)", n, o.size)
	}
	// A file of the same size may still have changed while it was read:
	// rewritten in place (the copy is then part the old file, part the
	// new), or replaced by another of its name, which the move would take
	// off the server unread. Either is dropped, and taken once settled.
	// One removed meanwhile was read whole: the copy is kept.
	st, err := c.Stat(remote)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", configssh.FileError(err, "look at it again after the download")
	case st.Size() != o.size || !st.ModTime().Equal(o.mtime):
		return "", errors.New("download: the file changed meanwhile; next poll")
	}
	// The server's modification time, not the download's: the folder
	// engine takes files oldest first, and a fax without another receive
	// time is dated by it.
	if err := os.Chtimes(tmp.Name(), o.mtime, o.mtime); err != nil {
		return "", fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
	}
	keep = true
	return tmp.Name(), nil
}

// place renames tmp, a download flushed by downloadTemp, to dst (a name
// freeNames found free) and flushes the folder; tmp is gone after it,
// whatever the outcome.
func (f *Fetcher) place(tmp, dst string) error {
	defer os.Remove(tmp)
	// Link, not rename: a name taken meanwhile (the folder engine does not
	// write here, but a person might) fails instead of being replaced. A
	// file system without hard links (FAT, some network shares) gets the
	// rename, freeNames having found the name free.
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, os.ErrExist) {
			return errors.New("fetch into the folder: its name was taken meanwhile; next poll")
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
		}
	}
	if err := durable.SyncDir(f.local); err != nil {
		return fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
	}
	return nil
}

// freeName is the folder's path for name, or name.<n>.ext when the folder
// still holds a file of that name (an earlier export the engine has not
// taken yet, or one it left in place).
func (f *Fetcher) freeName(name string) (string, error) {
	m, err := f.freeNames([]string{name}, nil)
	return m[name], err
}

// stemGroups splits names into the groups of one stem (a fax and its
// sidecars, a file and its marker: x.done and x.xml.done go with x.xml),
// in the order their first names come.
func (f *Fetcher) stemGroups(names []string) [][]string {
	at := map[string]int{}
	var groups [][]string
	for _, name := range names {
		key := f.groupKey(name)
		i, ok := at[key]
		if !ok {
			i = len(groups)
			at[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], name)
	}
	return groups
}

// groupKey is the stem of name's group (stemGroups): its stem, or a
// marker's the stem of the name it stands for.
func (f *Fetcher) groupKey(name string) string {
	if f.isMarker(name) {
		return stem(strings.TrimSuffix(name, f.markerSuffix))
	}
	return stem(name)
}

// numbered is name with <n> before its extension (x.pdf: x.1.pdf), and a
// marker with <n> in the name it stands for (x.xml.done: x.1.xml.done;
// x.done: x.1.done), so that it still stands for it.
func (f *Fetcher) numbered(name string, n int) string {
	suffix := ""
	if f.isMarker(name) && name != f.markerSuffix {
		name, suffix = strings.TrimSuffix(name, f.markerSuffix), f.markerSuffix
	}
	ext := filepath.Ext(name)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(name, ext), n, ext) + suffix
}

// freeNames gives the folder's path for each of names, files of one stem:
// their own names, or, when the folder still holds a file of one of them
// (an earlier export the engine has not taken yet, or one it left in
// place), stem.<n>.ext with one <n> for all of them, so that a fax and
// its sidecar stay a pair: x.1.pdf and x.1.json, never x.1.pdf beside an
// x.json the folder would take as the sidecar of the x.pdf still there.
// The paths in used, chosen for other files of the poll, are not free.
func (f *Fetcher) freeNames(names []string, used map[string]bool) (map[string]string, error) {
	for _, name := range names {
		base := filepath.Base(filepath.FromSlash(name))
		if base == "." || base == ".." || base != name || !localName(base) {
			return nil, errors.New("its name cannot be a file name here")
		}
	}
	// A name the file system refuses to look up (too long, the folder
	// not searchable) is not one in use: its error is the file's.
	inUse := func(p string) (bool, error) {
		if used[p] {
			return true, nil
		}
		_, err := os.Lstat(p)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return err == nil, nil
		}
		return false, err
	}
	for i := 0; i < 1000; i++ {
		out := make(map[string]string, len(names))
		for _, name := range names {
			cand := name
			if i > 0 {
				cand = f.numbered(name, i)
			}
			p := filepath.Join(f.local, cand)
			busy, err := inUse(p)
			switch {
			case err != nil && i > 0:
				return nil, fmt.Errorf("the folder still holds an unread file of its name, and its numbered name, ending %s, is refused (%s); it comes once the folder has taken that file",
					strings.TrimPrefix(cand, stem(name)), configssh.Reason(err))
			case err != nil:
				return nil, fmt.Errorf("fetch into the folder: %s", configssh.Reason(err))
			case !busy:
				out[name] = p
			}
		}
		if len(out) == len(names) {
			return out, nil
		}
	}
	return nil, errors.New("the folder holds 1000 files named like it")
}

// localName reports whether name, one path element, names a file of its
// own in the folder. On Windows filepath.IsLocal refuses a colon, which
// would make "a:b" the stream b of file a (NTFS alternate data streams:
// the download hidden in another file, its remote copy then removed),
// and device names (CON, NUL); the characters Windows refuses in names
// are refused here too, so such a file is reported by its name's fault,
// not as a clash with 1000 others.
func localName(name string) bool {
	if !filepath.IsLocal(name) {
		return false
	}
	if runtime.GOOS != "windows" {
		return true
	}
	return !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || strings.ContainsRune(`<>"|?*`, r) })
}
