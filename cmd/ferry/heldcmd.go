package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/dedup"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/replaced"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// cmdHeld implements `ferry held list | show ID | release ID... [--force] | discard
// ID... --yes`: the bundles the exchange's hold policy (exchange.hold) kept
// back because of their security labels. Releasing is a person's decision
// to send them after all; it puts them into the queue, which needs the
// gateway stopped (it holds the queue's lock).
func cmdHeld(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var yes, force *bool
	sub, pos, cfg, err := opsSubcommand("held", args, []string{"list", "show", "release", "discard"}, stderr, func(fs *flag.FlagSet) {
		yes = fs.Bool("yes", false, "confirm discard")
		force = fs.Bool("force", false, "release: even when newer bundles of the same patient were delivered while it was held, or wait in the queue (older data is then sent after newer)")
	})
	if err != nil {
		return err
	}
	pos = itemIDs(pos)
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	// A folder this command creates (before the gateway ever held
	// anything) is given to the service account, which must write into
	// it, as openQuarantine does.
	_, missing := os.Stat(cfg.Path("held"))
	held, err := pipeline.OpenHeld(cfg.Path("held"))
	if err != nil {
		return err
	}
	if missing != nil {
		installer.FixOwnership(cfg.DataDir)
	}
	held.SetKey(key)
	switch sub {
	case "list":
		if len(pos) > 0 {
			return errUsage
		}
		return heldList(held, stdout)
	case "show":
		if len(pos) != 1 {
			return errUsage
		}
		e, err := held.Get(pos[0])
		if err != nil {
			return heldMissing(pos[0], err)
		}
		// Attributes quote what a sender wrote (MSH-9, MSH-10): fit
		// for a terminal, as `ferry queue show` prints them.
		fmt.Fprintf(stdout, "id:       %s\nlabel:    %s\nreason:   %s\nsource:   %s\nunit:     %s\nformat:   %s\nreceived: %s\nheld:     %s\n",
			e.ID, e.Label, terminalText(e.Reason), e.Source, terminalText(e.Unit), e.Format, e.Received.Format("2006-01-02 15:04:05"), e.Stored.Format("2006-01-02 15:04:05"))
		if e.Group != "" {
			fmt.Fprintf(stdout, "group:    %s (released or discarded together with the other entries of this input)\n", e.Group)
		}
		switch n, known := held.Later(e); {
		case !known:
			fmt.Fprintf(stdout, "newer:    not known whether newer bundles of this patient were delivered while it was held; `ferry held release` needs --force\n")
		case n > 0:
			fmt.Fprintf(stdout, "newer:    %d newer bundle(s) of this patient were delivered while it was held; released, it would be applied on top of them, so `ferry held release` needs --force\n", n)
		}
		l := bundleLabels(e.Bundle)
		if e.BundleFile != "" {
			l = spilledBundleLabels(held, e)
		}
		if l != "" {
			fmt.Fprintf(stdout, "labels:   %s (the bundle's high-water mark; resources may carry more, such as refrain codes)\n", l)
		}
		for k, v := range e.Attrs {
			if k != pipeline.AttrPatient { // the patient's identifier, for the audit trail only: PHI
				fmt.Fprintf(stdout, "attr:     %s=%s\n", k, terminalText(v))
			}
		}
		return nil
	case "release":
		if len(pos) == 0 {
			return errUsage
		}
		// Releasing overrides the disclosure policy: it is audited, and
		// refused when it could not be (see audit_ops.go).
		ids, err := withGroups(held, pos, "releasing", stdout)
		if err != nil {
			return err
		}
		// In the order they were held (an entry's id is a ULID, which
		// sorts by time), whatever order they were named in: a
		// patient's bundles go to the queue, and the exchange, in the
		// order they came, so an A08 named before its A01 does not
		// overtake it.
		slices.SortStableFunc(ids, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
		aud, err := newOpsAudit(cfg, "held release")
		if err != nil {
			return err
		}
		return errors.Join(heldRelease(ctx, cfg, key, held, ids, *force, aud, stdout), aud.Close(ctx, stderr))
	case "discard":
		if len(pos) == 0 {
			return errUsage
		}
		if !*yes {
			return errors.New("held discard deletes the bundles for good (they are never sent); add --yes to confirm")
		}
		aud, err := newOpsAudit(cfg, "held discard")
		if err != nil {
			return err
		}
		// A replay cut short after it held a bundle is finished first,
		// as the gateway's start and a release finish it: discarded
		// before that, the bundle's key was never told to the duplicate
		// filter, and the entry's next replay held it again, the
		// discard undone. The queue's lock is kept until the end.
		// Discard needs neither the queue nor the duplicate filter, and
		// it is the way out for what nothing else can handle: what
		// cannot be finished is said, and the discard goes on.
		done, released, err := finishBeforeDiscard(ctx, cfg, key, held, aud, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "warning: what a cut-short replay or release left could not be finished first (%v); discarding all the same\n", err)
			done = func() {}
		}
		defer done()
		for _, id := range pos {
			if qid, ok := released[filepath.Base(id)]; ok {
				// A person released it before: queued, it is sent.
				return errors.Join(fmt.Errorf("%s is not held any more: an earlier `ferry held release` of it queued it (queue item %s) and was cut short; that release is finished now, and the gateway sends it", filepath.Base(id), qid), aud.Close(ctx, stderr))
			}
		}
		ids, err := withGroups(held, pos, "discarding", stdout)
		if err != nil {
			return errors.Join(err, aud.Close(ctx, stderr))
		}
		// Newest first: a group's supersede batch goes before its
		// document, so that a removal failing half-way never leaves the
		// batch held alone, to be released later without the document.
		slices.Reverse(ids)
		return errors.Join(heldDiscard(ctx, held, ids, aud, stdout), aud.Close(ctx, stderr))
	}
	return errUsage
}

