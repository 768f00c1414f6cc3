package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/ehrdrop"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// cmdQuarantine implements `ferry quarantine list | show ID [--raw] |
// replay ID...|--all [--force] | purge ID...|--all --yes`: the inputs the pipeline
// could not convert, each kept with its reason (the MLLP sender got AE, a
// folder's file went to failed/). Once the sender or the mapping is fixed,
// `replay` feeds them through the pipeline again, as the gateway would
// have; that puts bundles into the queue, which needs the gateway stopped
// (it holds the queue's lock).
//
// What each subcommand prints about patients:
//   - list holds no PHI and is not audited, like `queue list` and `held
//     list`. An MLLP input's name ("conn 3 msg 17") is shown; a file's
//     name, which may be the patient's ("DOE_JANE_MRN777123.tif"), is
//     replaced by its content hash, as in the folder sources' log lines.
//     The reason is its first line, which is what the MLLP sender was
//     told (the ACK's ERR-8 text or the whole error: conversion errors
//     name segments and fields, not values), with file names replaced
//     the same way and a converter panic cut to "the converter panicked"
//     (the panic's own text may quote the input).
//   - show prints everything the entry keeps but the input itself: the
//     name, the source's facts and the whole reason, panic text and stack
//     included, for whoever fixes the cause. It is audited as a read, as
//     `queue show` is with or without --body; --raw adds the input.
//   - replay and purge print ids, counts and reasons as list does.
func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var all, yes, raw, force *bool
	sub, pos, cfg, err := opsSubcommand("quarantine", args, []string{"list", "show", "replay", "purge"}, stderr, func(fs *flag.FlagSet) {
		all = fs.Bool("all", false, "replay or purge every quarantined input")
		force = fs.Bool("force", false, "replay: even when newer data of the input's patient was delivered since it was quarantined, or waits in the queue (older data is then sent after newer)")
		yes = fs.Bool("yes", false, "confirm purge --all")
		raw = fs.Bool("raw", false, "show: print the input as received too (holds PHI)")
	})
	if err != nil {
		return err
	}
	pos = itemIDs(pos)
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return errUsage
		}
		quar, err := openQuarantine(cfg, key)
		if err != nil {
			return err
		}
		return quarantineList(quar, stdout)
	case "show":
		if len(pos) != 1 {
			return errUsage
		}
		quar, err := openQuarantine(cfg, key)
		if err != nil {
			return err
		}
		return quarantineShow(ctx, cfg, quar, pos[0], *raw, stdout, stderr)
	case "replay", "purge":
		if *all == (len(pos) > 0) {
			fmt.Fprintf(stderr, "ferry quarantine %s: give entry IDs or --all (one or the other)\n", sub)
			return errUsage // as in `ferry queue`
		}
		if *all && sub == "purge" && !*yes {
			return errors.New("quarantine purge --all deletes every quarantined input for good; add --yes to confirm")
		}
		if sub == "replay" {
			return quarantineReplay(ctx, cfg, key, pos, *all, *force, stdout, stderr)
		}
		quar, err := openQuarantine(cfg, key)
		if err != nil {
			return err
		}
		if *all {
			if pos, err = quar.List(); err != nil {
				return err
			}
			if len(pos) == 0 {
				fmt.Fprintln(stdout, "nothing is quarantined")
				return nil
			}
		}
		// Deleting inputs is recorded; without a trail to record it in,
		// nothing is deleted (see audit_ops.go).
		aud, err := newOpsAudit(cfg, "quarantine purge")
		if err != nil {
			return err
		}
		// A replay cut short after it queued or held a part of an input
		// is finished first, as the gateway's start, a release and a
		// discard finish it: purged before that, the entry's record of
		// the replay went with it, the duplicate filter never learnt the
		// keys of what the replay queued, and the sender's resend of the
		// input was queued again. Purging is the way out for an entry
		// nothing else can handle: what cannot be finished is said, and
		// the purge goes on (the record stays, for the next start).
		done, err := finishBeforePurge(ctx, cfg, key, aud, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "warning: what a cut-short replay or release left could not be finished first (%v); purging all the same\n", err)
			done = func() {}
		}
		defer done()
		return errors.Join(quarantinePurge(ctx, quar, pos, aud, stdout, stderr), aud.Close(ctx, stderr))
	}
	return errUsage
}

