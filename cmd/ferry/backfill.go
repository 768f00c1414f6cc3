package main

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/transport/audit"
)

// cmdBackfill feeds an old export folder through the same conversion
// pipeline as the live sources into the queue, leaving the originals where
// they are. It remembers finished files by content, path and sidecars, so
// it can be interrupted and run again. The gateway delivers what it queued
// on its next start. With --folder NAME the files are taken as the
// configured watched folder NAME takes its own (fax patterns and
// sidecars, csv mappings, ZIP archives).
func cmdBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlags("backfill", stderr)
	cfgPath := opsConfigFlag(fs)
	showNames := fs.Bool("phi", false, "name the files in the output (export file names are often the patient's name and chart number); without it they are named by content hash, as ferry quarantine list names them")
	asFolder := fs.String("folder", "", "take the files as the configured folder `NAME` (sources.folders[].name) takes its own: its kind, include, sidecars, fax patterns, csv mappings")
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
	var fcfg *config.Folder
	if *asFolder != "" {
		var names []string
		for i, f := range cfg.Sources.Folders {
			names = append(names, f.Name)
			if f.Name == *asFolder {
				fcfg = &cfg.Sources.Folders[i]
			}
		}
		if fcfg == nil {
			return fmt.Errorf("--folder %q: no folder of that name in sources.folders (there are: %s)", *asFolder, strings.Join(names, ", "))
		}
	}
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	if err := durable.MkdirAll(cfg.DataDir, 0o700); err != nil {
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
	pipe, held, err := ingestPipeline(cfg, q, seen, key, convs, log, trail.held, trail.finishedCutShort)
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
	if trail != nil {
		// The folder the files are taken from, not one they would
		// come through live (--folder), is the imports' Source Media.
		trail.from = &sourceMedia{id: "file:" + abs, typ: audit.MediaURI}
	}
	var consumer adapters.Consumer = trail.consumer(pipe)
	var eng *folder.Engine
	if fcfg != nil {
		fc, err := backfillFolder(cfg, *fcfg, consumer, pipe, log)
		if err != nil {
			return err
		}
		consumer, eng = fc, fc.eng
	}
	consumer = newCopyCheck(consumer, pipe.Quarantine())

	fmt.Fprintf(stdout, "backfill from %s into %s (the files stay where they are)\n", abs, ops.QueueDir(cfg))
	var bar *progressbar.ProgressBar
	res, err := ops.Backfill(ctx, dir, consumer, journal, ops.BackfillOptions{
		Source:  "backfill",
		Formats: formats,
		Folder:  eng,
		// A bulk export's files in dependency order, as an EHR drop
		// takes them live.
		Rank: ehrdrop.BulkRank,
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
	fmt.Fprintf(stdout, "%d file(s): %d converted now, %d already done by an earlier run, %d quarantined (`ferry quarantine list`), %d failed, %d unreadable, %d skipped\n",
		res.Files, res.Queued, res.AlreadyDone, res.Quarantined, len(res.Failed), len(res.Unreadable), len(res.Skipped))
	st := pipe.Stats()
	fmt.Fprintf(stdout, "  %d bundle(s) queued, %d dropped as duplicates of bundles queued before\n", st.Queued.Load(), st.Duplicates.Load())
	if heldAfter, _ := held.List(); len(heldAfter) > len(heldBefore) {
		fmt.Fprintf(stdout, "  %d bundle(s) kept back by exchange.hold for review (`ferry held list`)\n", len(heldAfter)-len(heldBefore))
	}
	// File names are often the patient's name and chart number: without
	// --phi a file is named by its content hash, as the quarantine and
	// the folder sources' logs name it.
	name := func(rel, sum string) string {
		if *showNames {
			return rel
		}
		if len(sum) >= 12 {
			return "sha256=" + sum[:12]
		}
		if ext := filepath.Ext(rel); ext != "" && len(ext) <= 8 {
			return "(name hidden: a " + ext + " file)"
		}
		return "(name hidden)"
	}
	hide := func(s, rel, sum string) string {
		if *showNames {
			return s
		}
		// An archive's entries and their folders, which an EHI export
		// names after its patient, as `ferry quarantine list` hides them.
		s = folder.RedactNames(s, "(entry name hidden)", archiveNames(filepath.Join(dir, rel))...)
		return folder.RedactNames(s, name(rel, sum), rel, filepath.Base(rel), filepath.ToSlash(rel))
	}
	listed := len(res.Unreadable) + len(res.Failed) + len(res.Skipped) + len(res.NotCopied)
	for _, u := range res.Unreadable {
		fmt.Fprintf(stdout, "  could not read: %s: %s\n", name(u, res.Hashes[u]), hide(res.Reasons[u], u, res.Hashes[u]))
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stdout, "  failed (%s): %s: %s\n", ops.ErrNotKept, name(f, res.Hashes[f]), hide(res.Reasons[f], f, res.Hashes[f]))
	}
	for _, c := range res.NotCopied {
		fmt.Fprintf(stdout, "  quarantined without a copy (too large to keep, so `ferry quarantine replay` cannot take it): %s: fix the cause and run the same command again, which feeds it again\n", name(c, res.Hashes[c]))
	}
	for i, s := range res.Skipped {
		if i == 20 {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(res.Skipped)-20)
			break
		}
		why := "not a format ferry converts"
		if eng != nil {
			why = "not an input of folder " + fcfg.Name + ", or of no format ferry converts"
		}
		if r := res.Reasons[s]; r != "" {
			why = r + ", not followed"
		}
		fmt.Fprintf(stdout, "  skipped (%s): %s\n", why, name(s, res.Hashes[s]))
	}
	if listed > 0 && !*showNames {
		fmt.Fprintln(stdout, "  (files named by the SHA-256 of their content, as `sha256sum` prints it; --phi names them)")
	}
	full := errors.Is(err, queue.ErrFull)
	var fe *ops.FileError
	if errors.As(err, &fe) && !*showNames {
		err = errors.New(hide(err.Error(), fe.Path, fe.SHA256))
	}
	if full {
		// Nothing drains the queue while the gateway is stopped, as
		// backfill needs it: run again now, it stops at the same file.
		return fmt.Errorf("%w: have the gateway deliver what is queued (`ferry start`; `ferry status` shows the queue), `ferry stop` it once the queue has room, then run the same command again to resume", err)
	}
	if err != nil {
		return fmt.Errorf("%w (run the same command again to resume)", err)
	}
	fmt.Fprintf(stdout, "queue now holds %d item(s); the gateway delivers them when it runs\n", q.Len())
	return nil
}

