package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/queue/diskq"
)

// certWarnBefore is how long before expiry the daily check warns.
const certWarnBefore = 30 * 24 * time.Hour

// retentionPolicy returns how long delivered files are kept: done/
// archives of folder sources, and the outbox files (0 keeps them: in
// outbox mode they are the delivery, for another program to collect).
func retentionPolicy(g *gateway) (done, outbox time.Duration) {
	return g.cfg.Retention.Done, g.cfg.Retention.Outbox
}

// scheduleJobs adds the gateway's housekeeping to s: a daily retention
// pass over delivered files and a daily certificate-expiry check. Both run
// once at start too, so a gateway restarted every night still does them.
// The folder sources schedule their own rescans.
func (g *gateway) scheduleJobs(s gocron.Scheduler) error {
	opts := func(name string) []gocron.JobOption {
		return []gocron.JobOption{
			gocron.WithName(name),
			gocron.WithSingletonMode(gocron.LimitModeReschedule),
			gocron.WithStartAt(gocron.WithStartImmediately()),
		}
	}
	// The retention pass is no singleton: a pass held by one hung place
	// would have made gocron skip every later one. It keeps one pass per
	// place itself (startPrune), so overlapping runs prune the others.
	retention := []gocron.JobOption{gocron.WithName("retention"), gocron.WithStartAt(gocron.WithStartImmediately())}
	if _, err := s.NewJob(gocron.DurationJob(24*time.Hour), gocron.NewTask(g.pruneDelivered), retention...); err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	if _, err := s.NewJob(gocron.DurationJob(24*time.Hour), gocron.NewTask(g.warnCertExpiry), opts("certificate expiry")...); err != nil {
		return fmt.Errorf("schedule certificate check: %w", err)
	}
	return nil
}

// stopScheduler stops the scheduled jobs, waiting for one under way
// until ctx ends. gocron's Shutdown waits up to 10 seconds for a job that
// does not end, whatever the stop's deadline: a job held in a
// file-system call (a retention pass over a done_dir on a file server
// that stopped answering) kept the stop waiting that long past it. Such
// a job is left to end on its own: the retention pass ends at its next
// file once stopped, and no job uses what the stop closes after this
// (the sources whose polls use the queue have waited for them). g.mu is
// held.
func (g *gateway) stopScheduler(ctx context.Context) error {
	if !g.started {
		return g.sched.Shutdown() // never started: nothing runs
	}
	stopped := make(chan error, 1)
	go func() { stopped <- g.sched.Shutdown() }()
	select {
	case err := <-stopped:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the scheduled jobs had not stopped by the stop's deadline (one under way is left to end on its own): %w", ctx.Err())
	}
}

// pruneRun is one place's retention pass under way.
type pruneRun struct {
	since time.Time
	stuck bool // a later pass found it still under way
}

// testHookPrune, when set (tests only), runs as a retention pass starts
// on a place: a folder source's name, or "" for the outbox.
var testHookPrune atomic.Pointer[func(place string)]

// pruneDelivered removes delivered files older than the retention: dated
// done/ folders of the folder sources and, when configured, outbox files.
// Undelivered data (queue, quarantine, dead letters, failed/) is never
// touched. It ends at the next file once ctx ends (the scheduler's stop)
// or the folder it prunes stops, so that a long pass does not hold up the
// service's stop; the next pass removes what it left.
//
// Each place is pruned in a goroutine of its own: a done_dir on a file
// server that stopped answering holds a listing or an unlink for minutes,
// or for good, and walking the places in turn held every place after it
// (and, the job being a singleton, every later pass). A place whose last
// pass is still under way is skipped, with a WARN and in `ferry status`,
// so a hung place holds one goroutine at most and delays only itself.
func (g *gateway) pruneDelivered(ctx context.Context) {
	done, outbox := retentionPolicy(g)
	now := time.Now()
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		folders, files int // dated done/ folders, outbox files
		stopped        bool
	)
	run := func(place string, prune func() (n int, err error), count *int) {
		if !g.startPrune(place, now) {
			return
		}
		wg.Go(func() {
			defer g.endPrune(place)
			if h := testHookPrune.Load(); h != nil {
				(*h)(place)
			}
			n, err := prune()
			mu.Lock()
			defer mu.Unlock()
			*count += n
			switch {
			case errors.Is(err, context.Canceled):
				stopped = true
			case err != nil && place == "":
				g.log.Warn("retention: pruning outbox failed", "error", err)
			case err != nil:
				g.log.Warn("retention: pruning done folder failed", "source", place, "error", err)
			}
		})
	}
	if done > 0 {
		for _, f := range g.cfg.Sources.Folders {
			run(f.Name, func() (int, error) {
				// A running folder prunes through the done/ it holds
				// open, so that a .ferry swapped by someone who may
				// write the watched folder redirects nothing
				// (folder.PruneDone).
				var n int
				err := folder.ErrNotRunning
				for _, eng := range g.folders {
					if eng.Config().Name == f.Name {
						n, err = eng.PruneDone(ctx, now.Add(-done))
					}
				}
				if errors.Is(err, folder.ErrNotRunning) {
					// Not started yet (this pass runs as the scheduler
					// starts, before the folders), or it could not
					// start: opened as its start would, following no
					// link where that refuses one.
					n, err = folder.PruneDoneOf(ctx, f.Config.Config, now.Add(-done))
				}
				return n, err
			}, &folders)
		}
	}
	if outbox > 0 && g.cfg.Exchange.URL == "" {
		run("", func() (int, error) {
			return ops.PruneOldFiles(ctx, g.cfg.Path("outbox"), now.Add(-outbox))
		}, &files)
	}
	wg.Wait()
	if stopped {
		g.log.Info("retention: pass ended by the stop; the next pass removes the rest", "done_folders", folders, "outbox_files", files)
		return
	}
	if folders+files > 0 {
		// Each dated folder holds a day's inputs: not a count of files.
		g.log.Info("retention: removed delivered files", "done_folders", folders, "outbox_files", files)
	}
}