// withGroups adds to ids the entries held together with them
// (pipeline.HeldEntry.Group), saying so for each: the bundles of one
// input go back or away together, since a replacement's supersede batch
// released without its document leaves the exchange with no current
// version of that document.
func withGroups(held *pipeline.Held, ids []string, doing string, stdout io.Writer) ([]string, error) {
	all, added, err := held.WithGroups(ids)
	if err != nil {
		return nil, err
	}
	for _, id := range all {
		if by, ok := added[id]; ok {
			fmt.Fprintf(stdout, "%s %s too: held with %s from the same input (a document and the batch superseding the version it replaces go together)\n", doing, id, by)
		}
	}
	return all, nil
}

// errNoHeld reports an ID the held store has no entry for. It is
// fs.ErrNotExist to errors.Is, which the audit records as "no such item".
var errNoHeld error = noHeldError{}

type noHeldError struct{}

func (noHeldError) Error() string { return "no held bundle with this ID (see `ferry held list`)" }

func (noHeldError) Is(target error) bool { return target == fs.ErrNotExist }

// heldMissing says plainly that the held store has no entry id, as queue
// and quarantine do, when err is its entry file not found; other errors
// (an unreadable entry, an entry's bundle file named) are left as they are.
func heldMissing(id string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", filepath.Base(id), errNoHeld)
	}
	return err
}

// heldDiscard deletes held bundles, each recorded as a Patient Record
// delete (an entry that cannot be read any more is still deleted, and
// recorded without its patient key).
func heldDiscard(ctx context.Context, held *pipeline.Held, ids []string, aud *opsAudit, stdout io.Writer) error {
	for _, id := range ids {
		x := audit.OperatorAction{Kind: audit.OpHeldDiscard, Object: id, ObjectType: audit.IDHeldBundle}
		if e, err := held.Get(id); err == nil {
			x.Patient, x.ControlID, x.Label = e.Key, e.Attrs["control_id"], e.Label
		}
		var err error
		if qid, _, rerr := held.Releasing(id); rerr != nil || qid != "" {
			// Its bundle may be in the queue already, which sends it
			// whatever the held store says: the release is finished
			// (or found never done) by `ferry held release` first.
			err = errors.Join(rerr, fmt.Errorf("%s: a release of it was cut short (queue item %s), and it may be queued: run `ferry held release %s` to finish it, or to find it was not queued and discard it then", id, qid, id))
		} else {
			err = heldMissing(id, held.Remove(id))
		}
		x.Outcome, x.OutcomeDesc = opOutcome("discard", err)
		if aerr := aud.action(ctx, x); aerr != nil {
			return errors.Join(err, fmt.Errorf("%s: %w", id, aerr))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "discarded %s\n", id)
	}
	return nil
}

// bundleLabels lists the codes of a held bundle's own meta.security, the
// labels the person deciding on a release weighs ("" for one without
// labels).
func bundleLabels(bundle []byte) string {
	var b struct {
		Meta bundleMeta `json:"meta"`
	}
	if len(bundle) == 0 || json.Unmarshal(bundle, &b) != nil {
		return ""
	}
	return b.Meta.codes()
}

// bundleMeta is the part of a Bundle's meta that show prints.
type bundleMeta struct {
	Security []fhir.Coding `json:"security"`
}

func (m bundleMeta) codes() string {
	codes := make([]string, 0, len(m.Security))
	for _, c := range m.Security {
		codes = append(codes, c.Code)
	}
	return strings.Join(codes, ", ")
}