// finishBeforePurge opens the held store and finishes, with the queue's
// lock, what a replay or a release cut short left (finishBeforeDiscard);
// done lets the lock go. A queue locked is held by the gateway, which
// finished it when it started, or by a replay or a release in another
// terminal: the purge goes on without the lock, as it always could.
func finishBeforePurge(ctx context.Context, cfg *config.Config, key *seal.Key, aud *opsAudit, stdout io.Writer) (done func(), err error) {
	_, missing := os.Stat(cfg.Path("held"))
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		return nil, err
	}
	if missing != nil {
		installer.FixOwnership(cfg.DataDir)
	}
	held.SetKey(key)
	done, _, err = finishBeforeDiscard(ctx, cfg, key, held, aud, stdout)
	return done, err
}

// openQuarantine opens the quarantine store of cfg, sealed with key. A
// folder this command creates (before the gateway ever quarantined
// anything) is given to the service account, which must write into it.
func openQuarantine(cfg *config.Config, key *seal.Key) (*pipeline.Quarantine, error) {
	_, missing := os.Stat(cfg.Path("quarantine"))
	quar, err := pipeline.OpenQuarantine(cfg.Path("quarantine"))
	if err != nil {
		return nil, err
	}
	if missing != nil {
		installer.FixOwnership(cfg.DataDir)
	}
	quar.SetKey(key)
	return quar, nil
}

