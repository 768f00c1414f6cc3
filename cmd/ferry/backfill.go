package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
)

// cmdBackfill feeds an old export folder through the same conversion
// pipeline as the live sources into the queue, leaving the originals where
// they are. It remembers finished files by content hash, so it can be
// interrupted and run again. The gateway delivers what it queued on its
// next start.
func cmdBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlags("backfill", stderr)
	cfgPath := opsConfigFlag(fs)
	pos, err := splitArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage
	}
	dir := pos[0]
	_, cfg, err := opsConfig(*cfgPath)
	if err != nil {
		return err
	}
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// The same identifier systems as the gateway (config.IdentifierBase).
	if _, err := cfg.EnsureSiteID(); err != nil {
		return err
	}
	defer installer.FixOwnership(cfg.DataDir)
	// Backfilled inputs are audited like live ones (an Import event each,
	// naming the person who ran the backfill) and go through the same
	// hold policy, whose decisions are audited too.
	aud, err := newOpsAudit(cfg, "backfill")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, aud.Close(context.Background(), stderr)) }()
	trail := aud.trail()
	q, err := openQueue(cfg, key)
	if errors.Is(err, diskq.ErrLocked) {
		return errors.New("the gateway is running and holds the queue: stop it (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal), run the backfill, then `ferry start`; an interrupted backfill resumes where it stopped")
	}
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	defer q.Close(context.Background())
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		return fmt.Errorf("open dedup set: %w", err)
	}
	defer seen.Close()
	journal, err := dedup.Open(cfg.Path("backfill.seen"), dedup.Options{MaxKeys: 50_000_000})
	if err != nil {
		return fmt.Errorf("open backfill journal: %w", err)
	}
	defer journal.Close()
	log := newLogger(io.Discard, cfg.Log.Level)
	reg, err := openReplaced(cfg, log)
	if err != nil {
		return err
	}
	defer reg.Close()
	convs := useReplaced(converters(cfg), reg)
	pipe, held, err := ingestPipeline(cfg, q, seen, key, convs, log, trail.held)
	if err != nil {
		return err
	}
	pipe.SetReplaced(reg)
	mreg, err := openMerges(cfg, key, convs, pipe, log)
	if err != nil {
		return fmt.Errorf("open merge registry: %w", err)
	}
	defer mreg.Close()
	heldBefore, _ := held.List()
	formats := map[string]bool{}
	for f := range convs {
		formats[f] = true
	}

	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(stdout, "backfill from %s into %s (the files stay where they are)\n", abs, ops.QueueDir(cfg))
	var bar *progressbar.ProgressBar
	res, err := ops.Backfill(ctx, dir, trail.consumer(pipe), journal, ops.BackfillOptions{
		Source:  "backfill",
		Formats: formats,
		Progress: func(done, total int, name string) {
			if bar == nil {
				bar = newBar(total, "backfill", stderr)
			}
			bar.Set(done)
		},
	})
	if bar != nil {
		bar.Finish()
	}
	fmt.Fprintf(stdout, "%d file(s): %d queued now, %d already done by an earlier run, %d quarantined (`ferry quarantine list`), %d skipped\n",
		res.Files, res.Queued, res.AlreadyDone, res.Quarantined, len(res.Skipped))
	if heldAfter, _ := held.List(); len(heldAfter) > len(heldBefore) {
		fmt.Fprintf(stdout, "  %d bundle(s) kept back by exchange.hold for review (`ferry held list`)\n", len(heldAfter)-len(heldBefore))
	}
	for i, s := range res.Skipped {
		if i == 20 {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(res.Skipped)-20)
			break
		}
		fmt.Fprintf(stdout, "  skipped (not a format ferry converts): %s\n", s)
	}
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	fmt.Fprintf(stdout, "queue now holds %d item(s); the gateway delivers them when it runs\n", q.Len())
	return nil
}
