package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// cmdQueue handles the dead letters: items the exchange refused for good
// (a 4xx with an OperationOutcome). `list` and `show` read them beside a
// running gateway; `retry` puts them back in the queue after the cause is
// fixed, `purge` deletes them. While the gateway runs it holds the queue,
// so retry and purge go through its loopback status listener, with the
// token it keeps in the data folder.
//
// A dead letter does not hold back its patient's later items: they are
// delivered. Retrying it afterwards sends older data after newer, which
// the exchange may apply on top (an A01 over the A08 that corrected it),
// so `retry` refuses a dead letter whose patient had items delivered
// since, or when that is not known, unless --force; `show` tells.
func cmdQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var all, yes, force, body *bool
	sub, pos, cfg, err := opsSubcommand("queue", args, []string{"list", "show", "retry", "purge"}, stderr, func(fs *flag.FlagSet) {
		all = fs.Bool("all", false, "retry or purge every dead letter")
		yes = fs.Bool("yes", false, "confirm purge --all")
		force = fs.Bool("force", false, "retry: even when later items of the same patient were delivered since (older data is then sent after newer)")
		body = fs.Bool("body", false, "show: print the stored FHIR Bundle too (holds PHI)")
	})
	if err != nil {
		return err
	}
	pos = itemIDs(pos)
	switch sub {
	case "list":
		if len(pos) > 0 {
			return errUsage
		}
		return queueList(cfg, stdout)
	case "show":
		if len(pos) != 1 {
			return errUsage
		}
		return queueShow(ctx, cfg, pos[0], *body, stdout, stderr)
	case "retry", "purge":
		if *all == (len(pos) > 0) {
			// A usage mistake (exit status 2), as `held release` without
			// IDs is: said here, since the usage line does not say it.
			fmt.Fprintf(stderr, "ferry queue %s: give dead-letter IDs or --all (one or the other)\n", sub)
			return errUsage
		}
		if *all && sub == "purge" && !*yes {
			return errors.New("queue purge --all deletes every dead letter for good; add --yes to confirm")
		}
		return queueOp(ctx, cfg, sub, pos, *all, *force, stdout, stderr)
	}
	return errUsage
}

// itemIDs returns the IDs an operator gave as ferry writes them. Dead
// letters, held bundles and quarantined inputs are named by ULIDs, which
// ferry writes in upper case, and a ULID is case-insensitive (the ULID
// spec: "Case insensitive"), so one typed or pasted in lower case names
// the same item; anything that is not a ULID is kept as given.
func itemIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		// A quarantined input a replay quarantined again has ids of
		// ULIDs joined by "-" (pipeline.Quarantine.Replaying).
		parts := strings.Split(id, "-")
		for j, p := range parts {
			u, err := ulid.ParseStrict(p)
			if err != nil {
				parts = nil
				break
			}
			parts[j] = u.String()
		}
		if parts != nil {
			out[i] = strings.Join(parts, "-")
		}
	}
	return out
}