func quarantineList(quar *pipeline.Quarantine, stdout io.Writer) error {
	ids, err := quar.List()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintln(stdout, "nothing is quarantined")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTORED\tSOURCE\tFORMAT\tNAME\tREASON")
	for _, id := range ids {
		e, err := quar.Get(id)
		if err != nil {
			fmt.Fprintf(tw, "%s\t?\t?\t?\t?\t%v\n", id, err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Stored.Local().Format("2006-01-02 15:04"), orDefault(e.Source, "-"),
			orDefault(e.Format, "-"), quarantineName(e), oneLine(quarantineReason(e), 90))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d quarantined input(s). `ferry quarantine show ID` explains one; fix the sender or the mapping, then `ferry quarantine replay ID`.\n", len(ids))
	return nil
}

// namesShown reports whether an entry's name may be printed where no PHI
// goes: an MLLP listener names its inputs by connection and message
// number; every other source by a file name, which may be the patient's.
func namesShown(e *pipeline.QuarantineEntry) bool {
	return strings.HasPrefix(e.Source, "mllp/")
}

// quarantineName is how list and replay name an entry's input: its own
// name when that holds no PHI, else its content hash in the form the
// folder sources' log lines use, so the two can be matched.
func quarantineName(e *pipeline.QuarantineEntry) string {
	if namesShown(e) {
		return terminalText(orDefault(e.Name, "-"))
	}
	sum := e.Meta["sha256"]
	if len(sum) < 12 {
		h := sha256.Sum256(e.Raw)
		sum = hex.EncodeToString(h[:])
	}
	return "sha256=" + sum[:12]
}

// panicked is the fixed text of a converter panic's error: the ACK says no
// more, while the quarantined reason goes on with the panic's value.
var panicked = (&adapters.ConvertPanic{}).Error()

// quarantineReason is an entry's reason without PHI (see cmdQuarantine):
// its first line, a panic cut to the fixed text the sender got, file
// names replaced by the content hash.
func quarantineReason(e *pipeline.QuarantineEntry) string {
	r, _, _ := strings.Cut(e.Reason, "\n")
	if i := strings.Index(r, panicked); i >= 0 {
		r = r[:i+len(panicked)]
	}
	// What the sender wrote (MSH-9, MSH-10) is quoted: fit for a
	// terminal, as `ferry queue` prints it.
	return terminalText(hideNames(e, r))
}

// hideNames replaces, in s, the file names an entry's input came with
// (its name, as given and without folders, and its sidecars'), unless its
// names hold no PHI.
func hideNames(e *pipeline.QuarantineEntry, s string) string {
	if namesShown(e) {
		return s
	}
	names := []string{e.Name, filepath.Base(e.Name), e.Meta[folder.MetaFile]}
	if sc := e.Meta[folder.MetaSidecars]; sc != "" {
		names = append(names, strings.Split(sc, ",")...)
	}
	// An archive entry's path, and each folder in it: a folder of an EHI
	// export may be named after its patient.
	if entry := e.Meta[ehrdrop.MetaEntry]; entry != "" {
		names = append(names, entry)
		for dir := path.Dir(entry); dir != "." && dir != "/"; dir = path.Dir(dir) {
			names = append(names, dir, path.Base(dir))
		}
	}
	return folder.RedactNames(s, quarantineName(e), names...)
}

// quarantineShow prints one entry. Reading it is recorded before anything
// is printed (its name and reason may hold PHI; with --raw the input
// does), and nothing is printed when the event cannot be recorded.
func quarantineShow(ctx context.Context, cfg *config.Config, quar *pipeline.Quarantine, id string, withRaw bool, stdout, stderr io.Writer) (err error) {
	aud, err := newOpsAudit(cfg, "quarantine show")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, aud.Close(ctx, stderr)) }()
	e, err := quar.Get(id)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("show %s: %w", id, errNoEntry)
	}
	if err != nil {
		return fmt.Errorf("show %s: %w", id, err)
	}
	x := audit.OperatorAction{Kind: audit.OpQuarantineRead, Object: e.ID, ObjectType: audit.IDQuarantined}
	if err := aud.action(ctx, x); err != nil {
		return fmt.Errorf("show %s: %w", id, err)
	}
	fmt.Fprintf(stdout, "id:        %s\n", e.ID)
	fmt.Fprintf(stdout, "received:  %s\n", e.Received.Local().Format(time.DateTime))
	fmt.Fprintf(stdout, "stored:    %s\n", e.Stored.Local().Format(time.DateTime))
	fmt.Fprintf(stdout, "source:    %s\n", orDefault(e.Source, "-"))
	fmt.Fprintf(stdout, "format:    %s\n", orDefault(e.Format, "-"))
	// The name, the source's facts and the reason quote what came from
	// outside (a file's name, an e-mail's subject, a sender's MSH-9):
	// fit for a terminal, as `ferry queue show` prints them.
	fmt.Fprintf(stdout, "name:      %s\n", terminalText(orDefault(e.Name, "-")))
	fmt.Fprintf(stdout, "size:      %d bytes\n", len(e.Raw))
	keys := make([]string, 0, len(e.Meta))
	for k := range e.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "%-10s %s\n", k+":", terminalText(e.Meta[k]))
	}
	fmt.Fprintf(stdout, "reason:\n  %s\n", strings.ReplaceAll(strings.TrimSpace(terminalText(e.Reason)), "\n", "\n  "))
	if len(e.Raw) == 0 && e.Meta["backfill"] == "true" {
		fmt.Fprintln(stdout, "(no copy of the input is kept here, it was too large: it is in the export `ferry backfill` read, and the same command run again feeds it again)")
	} else if len(e.Raw) == 0 {
		fmt.Fprintln(stdout, "(no copy of the input is kept here, it was too large: a folder source's copy is in its failed/ folder)")
	}
	if withRaw && len(e.Raw) > 0 {
		printRaw(stdout, e.Raw)
	}
	return nil
}

// printRaw prints a quarantined input for a person. Text (HL7 v2, C-CDA,
// FHIR JSON) is printed as received, except that carriage returns become
// line breaks: HL7 v2 ends segments with a bare one, which would make a
// terminal print every segment over the last. Binary input (a fax image)
// would garble the terminal, and could drive it with escape sequences, so
// only its size is given.
func printRaw(w io.Writer, raw []byte) {
	text, ok := rawText(raw)
	if !ok {
		fmt.Fprintf(w, "input (%d bytes, binary: not printed)\n", len(raw))
		return
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	fmt.Fprintf(w, "input (%d bytes as received, carriage returns shown as line breaks):\n%s", len(raw), text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(w)
	}
}

// rawText returns raw as text, or false when it holds control characters
// other than line breaks and tabs (binary data, or escape sequences).
// Input that is not UTF-8 is read as ISO 8859-1, the other character set
// HL7 v2 senders commonly use (MSH-18), whose bytes are the first 256
// code points.
func rawText(raw []byte) (string, bool) {
	s := string(raw)
	if !utf8.ValidString(s) {
		rs := make([]rune, len(raw))
		for i, b := range raw {
			rs[i] = rune(b)
		}
		s = string(rs)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\r' && r != '\n' && r != '\t' {
			return "", false
		}
	}
	return s, true
}

