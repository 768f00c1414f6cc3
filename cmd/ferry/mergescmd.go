package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/merges"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/audit"
)

// cmdMerges implements `ferry merges list [--phi] | undo ID --yes
// [--phi]`: the patient merges ferry remembers (data_dir/merges.log,
// written by ADT^A40 and A47), after which every later input under a
// retired identifier is filed to the record it was merged into. A merge
// sent in error (two people merged at the EHR, split again by its
// registrar) would keep filing one person's data to the other for good;
// HL7 v2 has no message that takes a merge back (A37 unlinks an A24
// link), so a person does it here.
//
// What each subcommand prints about patients:
//   - list names each patient by ferry's patient key, the one the queue,
//     dead letters and audit events carry (keyed with the encryption key
//     when data at rest is sealed, so it cannot be traced back to a chart
//     number by hashing candidates). It reads the file as it is on disk,
//     beside a running gateway too: every merge is there before its
//     message is acknowledged. --phi shows the identifiers (system|value)
//     instead, and is audited as a read.
//   - undo takes the identifier as list shows it, either form (or a
//     value alone when only one system has it) and prints keys unless
//     --phi. It needs the gateway stopped, as `held release`, `quarantine
//     replay` and `backfill` do: the gateway holds the registry in memory
//     and converts with it concurrently, and the queue's lock, which it
//     holds, guards the file. It is audited; when the event can be
//     neither sent nor handed off, the merge is recorded again and the
//     command fails.
func cmdMerges(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var phi, yes *bool
	sub, pos, cfg, err := opsSubcommand("merges", args, []string{"list", "undo"}, stderr, func(fs *flag.FlagSet) {
		phi = fs.Bool("phi", false, "show patient identifiers (chart numbers) instead of patient keys; audited")
		yes = fs.Bool("yes", false, "confirm undo")
	})
	if err != nil {
		return err
	}
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			return errUsage
		}
		return mergesList(ctx, cfg, key, *phi, stdout, stderr)
	case "undo":
		if len(pos) != 1 {
			return errUsage
		}
		if !*yes {
			return errors.New("merges undo files every later input under that identifier to its own patient again, not to the one it was merged into; add --yes to confirm")
		}
		return mergesUndo(ctx, cfg, key, pos[0], *phi, stdout, stderr)
	}
	return errUsage
}

// mergeNames names patients for people: by patient key, or by
// identifier with --phi.
type mergeNames struct {
	key *seal.Key
	phi bool
}

// patientKey is the key ferry names id's patient by where no PHI goes.
func (n mergeNames) patientKey(id merges.ID) string {
	k := fhir.PatientKey(id.System, id.Value)
	if n.key != nil {
		k = n.key.Pseudonym(k)
	}
	return k
}

func (n mergeNames) name(id merges.ID) string {
	if n.phi {
		// The sender's PID-3: fit for a terminal (terminalText).
		return terminalText(id.System + "|" + id.Value)
	}
	return n.patientKey(id)
}

// filedTo returns where inputs under id go now: the end of its chain of
// merges among es (id itself when it is not retired).
func filedTo(es []merges.Entry, id merges.ID) merges.ID {
	next := make(map[merges.ID]merges.ID, len(es))
	for _, e := range es {
		next[e.Retired] = e.Survivor
	}
	for range len(es) {
		nxt, ok := next[id]
		if !ok {
			break
		}
		id = nxt
	}
	return id
}

func mergesList(ctx context.Context, cfg *config.Config, key *seal.Key, phi bool, stdout, stderr io.Writer) (err error) {
	es, err := merges.Inspect(cfg.Path(merges.FileName), key)
	if err != nil {
		return err
	}
	if phi {
		// Chart numbers are disclosed: recorded before anything is
		// printed, and nothing is printed when it cannot be.
		aud, err := newOpsAudit(cfg, "merges list --phi")
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, aud.Close(ctx, stderr)) }()
		x := audit.OperatorAction{Kind: audit.OpMergeRead, Object: "merges.log", ObjectType: audit.IDMergeRegistry}
		if err := aud.action(ctx, x); err != nil {
			return err
		}
	}
	if len(es) == 0 {
		fmt.Fprintln(stdout, "no merges recorded")
		return nil
	}
	n := mergeNames{key: key, phi: phi}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDED\tRETIRED\tMERGED INTO\tINPUTS FILED TO")
	for _, e := range es {
		to := "same"
		if end := filedTo(es, e.Retired); end != e.Survivor {
			to = n.name(end)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Recorded.Local().Format("2006-01-02 15:04"), n.name(e.Retired), n.name(e.Survivor), to)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d merge(s). ", len(es))
	if phi {
		fmt.Fprintln(stdout, "A merge sent in error: `ferry merges undo 'SYSTEM|VALUE' --yes` (RETIRED column, quoted), with the gateway stopped.")
	} else {
		fmt.Fprintln(stdout, "Patients are named by their ferry patient key (as in dead letters and audit events); --phi shows the identifiers (audited).\n"+
			"A merge sent in error: `ferry merges undo KEY --yes` (RETIRED column), with the gateway stopped.")
	}
	return nil
}