func deadLetters(cfg *config.Config) ([]diskq.DeadLetter, error) {
	key, err := opsKey(cfg)
	if err != nil {
		return nil, err
	}
	dls, err := diskq.InspectDeadLettersKey(ops.QueueDir(cfg), ops.DeadLetterDir(cfg), key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return dls, nil
}

func queueList(cfg *config.Config, stdout io.Writer) error {
	dls, err := deadLetters(cfg)
	if err != nil {
		return err
	}
	if len(dls) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEAD SINCE\tATTEMPTS\tSOURCE\tSIZE\tREASON")
	for _, d := range dls {
		died := "-" // a dead letter this key cannot open: its reason says so
		if !d.Died.IsZero() {
			died = d.Died.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", d.ID, died, d.Attempts,
			orDefault(d.Source, "-"), d.Size, oneLine(terminalText(d.Reason), 90))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d dead letter(s). `ferry queue show ID` explains one; fix the cause, then `ferry queue retry ID`.\n", len(dls))
	return nil
}

// terminalText is text from outside ferry (the exchange's reason and
// answer, a sender's control id) fit for the operator's terminal: every
// control character but line breaks and tabs, and every byte that is not
// UTF-8, becomes U+FFFD, so that escape sequences cannot clear the
// screen, retitle the window or hide what follows, and a carriage return
// cannot print over the line (as printRaw keeps them out of `quarantine
// show --raw`).
func terminalText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func queueShow(ctx context.Context, cfg *config.Config, id string, withBody bool, stdout, stderr io.Writer) (err error) {
	// Reading a dead letter is audited (its reason, the exchange's answer
	// and the body hold PHI): here when this process reads the files,
	// by the gateway when it answers for them.
	aud, err := newOpsAudit(cfg, "queue show")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, aud.Close(ctx, stderr)) }()
	remote := false
	var dl *diskq.DeadLetter
	if withBody {
		q, err := openQueueOffline(cfg, false)
		switch {
		case err == nil:
			defer q.Close(context.Background())
			if dl, err = q.DeadLetter(id); err != nil {
				return fmt.Errorf("show %s: %w", id, noDeadLetter(err))
			}
		case errors.Is(err, errNoQueue):
			return fmt.Errorf("show %s: %w", id, errNoDeadLetter)
		case errors.Is(err, diskq.ErrLocked):
			if err := needStatusListener(cfg, "show "+id); err != nil {
				return err
			}
			tok, terr := ops.ReadToken(cfg.DataDir)
			if terr != nil {
				return fmt.Errorf("show %s: the gateway is running and holds the queue, and its ops token cannot be read (%v); run as root or the ferry account", id, terr)
			}
			if dl, err = ops.RemoteDeadLetter(ctx, cfg.Status.Listen, tok, id); errors.Is(err, ops.ErrNoSuchItem) {
				return fmt.Errorf("show %s: %w", id, errNoDeadLetter)
			} else if err != nil {
				return noGateway(cfg, "show "+id, err)
			}
			remote = true
		default:
			return err
		}
	} else {
		key, err := opsKey(cfg)
		if err != nil {
			return err
		}
		dl, err = diskq.InspectDeadLetter(ops.QueueDir(cfg), ops.DeadLetterDir(cfg), key, id)
		if errors.Is(err, diskq.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("show %s: %w", id, errNoDeadLetter)
		}
		if err != nil {
			return fmt.Errorf("show %s: %w", id, err)
		}
	}
	if !remote {
		meta := *dl
		meta.Body = nil
		if err := aud.deadLetterAction(ctx, "read", id, &meta, nil); err != nil {
			return fmt.Errorf("show %s: %w", id, err)
		}
	}
	fmt.Fprintf(stdout, "id:        %s\n", dl.ID)
	fmt.Fprintf(stdout, "source:    %s\n", orDefault(dl.Source, "-"))
	fmt.Fprintf(stdout, "queued:    %s\n", dl.Enqueued.Local().Format(time.DateTime))
	fmt.Fprintf(stdout, "dead since %s after %d attempt(s)\n", dl.Died.Local().Format(time.DateTime), dl.Attempts)
	if dl.Key != "" {
		fmt.Fprintf(stdout, "newer data: %s\n", newerStatus(cfg, dl.ID))
	}
	// The patient keys (pseudonyms with encryption on), as ferry merges
	// list names them: what the item is ordered under, and, for a merge,
	// the retired patient's key, whose earlier items a retry waits for.
	if dl.Key != "" {
		fmt.Fprintf(stdout, "%-10s %s\n", "key:", dl.Key)
	}
	var after, behind []string
	for _, k := range dl.After {
		if key, ok := queue.BehindKey(k); ok {
			behind = append(behind, key)
		} else {
			after = append(after, k)
		}
	}
	if len(after) > 0 {
		fmt.Fprintf(stdout, "%-10s %s (also delivered after every earlier item of these keys: a merge after the retired patient's backlog; a retry waits for them)\n",
			"after:", strings.Join(after, ", "))
	}
	if len(behind) > 0 {
		fmt.Fprintf(stdout, "%-10s %s (delivered only once what was queued before it under these keys is: the directory resources it may refer to)\n",
			"behind:", strings.Join(behind, ", "))
	}
	keys := make([]string, 0, len(dl.Attrs))
	for k := range dl.Attrs {
		if k != pipeline.AttrPatient { // the patient's identifier, for the audit trail only: PHI
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "%-10s %s\n", k+":", terminalText(dl.Attrs[k]))
	}
	fmt.Fprintf(stdout, "reason:\n  %s\n", strings.ReplaceAll(strings.TrimSpace(terminalText(dl.Reason)), "\n", "\n  "))
	if dl.Corrupt {
		fmt.Fprintln(stdout, "(its stored record was damaged: it cannot be retried, only purged)")
	}
	printOutcome(stdout, dl)
	if withBody {
		var pretty json.RawMessage = dl.Body
		if b, err := json.MarshalIndent(pretty, "", "  "); err == nil {
			fmt.Fprintf(stdout, "bundle:\n%s\n", b)
		} else {
			fmt.Fprintf(stdout, "bundle (%d bytes, not JSON):\n%s\n", len(dl.Body), dl.Body)
		}
	}
	return nil
}