// quarantinePurge deletes entries, each recorded as a Patient Record
// delete. An entry that cannot be read any more (sealed with a lost key)
// is still deleted. Once an event cannot be recorded, the rest are left.
func quarantinePurge(ctx context.Context, quar *pipeline.Quarantine, ids []string, aud *opsAudit, stdout, stderr io.Writer) error {
	bar := newBar(len(ids), "purge quarantine", stderr)
	var failed []string
	var lost error
	deleted := 0
	for _, id := range ids {
		bar.Add(1)
		if lost != nil {
			failed = append(failed, fmt.Sprintf("%s: not done: %v", id, lost))
			continue
		}
		err := quar.Remove(id)
		if errors.Is(err, fs.ErrNotExist) {
			err = errNoEntry
		}
		if err == nil {
			deleted++
		}
		x := audit.OperatorAction{Kind: audit.OpQuarantinePurge, Object: filepath.Base(id), ObjectType: audit.IDQuarantined}
		x.Outcome, x.OutcomeDesc = opOutcome("purge", err)
		if aerr := aud.action(ctx, x); aerr != nil {
			lost = aerr
			if err == nil {
				err = fmt.Errorf("deleted, but %w; no more are deleted", aerr)
			}
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", id, err))
		}
	}
	bar.Finish()
	fmt.Fprintf(stdout, "%d of %d quarantined input(s) deleted\n", deleted, len(ids))
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
		return exitError{code: 1, err: fmt.Errorf("purge failed for %d input(s)", len(failed))}
	}
	return nil
}

// replayQueue is the queue as the pipeline sees it during a replay; it
// notes what the pipeline stored for the input in hand, so that the
// operator is told and the audit event names the patient key and the
// queue item. Creating spill files and the batch commit are the queue's
// own, so large bundles and split messages take the gateway's path.
type replayQueue struct {
	*diskq.Queue
	stored []queuedItem
}

// queuedItem is what is kept of an item replayQueue stored: the item
// itself must not be (its body is a pooled buffer, reused once the queue
// has copied it).
type queuedItem struct{ id, key, controlID string }

// Put stores one item (see PutAll).
func (r *replayQueue) Put(ctx context.Context, it *queue.Item) error {
	return r.PutAll(ctx, []*queue.Item{it})
}

// PutAll stores items with the queue's PutAll and notes them.
func (r *replayQueue) PutAll(ctx context.Context, items []*queue.Item) error {
	if err := r.Queue.PutAll(ctx, items); err != nil {
		return err
	}
	for _, it := range items {
		r.stored = append(r.stored, queuedItem{id: it.ID, key: it.Key, controlID: it.Attrs["control_id"]})
	}
	return nil
}