// spilledBundleLabels is bundleLabels for a bundle held in a file of its
// own (a fax, a document with its PDF): its members are read up to its
// meta, which ferry writes before the entries, so the document's data
// (hundreds of MB) is never loaded; "" when the entries come first or the
// file cannot be read.
func spilledBundleLabels(held *pipeline.Held, e *pipeline.HeldEntry) string {
	r, _, err := held.OpenBundle(e)
	if err != nil {
		return ""
	}
	defer r.Close()
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok || key == "entry" {
			return ""
		}
		if key == "meta" {
			var m bundleMeta
			if dec.Decode(&m) != nil {
				return ""
			}
			return m.codes()
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

func heldList(held *pipeline.Held, stdout io.Writer) error {
	ids, err := held.List()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintln(stdout, "nothing is held")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHELD\tLABEL\tSOURCE\tTYPE")
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			fmt.Fprintf(tw, "%s\t?\t?\t?\t%v\n", id, err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Stored.Format("2006-01-02 15:04"), e.Label, e.Source, terminalText(e.Attrs["type"]))
	}
	return tw.Flush()
}

// heldLaterError refuses the release of a held bundle whose patient has
// had newer bundles delivered while it was held, or has newer ones
// waiting in the queue (a release is delivered after them), or for which
// that is not known: released, it applies older data on top of newer at
// the exchange (an A01 on top of the A08 that corrected the name), as a
// dead letter retried late does (diskq.LaterDeliveredError).
type heldLaterError struct {
	id                 string
	delivered, waiting int
	known              bool
}

func (e *heldLaterError) Error() string {
	if !e.known {
		return fmt.Sprintf("release %s: bundles of the same patient may have been delivered while it was held (not counted for this entry); releasing older data after newer can overwrite it at the exchange; check the patient's record there, then release with --force", e.id)
	}
	if e.delivered == 0 {
		return fmt.Sprintf("release %s: %d newer bundle(s) of the same patient are waiting in the queue, and a release is delivered after them: older data on top of newer at the exchange; check the patient's record there once they are delivered, then release with --force", e.id, e.waiting)
	}
	msg := fmt.Sprintf("release %s: %d newer bundle(s) of the same patient were delivered while it was held; releasing it now applies older data on top of newer at the exchange; check the patient's record there, then release with --force", e.id, e.delivered)
	if e.waiting > 0 {
		msg += fmt.Sprintf(" (%d more are waiting in the queue and would be delivered before it too)", e.waiting)
	}
	return msg
}

// newerThanHeld returns a *heldLaterError when newer bundles of e's
// patient were delivered while e was held, or wait in q, or that is not
// known.
func newerThanHeld(q *diskq.Queue, held *pipeline.Held, e *pipeline.HeldEntry) error {
	n, known := held.Later(e)
	waiting := 0
	if e.Since > 0 {
		waiting = q.WaitingFrom(append([]string{e.Key}, e.After...), e.Since)
	}
	if n > 0 || !known || waiting > 0 {
		return &heldLaterError{id: e.ID, delivered: n, waiting: waiting, known: known}
	}
	return nil
}

// heldRelease moves held bundles into the queue, in the order given (the
// order they were held, as cmdHeld sorts them), and removes each from the
// held store only after its Put was fsynced. Unless force, it releases
// none of them when one would reach the exchange after newer bundles of
// its patient (newerThanHeld).
func heldRelease(ctx context.Context, cfg *config.Config, key *seal.Key, held *pipeline.Held, ids []string, force bool, aud *opsAudit, stdout io.Writer) error {
	q, err := openQueue(cfg, key)
	if errors.Is(err, diskq.ErrLocked) {
		// Another release or replay in another terminal holds it the
		// same way, with the gateway stopped.
		return errors.New("the gateway is running and holds the queue, or another ferry command does (a release or a replay in another terminal): stop the gateway (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal) or let the other command end, release, then start the gateway again")
	}
	if err != nil {
		return err
	}
	defer q.Close(ctx)
	// A release cut short after its Put (the command killed, the power
	// lost) is finished first: its bundle is in the queue already, and
	// released again it would reach the exchange twice. So is a replay
	// cut short after it held a bundle, as the gateway's start finishes
	// it: released before that, the bundle's key was never told to the
	// duplicate filter, and the entry's next replay held it again.
	quar, err := openQuarantine(cfg, key)
	if err != nil {
		return err
	}
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		return fmt.Errorf("open dedup set: %w", err)
	}
	defer seen.Close()
	finished, ferr := finishHeld(ctx, q, seen, quar, held, aud, stdout)
	if ferr != nil {
		return ferr
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { _, ok := finished[filepath.Base(id)]; return ok })
	if !force {
		// All of them before any is queued: one released here is newer
		// than the rest to the queue.
		var refused []error
		for _, id := range ids {
			e, err := held.Get(id)
			if err != nil {
				return heldMissing(id, err)
			}
			if err := newerThanHeld(q, held, e); err != nil {
				refused = append(refused, err)
			}
		}
		if len(refused) > 0 {
			return fmt.Errorf("nothing released: %w", errors.Join(refused...))
		}
	}
	// A held replacement (an MDM T10, a C-CDA RPLC) marks the version it
	// replaces replaced only now that it goes to the exchange (see
	// pipeline.HeldEntry.Replaces); the queue's lock, held here, guards
	// the registry too.
	var reg *replaced.Registry
	defer func() {
		if reg != nil {
			reg.Close()
		}
	}()
	for _, id := range ids {
		e, err := held.Get(id)
		if err != nil {
			return heldMissing(id, err)
		}
		if reg == nil && (len(e.Replaces) > 0 || e.Attrs[pipeline.AttrDocumentVersion] != "") {
			if reg, err = openReplaced(cfg, nil); err != nil {
				return fmt.Errorf("%s not released (still held): %w", id, err)
			}
		}
		if len(e.Replaces) > 0 {
			// Recorded before the Put, as the pipeline records before it
			// queues: a version of the replaced document converted from
			// now on is written superseded.
			if err := reg.Add(e.Replaces...); err != nil {
				return fmt.Errorf("%s not released (still held): %w", id, err)
			}
		}
		x := audit.OperatorAction{Kind: audit.OpHeldRelease, Object: id, ObjectType: audit.IDHeldBundle,
			Patient: e.Key, ControlID: e.Attrs["control_id"], Label: e.Label}
		// A document version replaced while it was held (its replacement
		// not held, delivered meanwhile) goes superseded, as a dead
		// letter of it retried does: current, it would stand beside its
		// replacement, whose supersede PATCH found nothing.
		var edit func(*queue.Item) error
		if reg != nil {
			edit = pipeline.SupersedeReplaced(reg.Replaced, q.CreateBody)
		}
		it, err := heldItem(q, held, key, e, edit)
		if err == nil {
			// Recorded before the Put, so that a release cut short
			// after it is finished, not queued twice (FinishReleases),
			// and its event names the person releasing.
			if err = held.BeginRelease(id, q.ItemID(it), recordBy(ops.LocalOperator())); err != nil {
				if it.BodyFile != "" {
					os.Remove(it.BodyFile)
				}
			} else if err = q.Put(ctx, it); err != nil {
				err = fmt.Errorf("queue %s: %w", id, err)
				if !q.Holds(it.ID) {
					err = errors.Join(err, held.CancelRelease(id))
				}
			}
		}
		if err != nil {
			x.Outcome, x.OutcomeDesc = audit.OutcomeSeriousFail, "release failed; still held"
			return errors.Join(err, aud.action(ctx, x))
		}
		heldReleaseQueued(id)
		// Queued: the exchange gets it when the gateway runs. When the
		// event can be neither sent nor handed off, the release is undone:
		// the bundle stays held.
		x.QueueID = it.ID
		x.OutcomeDesc = "released from hold (" + e.Label + ") by a person; queued for the exchange"
		if err := aud.action(ctx, x); err != nil {
			if perr := q.Purge(ctx, it.ID); perr != nil {
				return fmt.Errorf("%s is in the queue, unaudited: %w (taking it out again failed: %v)", id, err, perr)
			}
			return errors.Join(fmt.Errorf("%s not released (still held): %w", id, err), held.CancelRelease(id))
		}
		if err := held.Remove(id); err != nil {
			return fmt.Errorf("%s is queued but still listed as held: %w", id, err)
		}
		fmt.Fprintf(stdout, "released %s (%s) into the queue\n", id, e.Label)
	}
	return nil
}