// newerStatus says, for `queue show`, whether items of the dead letter's
// patient were delivered after it, and what that means for a retry.
func newerStatus(cfg *config.Config, id string) string {
	key, err := opsKey(cfg)
	if err != nil {
		key = nil // the dead letter is not read then, and is taken as not known
	}
	n, known, err := diskq.InspectDeliveredAfter(ops.QueueDir(cfg), ops.DeadLetterDir(cfg), id, key)
	switch {
	case err != nil || !known:
		return "not known whether later items of this patient were delivered since (they are not held back by a dead letter); " +
			"re-sending older data can overwrite newer, so `ferry queue retry` needs --force"
	case n == 0:
		return "no later item of this patient was delivered since; a retry keeps their order"
	}
	return fmt.Sprintf("%d later item(s) of this patient were delivered after it (a dead letter does not hold them back); "+
		"a retry sends this older data after them and the exchange may apply it on top of newer, so `ferry queue retry` needs --force", n)
}

// newerNote is what a forced retry tells the operator: how many newer
// items of the patient the re-sent one follows; "" when none.
func newerNote(cfg *config.Config, id string) string {
	key, err := opsKey(cfg)
	if err != nil {
		key = nil // the dead letter is not read then, and is taken as not known
	}
	n, known, err := diskq.InspectDeliveredAfter(ops.QueueDir(cfg), ops.DeadLetterDir(cfg), id, key)
	switch {
	case err != nil || !known:
		return "items of this patient may have been delivered since; this older data is sent after them (--force)"
	case n > 0:
		return fmt.Sprintf("sent after %d newer item(s) of the same patient already delivered (--force); check the patient's record at the exchange", n)
	}
	return ""
}

// printOutcome prints the receiver's whole answer kept with the dead
// letter (its OperationOutcome: every issue, where the reason has an
// extract), indented, JSON pretty-printed when it is JSON.
func printOutcome(w io.Writer, dl *diskq.DeadLetter) {
	if dl.Outcome == "" {
		return
	}
	text := strings.TrimSpace(dl.Outcome)
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(text), "", "  ") == nil {
		text = pretty.String()
	}
	text = terminalText(text)
	fmt.Fprintln(w, "exchange's answer (it may quote patient data):")
	fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(text, "\n", "\n  "))
	if dl.OutcomeTruncated {
		fmt.Fprintf(w, "  (cut to its first %d bytes)\n", len(dl.Outcome))
	}
}

// errNoQueue is openQueueOffline's error when data_dir holds no queue
// yet (no gateway has run with it since `ferry init`): it then holds no
// dead letter either, as `ferry queue list` says.
var errNoQueue = errors.New("no queue yet")

// errNoDeadLetter is what an ID names no dead letter says.
var errNoDeadLetter = errors.New("no dead letter with this ID (see `ferry queue list`)")

// noDeadLetter is errNoDeadLetter for an error that says the ID names no
// dead letter, from the queue (diskq.ErrNotFound: "item not found") or
// from the running gateway (ops.ErrNoSuchItem), so that show, retry and
// purge say it alike whether the gateway runs or not; other errors as
// they are.
func noDeadLetter(err error) error {
	if errors.Is(err, diskq.ErrNotFound) || errors.Is(err, ops.ErrNoSuchItem) {
		return errNoDeadLetter
	}
	return err
}

// openQueueOffline opens the queue when no gateway holds it. stores says
// whether the command puts items into it (retry): only then is it refused
// beside data sealed with a key the configuration does not name
// (openQueue). A purge or a read stores nothing, and purging is the way
// out the refusal names when that key is lost for good.
func openQueueOffline(cfg *config.Config, stores bool) (*diskq.Queue, error) {
	if _, err := os.Stat(ops.QueueDir(cfg)); errors.Is(err, fs.ErrNotExist) {
		return nil, errNoQueue
	} else if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", ops.QueueDir(cfg), err)
	}
	key, err := opsKey(cfg)
	if err != nil {
		return nil, err
	}
	open := openQueue
	if !stores {
		open = openQueueUnchecked
	}
	q, err := open(cfg, key)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return q, nil
}