// quarantineReplay feeds quarantined inputs through the pipeline again,
// built from the configuration as the gateway builds it (converters,
// identifier systems, site id, dedup set, hold policy), in the order
// they were quarantined. Each input is handed over as its source handed it (source,
// format, name, facts, receive time), and what becomes of it decides what
// becomes of its entry:
//   - queued: the entry is removed, after the queue's commit is fsynced;
//   - held by exchange.hold, or a duplicate of an input queued since (the
//     sender sent it again once fixed): removed too, nothing is lost;
//   - still not convertible: the pipeline has quarantined it again, with
//     today's reason, and the old entry is removed, so there is one;
//   - refused, its patient having had newer data delivered since it was
//     quarantined (or newer data waiting in the queue, or that not being
//     known), unless force: the entry stays, as do the later entries of
//     that patient, which would overtake it; the others are replayed;
//   - any other failure (queue full, disk): the entry stays, and the
//     replay stops there.
//
// Each replay is recorded once done, as `queue retry` records a retry:
// the input was always meant for the exchange, so a replay whose event is
// lost is not undone, but the rest are left.
func quarantineReplay(ctx context.Context, cfg *config.Config, key *seal.Key, ids []string, all, force bool, stdout, stderr io.Writer) (err error) {
	// The trail is checked before anything is touched: without one to
	// record the replays in, nothing is replayed.
	aud, err := newOpsAudit(cfg, "quarantine replay")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, aud.Close(context.Background(), stderr)) }()
	dq, err := openQueue(cfg, key)
	if errors.Is(err, diskq.ErrLocked) {
		// Another replay or release in another terminal holds it the
		// same way, with the gateway stopped.
		return errors.New("the gateway is running and holds the queue, or another ferry command does (a replay or a release in another terminal): stop the gateway (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal) or let the other command end, replay, then start the gateway again")
	}
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	defer dq.Close(context.Background())
	defer installer.FixOwnership(cfg.DataDir)
	// The same identifier systems as the gateway (config.IdentifierBase).
	if _, err := cfg.EnsureSiteID(); err != nil {
		return err
	}
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		return fmt.Errorf("open dedup set: %w", err)
	}
	defer seen.Close()
	r := &replayer{q: &replayQueue{Queue: dq}, force: force, start: dq.NextSeq(), refused: map[string]string{}}
	trail := aud.trail()
	onHeld := func(in adapters.Raw, u *pipeline.Unit, label string) {
		r.heldItems = append(r.heldItems, queuedItem{key: u.Key, controlID: u.Attrs["control_id"]})
		r.held = append(r.held, label)
		trail.held(in, u, label)
	}
	reg, err := openReplaced(cfg, nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	convs := useReplaced(converters(cfg), reg)
	if r.pipe, _, err = ingestPipeline(cfg, r.q, seen, key, convs, newLogger(io.Discard, cfg.Log.Level), onHeld, trail.finishedCutShort); err != nil {
		return err
	}
	r.pipe.SetReplaced(reg)
	r.pipe.SetStoreCheck(r.check)
	// A replayed A40 records its merge; a replayed result under a
	// retired identifier goes to the survivor, as it would have live.
	mreg, err := openMerges(cfg, key, convs, r.pipe, newLogger(io.Discard, cfg.Log.Level))
	if err != nil {
		return fmt.Errorf("open merge registry: %w", err)
	}
	defer mreg.Close()
	r.quar = r.pipe.Quarantine()
	// A replay cut short is finished by the next process that holds the
	// queue, whose audit event then names the person who ran it.
	r.quar.SetReplayedBy(recordBy(ops.LocalOperator()))
	r.quar.SetStored(func(id string) { r.requarantined = append(r.requarantined, id) })
	if all {
		if ids, err = r.quar.List(); err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintln(stdout, "nothing is quarantined")
			return nil
		}
	} else {
		// In the order they were quarantined (an entry's id is a ULID,
		// which sorts by time), as --all takes them, whatever order they
		// were named in: a patient's inputs reach the queue, and the
		// exchange, in the order they came, so an A08 named before its
		// A01 does not overtake it.
		ids = slices.Clone(ids)
		slices.SortStableFunc(ids, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	}

	count := map[replayResult]int{}
	partHeld := 0 // queued inputs of which a part was held
	var failed []string
	var stop error
	for _, id := range ids {
		if stop != nil {
			failed = append(failed, fmt.Sprintf("%s: not replayed: %v", id, stop))
			continue
		}
		line, res, rerr := r.replay(ctx, id)
		x := audit.OperatorAction{Kind: audit.OpQuarantineReplay, Object: filepath.Base(id), ObjectType: audit.IDQuarantined}
		switch res {
		case replayQueued:
			x.OutcomeDesc = "converted and queued for the exchange"
			if len(r.held) > 0 {
				x.OutcomeDesc += "; part held by exchange.hold (" + strings.Join(r.held, ", ") + ")"
				partHeld++
			}
		case replayHeld:
			x.OutcomeDesc = "converted and held by exchange.hold (" + strings.Join(r.held, ", ") + ")"
		case replayDuplicate:
			x.OutcomeDesc = "converted; queued before, not queued again"
		case replayStillFails:
			x.Outcome, x.OutcomeDesc = audit.OutcomeSeriousFail, "replay failed: still not convertible; quarantined again as "+strings.Join(r.requarantined, ", ")
		case replayRefused:
			// Converted, and refused by the rule on newer data of its
			// patient (replayLaterError): not performed, as a hold by
			// policy is recorded (minor failure), not failed; the
			// patient weighed is named, as the refusal names it.
			if le := (*replayLaterError)(nil); errors.As(rerr, &le) && len(le.keys) > 0 {
				x.Patient = le.keys[0]
			}
			x.Outcome, x.OutcomeDesc = audit.OutcomeMinorFailure, "replay refused: newer data of the patient was delivered or waits in the queue, or that is not known; not queued, the entry stays (a replay with --force sends it)"
		default:
			x.Outcome, x.OutcomeDesc = opOutcome("replay", rerr)
		}
		if r.purged {
			// The trail has the purge too: told apart from a purge of
			// an input never sent.
			x.OutcomeDesc += "; its quarantine entry was purged meanwhile by another command"
		}
		// One event for each patient whose bundles were queued or held
		// (held whole too: the replay read and converted the patient's
		// data all the same), in the order stored, recorded together.
		if aerr := aud.actions(ctx, replayEvents(x, append(slices.Clone(r.q.stored), r.heldItems...))); aerr != nil {
			stop = fmt.Errorf("the replay of %s could not be recorded: %w", id, aerr)
			rerr = errors.Join(rerr, stop)
		}
		if line != "" {
			fmt.Fprintf(stdout, "%s: %s\n", id, line)
		}
		if res != replayNotDone && res != replayRetry && res != replayRefused {
			count[res]++
		}
		if rerr != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", id, rerr))
			if res == replayRetry && stop == nil {
				// A full queue or a failing disk fails the rest too.
				stop = errors.New("an earlier replay failed (see above); run the command again once that is fixed")
			}
		}
	}
	// An entry that stays (refused, or a later batch of it failed) may
	// have had bundles queued: their keys are put on disk now, and the
	// records of its commits go, as the next start would do.
	if _, err := r.quar.FinishReplays(dq.Holds, seen); err != nil {
		failed = append(failed, err.Error())
	}
	done := count[replayQueued] + count[replayHeld] + count[replayDuplicate] + count[replayStillFails]
	fmt.Fprintf(stdout, "%d of %d quarantined input(s) replayed: %d queued, %d held for review, %d already queued before, %d still failing\n",
		done, len(ids), count[replayQueued], count[replayHeld]+partHeld, count[replayDuplicate], count[replayStillFails])
	if count[replayQueued] > 0 {
		fmt.Fprintln(stdout, "the gateway delivers what was queued when it runs")
	}
	if count[replayHeld]+partHeld > 0 {
		fmt.Fprintln(stdout, "held bundles wait for review: `ferry held list`")
	}
	for _, f := range failed {
		fmt.Fprintf(stderr, "  %s\n", f)
	}
	switch {
	case len(failed) > 0 && len(r.refused) > 0:
		return exitError{code: 1, err: fmt.Errorf("replay failed for %d input(s); those refused for newer data of their patient go with --force, once the patient's record at the exchange is checked", len(failed))}
	case len(failed) > 0:
		return exitError{code: 1, err: fmt.Errorf("replay failed for %d input(s)", len(failed))}
	case count[replayStillFails] > 0:
		return exitError{code: 1, err: fmt.Errorf("%d input(s) still fail; fix the cause (`ferry quarantine show ID`), then replay them again", count[replayStillFails])}
	}
	return nil
}