// findMerge returns the merge among es whose retired identifier arg
// names: SYSTEM|VALUE, a patient key as list shows it, or a value that
// only one system's retired identifier has. The error wraps
// merges.ErrNotRetired and names no identifier.
func findMerge(es []merges.Entry, n mergeNames, arg string) (merges.Entry, error) {
	match := func(id merges.ID) bool {
		if sys, val, ok := strings.Cut(arg, "|"); ok {
			return id == merges.ID{System: sys, Value: val}
		}
		return strings.EqualFold(arg, n.patientKey(id))
	}
	var byValue []merges.Entry
	for _, e := range es {
		if match(e.Retired) {
			return e, nil
		}
		if !strings.Contains(arg, "|") && e.Retired.Value == arg {
			byValue = append(byValue, e)
		}
	}
	switch len(byValue) {
	case 1:
		return byValue[0], nil
	case 0:
	default:
		return merges.Entry{}, fmt.Errorf("%d identifier systems have a retired identifier with this value: give it as SYSTEM|VALUE (`ferry merges list --phi`)", len(byValue))
	}
	into := 0
	for _, e := range es {
		if match(e.Survivor) || !strings.Contains(arg, "|") && e.Survivor.Value == arg {
			into++
		}
	}
	if into > 0 {
		return merges.Entry{}, fmt.Errorf("%w: %d record(s) were merged into the one given; undo the merge of the record that was retired (RETIRED column of `ferry merges list`)", merges.ErrNotRetired, into)
	}
	return merges.Entry{}, fmt.Errorf("%w: no merge ferry recorded retires the one given (see `ferry merges list`)", merges.ErrNotRetired)
}

func mergesUndo(ctx context.Context, cfg *config.Config, key *seal.Key, arg string, phi bool, stdout, stderr io.Writer) (err error) {
	// The queue's lock says whether a gateway runs on this data folder;
	// it also keeps one from starting while the file changes.
	release, err := lockStopped(cfg, key, "the merge registry", "undo the merge")
	if err != nil {
		return err
	}
	defer release()
	aud, err := newOpsAudit(cfg, "merges undo")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, aud.Close(ctx, stderr)) }()
	reg, err := merges.Open(cfg.Path(merges.FileName), merges.Options{Key: key, Logger: newLogger(stderr, cfg.Log.Level)})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, reg.Close()) }()
	n := mergeNames{key: key, phi: phi}
	es := reg.Entries()
	e, err := findMerge(es, n, arg)
	if err != nil {
		return err
	}
	x := audit.OperatorAction{Kind: audit.OpMergeUndo, Patient: n.patientKey(e.Retired)}
	if err := reg.Undo(e.Retired); err != nil {
		x.Outcome, x.OutcomeDesc = audit.OutcomeSeriousFail, "undo failed; the merge stays"
		return errors.Join(err, aud.action(ctx, x))
	}
	x.OutcomeDesc = "merge into patient " + n.patientKey(e.Survivor) + " taken back by a person (sent in error); later inputs under this patient's identifier are filed to it again"
	if aerr := aud.action(ctx, x); aerr != nil {
		// Unaudited, it is not done: the merge is recorded again.
		if rerr := reg.Record(e.Merge); rerr != nil {
			return fmt.Errorf("the merge is undone, unaudited: %w (recording it again failed: %v)", aerr, rerr)
		}
		return fmt.Errorf("merge not undone: %w", aerr)
	}
	ret, surv := n.name(e.Retired), n.name(e.Survivor)
	fmt.Fprintf(stdout, "undone: patient %s is no longer merged into %s (merge recorded %s)\n", ret, surv, e.Recorded.Local().Format("2006-01-02 15:04"))
	fmt.Fprintf(stdout, "ferry files later inputs under %s to that patient again (from the next start of the gateway). What it sent before stays as it was; at the exchange:\n", ret)
	fmt.Fprintf(stdout, "  - %s is still written inactive, with a replaced-by link to %s (which links back with replaces), until the EHR sends an ADT for each\n"+
		"    (A08 or A31: ferry writes the Patient again, active, without the link) or the exchange corrects them;\n", ret, surv)
	fmt.Fprintf(stdout, "  - what ferry received under %s since the merge was filed to %s: ask the exchange to move it, or the EHR to send it again.\n", ret, surv)
	into := 0
	for _, o := range es {
		if o.Survivor == e.Retired {
			into++
		}
	}
	if into > 0 {
		fmt.Fprintf(stdout, "  - %d other record(s) merged into %s stay merged into it (see `ferry merges list`).\n", into, ret)
	}
	return nil
}