// finishHeld finishes what a replay or a release cut short left
// (finishCutShort), with the queue's lock held, and records each replay
// and release it finished in the audit trail and on stdout, as a replay
// and a release do. It returns the releases finished.
func finishHeld(ctx context.Context, q *diskq.Queue, seen pipeline.Deduper, quar *pipeline.Quarantine, held *pipeline.Held, aud *opsAudit, stdout io.Writer) (map[string]string, error) {
	releasing := releasesBegun(held)
	replayed, finished, removed, ferr := finishCutShort(q, seen, quar, held, nil)
	for _, id := range removed {
		fmt.Fprintf(stdout, "%s is no longer held: a replay of its quarantined input was cut short after it held it and before it queued the rest; `ferry quarantine replay` of the entry holds it again\n", id)
	}
	var errs []error
	for _, r := range replayed {
		var err error
		for _, x := range finishedReplay(r) {
			err = errors.Join(err, aud.finished(ctx, x))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.ID, err))
			continue
		}
		fmt.Fprintf(stdout, "replayed %s: an earlier replay queued it (queue item %s) and was cut short; finished\n", r.ID, r.Queued[0])
	}
	for id, qid := range finished {
		if err := aud.finished(ctx, finishedRelease(id, qid, releasing[id])); err != nil {
			return finished, errors.Join(append(errs, fmt.Errorf("%s: %w", id, err))...)
		}
		fmt.Fprintf(stdout, "released %s: an earlier release queued it and was cut short before it left the held store; finished\n", id)
	}
	return finished, errors.Join(append(errs, ferr)...)
}