// errNoEntry reports an ID the quarantine does not hold. It is
// fs.ErrNotExist to errors.Is, which the audit records as "no such item".
var errNoEntry error = noEntryError{}

type noEntryError struct{}

func (noEntryError) Error() string {
	return "no quarantined input with this ID (see `ferry quarantine list`)"
}

func (noEntryError) Is(target error) bool { return target == fs.ErrNotExist }

// replayResult is what became of one replayed input.
type replayResult int

const (
	replayNotDone    replayResult = iota // not replayed (no such entry, unreadable, no copy of the input)
	replayRetry                          // the pipeline failed for now (queue full, disk): the entry stays
	replayQueued                         // converted and queued
	replayHeld                           // converted and held by exchange.hold
	replayDuplicate                      // converted, but queued before (the dedup set knew it)
	replayStillFails                     // quarantined again
	replayRefused                        // converted, but newer data of its patient was delivered or waits (replayLaterError)
)

// replayer replays entries through a pipeline built for it, and notes
// what the pipeline did with each.
type replayer struct {
	pipe *pipeline.Pipeline
	quar *pipeline.Quarantine // the pipeline's
	q    *replayQueue         // the pipeline's
	// held and requarantined are the hold labels and the quarantine
	// entries of the input in hand; heldItems are the patient key and
	// control id of each unit held (no queue id: not queued).
	held          []string
	heldItems     []queuedItem
	requarantined []string
	// entry is the entry in hand, which check weighs (unless force);
	// start is the queue's NextSeq when the replay began: items stored
	// since are the replay's own, older data than the entries after
	// them. refused maps the patient keys of the entries check refused
	// to the first such entry: a later entry of the same patient would
	// overtake it.
	entry   *pipeline.QuarantineEntry
	force   bool
	start   uint64
	refused map[string]string
	// purged is set when the entry in hand was purged by another
	// command while it was replayed (see replay).
	purged bool
}