// openQueue opens the gateway's queue with the gateway's options, for a
// command that runs while the gateway does not (it holds the queue's lock:
// diskq.ErrLocked otherwise). As at the gateway's start, it refuses while
// data_dir holds data sealed with a key the configuration does not name
// (ops.CheckQueueKeys): a `held release` or `quarantine replay` would
// otherwise store its bundles unsealed, or under a key the rest does not
// need, into a data_dir meant to be encrypted.
func openQueue(cfg *config.Config, key *seal.Key) (*diskq.Queue, error) {
	q, err := openQueueUnchecked(cfg, key)
	if err != nil {
		return nil, err
	}
	if err := ops.CheckQueueKeys(cfg, key, q); err != nil {
		q.Close(context.Background())
		return nil, fmt.Errorf("encryption: %w", err)
	}
	return q, nil
}

// lockStopped takes the queue's lock for a command that changes a file
// the gateway holds in memory (holds names it), so that no gateway runs
// meanwhile; action says what the command does, for the message that
// asks to stop a running one. Call release when done.
func lockStopped(cfg *config.Config, key *seal.Key, holds, action string) (release func(), err error) {
	q, err := openQueue(cfg, key)
	if errors.Is(err, diskq.ErrLocked) {
		return nil, fmt.Errorf("the gateway is running and holds %s in its memory: stop it (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal), %s, then start it again", holds, action)
	}
	if err != nil {
		return nil, err
	}
	return func() {
		q.Close(context.Background())
		installer.FixOwnership(cfg.DataDir)
	}, nil
}

// openQueueUnchecked is openQueue without the check of sealed keys, for
// a command that stores nothing into the queue.
func openQueueUnchecked(cfg *config.Config, key *seal.Key) (*diskq.Queue, error) {
	return diskq.Open(ops.QueueDir(cfg), diskq.Options{MaxBytes: cfg.Queue.MaxBytes, MaxItems: cfg.Queue.MaxItems, DeadLetterDir: ops.DeadLetterDir(cfg), Key: key})
}

func queueOp(ctx context.Context, cfg *config.Config, action string, ids []string, all, force bool, stdout, stderr io.Writer) (err error) {
	if all {
		dls, err := deadLetters(cfg)
		if err != nil {
			return err
		}
		for _, d := range dls {
			ids = append(ids, d.ID)
		}
		if len(ids) == 0 {
			fmt.Fprintln(stdout, "no dead letters")
			return nil
		}
	} else if action == "retry" {
		ids = inQueueOrder(cfg, ids)
	}
	var do func(id string) error
	q, err := openQueueOffline(cfg, action == "retry")
	switch {
	case err == nil:
		// This process changes the queue, so it records each operation
		// (through the gateway, the gateway does).
		aud, aerr := newOpsAudit(cfg, "queue "+action)
		if aerr != nil {
			q.Close(context.Background())
			return aerr
		}
		defer func() {
			q.Close(context.Background())
			err = errors.Join(err, aud.Close(ctx, stderr))
			installer.FixOwnership(cfg.DataDir)
		}()
		if action == "retry" {
			// As in the gateway: a document version replaced since it
			// was dead-lettered goes back superseded. The queue's lock,
			// held here, guards the registry too.
			reg, rerr := openReplaced(cfg, nil)
			if rerr != nil {
				return rerr
			}
			defer reg.Close()
			key, kerr := opsKey(cfg)
			if kerr != nil {
				return kerr
			}
			q.SetRetryEdit(resealingRetry(key, pipeline.SupersedeReplaced(reg.Replaced, q.CreateBody)))
		}
		// What the audit events name (patient key, control id) is read
		// before the operation removes the dead letter: one listing.
		known := map[string]*diskq.DeadLetter{}
		if aud != nil {
			dls, _ := deadLetters(cfg)
			for i := range dls {
				known[dls[i].ID] = &dls[i]
			}
		}
		var lost error // an event that could not be recorded stops the rest
		do = func(id string) error {
			if lost != nil {
				return fmt.Errorf("not done: %w", lost)
			}
			var err error
			dl := known[id]
			if action == "retry" {
				err = q.RetrySafe(ctx, id, force)
			} else {
				if dl == nil && aud != nil {
					dl = waitingItem(q, id)
				}
				err = q.Purge(ctx, id)
			}
			if aerr := aud.deadLetterAction(ctx, action, id, dl, err); aerr != nil {
				lost = aerr
				return errors.Join(err, aerr)
			}
			return noDeadLetter(err)
		}
	case errors.Is(err, diskq.ErrLocked):
		if err := needStatusListener(cfg, action); err != nil {
			return err
		}
		tok, terr := ops.ReadToken(cfg.DataDir)
		if terr != nil {
			return fmt.Errorf("%s: the gateway is running and holds the queue, and its ops token cannot be read (%v); run as root or the ferry account, or stop the gateway first", action, terr)
		}
		do = func(id string) error {
			var err error
			if action == "retry" {
				err = ops.RemoteRetry(ctx, cfg.Status.Listen, tok, id, force)
			} else {
				err = ops.RemoteOp(ctx, cfg.Status.Listen, tok, action, id)
			}
			return noDeadLetter(noGateway(cfg, action, err))
		}
	case errors.Is(err, errNoQueue):
		do = func(string) error { return errNoDeadLetter }
	default:
		return err
	}
	bar := newBar(len(ids), action+" dead letters", stderr)
	var failed []string
	var forced []string
	var down error // no gateway takes the commands: the rest would fail alike
	done := 0
	for _, id := range ids {
		var note string
		if action == "retry" && force {
			note = newerNote(cfg, id)
		}
		if err := do(id); errors.Is(err, errNoGateway) {
			down = err
			break
		} else if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", id, err))
		} else {
			done++
			if note != "" {
				forced = append(forced, fmt.Sprintf("%s: %s", id, note))
			}
		}
		bar.Add(1)
	}
	for _, f := range forced {
		fmt.Fprintf(stdout, "note: %s\n", f)
	}
	bar.Finish()
	verb := map[string]string{"retry": "back in the queue", "purge": "deleted"}[action]
	fmt.Fprintf(stdout, "%d of %d dead letter(s) %s\n", done, len(ids), verb)
	if down != nil {
		for _, f := range failed {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
		return down
	}
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
		return exitError{code: 1, err: fmt.Errorf("%s failed for %d item(s)", action, len(failed))}
	}
	return nil
}