// startPrune marks place's pass under way (a folder source's name, or ""
// for the outbox: no source is named "", config names them), or, when
// the last one still is, warns (once per pass that finds it so) and
// reports false.
func (g *gateway) startPrune(place string, now time.Time) bool {
	g.pruneMu.Lock()
	defer g.pruneMu.Unlock()
	if r := g.pruning[place]; r != nil {
		r.stuck = true
		g.log.Warn("retention: the last pass on this place has not ended (a file server not answering?); skipped until it does",
			"source", prunePlaceName(place), "since", r.since.UTC().Format(time.RFC3339))
		return false
	}
	if g.pruning == nil {
		g.pruning = map[string]*pruneRun{}
	}
	g.pruning[place] = &pruneRun{since: now}
	return true
}

// endPrune marks place's pass ended.
func (g *gateway) endPrune(place string) {
	g.pruneMu.Lock()
	defer g.pruneMu.Unlock()
	if r := g.pruning[place]; r != nil && r.stuck {
		g.log.Info("retention: the pass on this place ended", "source", prunePlaceName(place), "since", r.since.UTC().Format(time.RFC3339))
	}
	delete(g.pruning, place)
}

// prunePlaceName names place in the log and the status report.
func prunePlaceName(place string) string {
	if place == "" {
		return "outbox"
	}
	return place
}

// retentionStuck lists the places whose retention pass a later pass
// found still under way, for the status report.
func (g *gateway) retentionStuck() []ops.RetentionStuck {
	g.pruneMu.Lock()
	defer g.pruneMu.Unlock()
	var out []ops.RetentionStuck
	for place, r := range g.pruning {
		if r.stuck {
			out = append(out, ops.RetentionStuck{Place: prunePlaceName(place), Since: r.since})
		}
	}
	slices.SortFunc(out, func(a, b ops.RetentionStuck) int { return strings.Compare(a.Place, b.Place) })
	return out
}

// warnCertExpiry logs, once per run (daily), every configured certificate
// that expires within certWarnBefore or already has, or is not valid
// yet: an expired client certificate stops all delivery, and renewal
// takes the exchange days.
func (g *gateway) warnCertExpiry() {
	now := time.Now()
	for _, c := range ops.ConfiguredCertificates(g.cfg, now) {
		switch {
		case c.Error != "":
			g.log.Warn("certificate cannot be read", "use", c.Use, "file", c.File, "error", c.Error)
		case now.After(c.NotAfter):
			g.log.Error("certificate has expired", "use", c.Use, "file", c.File, "certificate", c.Subject, "expired", c.NotAfter.UTC().Format(time.DateOnly))
		case !c.NotValidUntil.IsZero():
			g.log.Error("certificate is not valid yet", "use", c.Use, "file", c.File, "certificate", c.Subject, "valid_from", c.NotValidUntil.UTC().Format(time.DateOnly),
				"advice", "every handshake with it fails until then; check the system clock")
		case c.NotAfter.Sub(now) < certWarnBefore:
			g.log.Warn("certificate expires soon", "use", c.Use, "file", c.File, "certificate", c.Subject, "expires", c.NotAfter.UTC().Format(time.DateOnly), "days_left", c.DaysLeft)
		}
	}
}

// registerOps adds the token-guarded dead-letter endpoints (retry, purge,
// show) used by `ferry queue` while the gateway holds the queue, and the
// live backup's snapshot endpoints used by `ferry backup`. The
// token is written to <data_dir>/ops.token, readable only by the service
// account (and root).
// Without the token file the endpoints stay off (the queue commands then
// ask the operator to stop the gateway).
func (g *gateway) registerOps(mux *http.ServeMux) {
	tok, err := ops.WriteToken(g.cfg.DataDir)
	if err != nil {
		g.log.Warn("dead-letter operations over the status listener disabled", "error", err)
		return
	}
	ops.RegisterOpsHandlers(mux, g.q, tok, func(err error) bool { return errors.Is(err, diskq.ErrNotFound) }, g.opsAPIAudit()...)
	ops.RegisterSnapshotHandlers(mux, tok, g.cfg.DataDir, g.q.Freeze, g.done, g.opsAPIDenied())
}