// folderFeed feeds backfilled files to a configured folder's source, as
// its engine would hand them over.
type folderFeed struct {
	feed func(context.Context, adapters.Raw) error
	eng  *folder.Engine
	kind string
	csv  []csvfhir.Mapping
	pipe *pipeline.Pipeline
}

// backfillFolder builds the source of the configured folder f (not
// started: nothing is watched) on next.
func backfillFolder(cfg *config.Config, f config.Folder, next adapters.Consumer, pipe *pipeline.Pipeline, log *slog.Logger) (*folderFeed, error) {
	set := adapters.Settings{ID: "folder/" + f.Name, Logger: log, LogPHI: cfg.Log.PHI}
	src, err := newFolderSource(set, f, next)
	if err != nil {
		return nil, fmt.Errorf("--folder %s: %w", f.Name, err)
	}
	ff := &folderFeed{kind: f.Kind, csv: f.CSV, pipe: pipe}
	switch s := src.(type) {
	case *ehrdrop.Source:
		ff.feed, ff.eng = s.Feed, s.Engine()
	case *fax.Source:
		ff.feed, ff.eng = s.Feed, s.Engine()
	default:
		return nil, fmt.Errorf("--folder %s: kind %s cannot be backfilled", f.Name, f.Kind)
	}
	return ff, nil
}

// Consume hands in to the folder's source. A file an EHR drop would move
// to failed/ for being of no known format is skipped, as backfill skips
// such files without --folder; one it refuses whole for another reason (a
// damaged archive) is reported as ops.ErrNotKept, having reached no
// quarantine.
func (f *folderFeed) Consume(ctx context.Context, in adapters.Raw) error {
	if f.kind == "ehr" && csvfhir.Match(f.csv, in.Name) < 0 {
		got, err := ehrdrop.SniffRaw(in)
		if err != nil {
			if errors.Is(err, ehrdrop.ErrUnknownFormat) {
				return fmt.Errorf("%w: %w", ops.ErrNotConverted, err)
			}
			return err
		}
		if got.Format == ehrdrop.FormatBulkManifest {
			// Listed as skipped: the live drop archives it unsent.
			return fmt.Errorf("%w: a FHIR Bulk Data export's manifest, no resource", ops.ErrNotConverted)
		}
	}
	before := f.pipe.Stats().Quarantined.Load()
	err := f.feed(ctx, in)
	if queue.IsPermanent(err) && f.pipe.Stats().Quarantined.Load() == before {
		// Refused by the source before the pipeline saw it: the live
		// engine moves such a file to failed/ with the reason.
		return fmt.Errorf("%w: %w", ops.ErrNotKept, err)
	}
	return err
}

// copyCheck tells ops.Backfill which inputs the pipeline quarantined
// without a copy of them (a streamed file, too large for the quarantine
// to keep): it cannot replay them once the cause is fixed (a raised
// sources.max_whole_file_bytes, a newer ferry), and remembered as done,
// no later run would feed them either.
type copyCheck struct {
	next   adapters.Consumer
	quar   *pipeline.Quarantine
	stored []string // the entries quarantined during the Consume in hand
}

func newCopyCheck(next adapters.Consumer, quar *pipeline.Quarantine) *copyCheck {
	c := &copyCheck{next: next, quar: quar}
	quar.SetStored(func(id string) { c.stored = append(c.stored, id) })
	return c
}

// Consume hands in on and wraps a permanent error in ops.ErrNotCopied
// when an entry it quarantined holds no copy of its input.
func (c *copyCheck) Consume(ctx context.Context, in adapters.Raw) error {
	c.stored = c.stored[:0]
	err := c.next.Consume(ctx, in)
	if !queue.IsPermanent(err) || errors.Is(err, ops.ErrNotKept) || errors.Is(err, ops.ErrNotConverted) {
		return err
	}
	for _, id := range c.stored {
		if e, gerr := c.quar.Get(id); gerr == nil && len(e.Raw) == 0 {
			return fmt.Errorf("%w: %w", ops.ErrNotCopied, err)
		}
	}
	return err
}

// archiveNames returns the paths of the entries of the ZIP archive at p,
// each folder in them and their base names; none when p is no archive
// that can be read.
func archiveNames(p string) []string {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name, path.Base(f.Name))
		for d := path.Dir(f.Name); d != "." && d != "/"; d = path.Dir(d) {
			names = append(names, d, path.Base(d))
		}
	}
	return names
}