// replayLaterError refuses the replay of a quarantined input whose
// patient has had newer data delivered since it was quarantined, or has
// newer data waiting in the queue (a replay is delivered after it), or
// for which that is not known, or one of whose older inputs was refused
// so: replayed, it applies older data on top of newer at the exchange (an
// A01 on top of the A08 that corrected the name; an A08 on top of a newer
// A08, rolling the demographics back), as a held bundle released late
// does (heldLaterError). It names the entry and the patient keys (as
// `ferry queue show` does), no PHI.
type replayLaterError struct {
	id                 string
	keys               []string
	delivered, waiting int
	known              bool
	behind             string // an older entry of the patient refused
}

func (e *replayLaterError) Error() string {
	who := "patient key " + strings.Join(e.keys, ", ")
	switch {
	case e.behind != "":
		return fmt.Sprintf("replay %s (%s): an older quarantined input of the same patient, %s, was not replayed (see above), and this one would overtake it; replay both with --force once the patient's record at the exchange is checked", e.id, who, e.behind)
	case !e.known:
		return fmt.Sprintf("replay %s (%s): data of the same patient may have been delivered since it was quarantined (not known for this entry); replaying older data after newer can overwrite it at the exchange; check the patient's record there, then replay with --force", e.id, who)
	case e.delivered == 0:
		return fmt.Sprintf("replay %s (%s): %d newer bundle(s) of the same patient are waiting in the queue, and a replay is delivered after them: older data on top of newer at the exchange; check the patient's record there once they are delivered, then replay with --force", e.id, who, e.waiting)
	}
	msg := fmt.Sprintf("replay %s (%s): at least %d newer bundle(s) of the same patient were delivered since it was quarantined; replaying it now applies older data on top of newer at the exchange; check the patient's record there, then replay with --force", e.id, who, e.delivered)
	if e.waiting > 0 {
		msg += fmt.Sprintf(" (%d more are waiting in the queue and would be delivered before it too)", e.waiting)
	}
	return msg
}

// check is the pipeline's store check (Pipeline.SetStoreCheck) during a
// replay: it refuses the entry in hand, before anything of it is stored,
// when its patient (keys) has had newer data delivered since it was
// quarantined, or has newer data waiting, or that is not known, or an
// older entry of the patient was refused, unless force.
func (r *replayer) check(_ adapters.Raw, keys []string) error {
	if r.force || r.entry == nil || len(keys) == 0 {
		return nil
	}
	e := r.entry
	for _, k := range keys {
		if id, ok := r.refused[k]; ok {
			return r.refuse(&replayLaterError{id: e.ID, keys: keys, known: true, behind: id})
		}
	}
	n, known := r.quar.Newer(e, keys)
	waiting := 0
	if e.Since > 0 && e.Since < r.start {
		// The items this replay stored are older inputs' (replayed in
		// the order quarantined), not newer data.
		waiting = r.q.WaitingFrom(keys, e.Since) - r.q.WaitingFrom(keys, r.start)
	}
	if n > 0 || !known || waiting > 0 {
		return r.refuse(&replayLaterError{id: e.ID, keys: keys, delivered: n, waiting: waiting, known: known})
	}
	return nil
}

// refuse notes the patient keys of a refused entry, so that its later
// entries wait for it too.
func (r *replayer) refuse(err *replayLaterError) error {
	for _, k := range err.keys {
		if _, ok := r.refused[k]; !ok {
			r.refused[k] = err.id
		}
	}
	return err
}

