package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	if _, err := s.NewJob(gocron.DurationJob(24*time.Hour), gocron.NewTask(g.pruneDelivered), opts("retention")...); err != nil {
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

// pruneDelivered removes delivered files older than the retention: dated
// done/ folders of the folder sources and, when configured, outbox files.
// Undelivered data (queue, quarantine, dead letters, failed/) is never
// touched. It ends at the next file once ctx ends (the scheduler's stop)
// or the folder it prunes stops, so that a long pass does not hold up the
// service's stop; the next pass removes what it left.
func (g *gateway) pruneDelivered(ctx context.Context) {
	done, outbox := retentionPolicy(g)
	now := time.Now()
	folders, files := 0, 0 // dated done/ folders, outbox files
	if done > 0 {
		for _, f := range g.cfg.Sources.Folders {
			// A running folder prunes through the done/ it holds open,
			// so that a .ferry swapped by someone who may write the
			// watched folder redirects nothing (folder.PruneDone).
			var n int
			err := folder.ErrNotRunning
			for _, eng := range g.folders {
				if eng.Config().Name == f.Name {
					n, err = eng.PruneDone(ctx, now.Add(-done))
				}
			}
			if errors.Is(err, folder.ErrNotRunning) {
				// Not started yet (this pass runs as the scheduler
				// starts, before the folders), or it could not start:
				// opened as its start would, following no link where
				// that refuses one.
				n, err = folder.PruneDoneOf(ctx, f.Config.Config, now.Add(-done))
			}
			folders += n
			if errors.Is(err, context.Canceled) {
				g.log.Info("retention: pass ended by the stop; the next pass removes the rest", "source", f.Name, "done_folders", folders)
				return
			}
			if err != nil {
				g.log.Warn("retention: pruning done folder failed", "source", f.Name, "error", err)
			}
		}
	}
	if outbox > 0 && g.cfg.Exchange.URL == "" {
		n, err := ops.PruneOldFiles(ctx, g.cfg.Path("outbox"), now.Add(-outbox))
		files = n
		if errors.Is(err, context.Canceled) {
			g.log.Info("retention: pass ended by the stop; the next pass removes the rest", "done_folders", folders, "outbox_files", files)
			return
		}
		if err != nil {
			g.log.Warn("retention: pruning outbox failed", "error", err)
		}
	}
	if folders+files > 0 {
		// Each dated folder holds a day's inputs: not a count of files.
		g.log.Info("retention: removed delivered files", "done_folders", folders, "outbox_files", files)
	}
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