// inQueueOrder returns the dead letters ids in the order they were
// queued (as `--all` and `queue list` take them), whatever order they
// were named in, IDs that name none after them as given: a patient's
// dead letters retried go back in their order, an A08 named before its
// A01 not put back first, which the A01 then waits behind (refused, or
// with --force delivered after it).
func inQueueOrder(cfg *config.Config, ids []string) []string {
	dls, err := deadLetters(cfg)
	if err != nil || len(ids) < 2 {
		return ids
	}
	seq := make(map[string]uint64, len(dls))
	for _, d := range dls {
		seq[d.ID] = d.Seq
	}
	pos := func(id string) uint64 {
		if s, ok := seq[id]; ok {
			return s
		}
		return math.MaxUint64
	}
	out := slices.Clone(ids)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(pos(a), pos(b)) })
	return out
}

// errNoGateway is what noGateway's error wraps.
var errNoGateway = errors.New("no gateway answers")

// noGateway says in plain words that nothing answers on status.listen
// when err is the connection to it that failed: the queue's lock is held
// (which sends these commands to the gateway), but not by a gateway whose
// status page listens. what names the command. Other errors are returned
// as they are.
func noGateway(cfg *config.Config, what string, err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		return err
	}
	return fmt.Errorf("%s: the queue is in use, but %w on status.listen %s to take the command: a gateway still starting (its status page listens once its queue is open), "+
		"or a command that holds the queue (`ferry backfill`, `ferry held release`, `ferry quarantine replay`); try again once the gateway is up or that command has ended", what, errNoGateway, cfg.Status.Listen)
}

// needStatusListener refuses what has to go through the running
// gateway's ops API when it has none (status.listen off): a token file an
// earlier run left would otherwise send the request nowhere.
func needStatusListener(cfg *config.Config, what string) error {
	if cfg.Status.Listen != "" {
		return nil
	}
	return fmt.Errorf("%s: the gateway is running and holds the queue, and status.listen is off, over which it takes these commands; stop the gateway first (`ferry stop` for the service, Ctrl-C for a `ferry run` in a terminal), or set status.listen", what)
}

// newBar is a progress bar on stderr when it is a terminal, silent
// otherwise (logs and CI output stay clean).
func newBar(total int, desc string, w io.Writer) *progressbar.ProgressBar {
	visible := false
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		visible = true
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetVisibility(visible && total > 1),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