// finished records x, the event of a release or a replay cut short that
// this command finished (finishHeld): it names the person who ran it when
// x does, and says who finished it.
func (a *opsAudit) finished(ctx context.Context, x audit.OperatorAction) error {
	if a != nil && x.Operator.UserID != "" {
		x.OutcomeDesc += "; finished by a later command, run by " + a.op.UserID
	}
	return a.action(ctx, x)
}

// finishBeforeDiscard takes the queue's lock for a discard (or a
// quarantine purge, finishBeforePurge) and finishes
// what a replay or a release cut short left (finishHeld), returning the
// releases finished; done lets the lock go. A queue locked is held by the gateway, or by a replay or a
// release in another terminal, each of which finished it when it
// started: the discard goes on without the lock, as it always could.
func finishBeforeDiscard(ctx context.Context, cfg *config.Config, key *seal.Key, held *pipeline.Held, aud *opsAudit, stdout io.Writer) (done func(), released map[string]string, err error) {
	q, err := openQueueUnchecked(cfg, key)
	if errors.Is(err, diskq.ErrLocked) {
		return func() {}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	quar, err := openQuarantine(cfg, key)
	if err != nil {
		q.Close(ctx)
		return nil, nil, err
	}
	seen, err := dedup.Open(cfg.Path("dedup.log"), dedup.Options{})
	if err != nil {
		q.Close(ctx)
		return nil, nil, fmt.Errorf("open dedup set: %w", err)
	}
	done = func() {
		seen.Close()
		q.Close(ctx)
	}
	if released, err = finishHeld(ctx, q, seen, quar, held, aud, stdout); err != nil {
		done()
		return nil, nil, err
	}
	return done, released, nil
}

// heldReleaseQueued is called once a released entry's Put returned; a
// test kills the process there.
var heldReleaseQueued = func(id string) {}

// heldItem builds the queue item for a held entry; a large bundle is
// copied into the queue's own spill file. The queue seals it with key, and
// its patient identifier is sealed with key too (resealPatient). edit,
// when set, may change the item first as the queue's retry edit changes a
// dead letter (pipeline.SupersedeReplaced): a large bundle comes to it
// with Open set and Body nil.
func heldItem(q *diskq.Queue, held *pipeline.Held, key *seal.Key, e *pipeline.HeldEntry, edit func(*queue.Item) error) (*queue.Item, error) {
	attrs := map[string]string{"released_from_hold": e.Label}
	for k, v := range resealPatient(key, e.Key, e.Attrs) {
		attrs[k] = v
	}
	it := &queue.Item{Key: e.Key, After: e.After, Source: e.Source, Attrs: attrs}
	if e.BundleFile == "" {
		// The held entry file is indented for people; queue it compact.
		var b bytes.Buffer
		if err := json.Compact(&b, e.Bundle); err != nil {
			return nil, fmt.Errorf("held bundle %s: %w", e.ID, err)
		}
		it.Body = b.Bytes()
		if edit != nil {
			if err := edit(it); err != nil {
				return nil, fmt.Errorf("held bundle %s: %w", e.ID, err)
			}
		}
		return it, nil
	}
	if edit != nil {
		it.Open = func() (io.ReadCloser, error) {
			r, _, err := held.OpenBundle(e)
			return r, err
		}
		err := edit(it)
		it.Open = nil
		if err != nil {
			return nil, fmt.Errorf("held bundle %s: %w", e.ID, err)
		}
		if it.BodyFile != "" {
			return it, nil
		}
	}
	r, _, err := held.OpenBundle(e)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := q.CreateBody()
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy held bundle %s: %w", e.ID, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	it.BodyFile = f.Name()
	return it, nil
}