// replay replays the entry id and returns the line to print (PHI-free),
// the result and the error to report: with a result other than
// replayNotDone and replayRetry, the replay is done but the old entry
// could not be removed.
func (r *replayer) replay(ctx context.Context, id string) (string, replayResult, error) {
	r.q.stored, r.held, r.requarantined, r.entry, r.purged = nil, nil, nil, nil, false
	r.heldItems = nil
	e, err := r.quar.Get(id)
	if errors.Is(err, fs.ErrNotExist) {
		return "", replayNotDone, errNoEntry
	}
	if err != nil {
		return "", replayNotDone, err
	}
	if len(e.Raw) == 0 {
		if e.Meta["backfill"] == "true" {
			// Its copy is in the export, which backfill did not
			// remember it as done (ops.ErrNotCopied).
			return "", replayNotDone, errors.New("the quarantine holds no copy of this input (it was too large to keep); run the same `ferry backfill` again, which feeds it again from the export, then purge this entry")
		}
		return "", replayNotDone, errors.New("the quarantine holds no copy of this input (it was too large to keep); put the source's copy (a folder's failed/) back where it came from")
	}
	in := adapters.Raw{
		Source:   e.Source,
		Format:   e.Format,
		Name:     e.Name,
		Body:     e.Raw,
		Received: e.Received,
		Meta:     e.Meta,
		Size:     int64(len(e.Raw)),
	}
	r.entry = e
	r.quar.Replaying(e)
	if h := r.pipe.Held(); h != nil {
		h.Replaying(e.ID)
	}
	cerr := r.pipe.Consume(ctx, in)
	r.quar.Replaying(nil)
	if h := r.pipe.Held(); h != nil {
		h.Replaying("")
	}
	r.entry = nil
	var line string
	var res replayResult
	switch {
	case cerr == nil && len(r.q.stored) > 0:
		res, line = replayQueued, fmt.Sprintf("queued (%d bundle(s), first %s)", len(r.q.stored), r.q.stored[0].id)
		if len(r.held) > 0 {
			// The rest of it is not on its way: a person reviews it.
			line += fmt.Sprintf(", and %d bundle(s) held by exchange.hold for review (`ferry held list`)", len(r.held))
		}
	case cerr == nil && len(r.held) > 0:
		res, line = replayHeld, "converted, and held by exchange.hold for review (`ferry held list`)"
	case cerr == nil:
		res, line = replayDuplicate, "converted, but queued before (a duplicate): nothing queued again"
	case queue.IsPermanent(cerr) && len(r.requarantined) > 0:
		res = replayStillFails
		why := "see `ferry quarantine show`"
		if ne, err := r.quar.Get(r.requarantined[len(r.requarantined)-1]); err == nil {
			why = quarantineReason(ne)
		}
		line = fmt.Sprintf("still fails: %s; kept as %s", why, strings.Join(r.requarantined, ", "))
		if n := len(r.q.stored); n > 0 {
			line += fmt.Sprintf(" (%d bundle(s) of it queued)", n)
		}
	case errors.As(cerr, new(*replayLaterError)):
		// Refused before anything of it was stored (a stream's earlier
		// batches may be: the duplicate filter drops them at a replay
		// with --force). The entry stays for that replay; the others
		// go on.
		var le *replayLaterError
		errors.As(cerr, &le)
		return "", replayRefused, le
	default:
		// Nothing is wrong with the input, or not known to be: the old
		// entry stays, and one the pipeline made for a part of it goes,
		// so that there is still one.
		for _, nid := range r.requarantined {
			if nid != e.ID {
				r.quar.Remove(nid)
			}
		}
		return "", replayRetry, errors.New(hideNames(e, cerr.Error()))
	}
	if slices.Contains(r.requarantined, e.ID) {
		// The pipeline found this very entry holding the input with the
		// same reason: it is the one kept.
		return line, res, nil
	}
	replayStored(e.ID)
	if err := r.quar.Remove(e.ID); errors.Is(err, fs.ErrNotExist) {
		// A purge in another terminal removed it meanwhile: it goes on
		// without the queue's lock, which this replay holds. The input
		// is replayed all the same, and its entry gone, as it should.
		r.purged = true
		line += "; its entry was purged meanwhile (`ferry quarantine purge`)"
	} else if err != nil {
		return line, res, fmt.Errorf("replayed, but the old entry is still listed: %w", err)
	}
	return line, res, nil
}

// replayStored is called once a replayed input is stored, before its
// entry is removed; a test kills the process there.
var replayStored = func(id string) {}
