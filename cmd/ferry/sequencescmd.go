package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config"
)

// cmdSequences implements `ferry sequences list | reset STREAM --yes
// [--listener NAME]`: the HL7 sequence numbers (MSH-13) of the MLLP
// senders that use the protocol, as data_dir/mllp-sequence.log keeps
// them. list reads the file as it is, beside a running gateway too (each
// number is there before its message's ACK). reset forgets a stream's
// number, so that the next message numbered on it starts it again, as a
// sender's -1 would: for a sender whose numbering was reset by hand on
// its side while ferry runs sequence_numbers: enforce. It needs the
// gateway stopped: the gateway holds the numbers in memory.
func cmdSequences(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var yes *bool
	var listener *string
	sub, pos, cfg, err := opsSubcommand("sequences", args, []string{"list", "reset"}, stderr, func(fs *flag.FlagSet) {
		yes = fs.Bool("yes", false, "confirm reset")
		listener = fs.String("listener", "", "the MLLP listener (sources.mllp[].name) the stream comes in on, when several have it")
	})
	if err != nil {
		return err
	}
	path := cfg.Path(sequenceFile)
	switch sub {
	case "list":
		if len(pos) > 0 {
			return errUsage
		}
		all, err := mllp.ReadSequences(path)
		if err != nil {
			return err
		}
		return sequencesList(cfg, all, stdout)
	case "reset":
		if len(pos) != 1 {
			return errUsage
		}
		if !*yes {
			return errors.New("sequences reset makes ferry take the next number the sender sends on this stream as its new start, whatever it is; add --yes to confirm")
		}
		return sequencesReset(cfg, path, pos[0], *listener, stdout)
	}
	return errUsage
}

// sequenceKey splits a store key ("mllp/<name> <stream>") into listener
// name and stream. A name may hold a space, and so may a stream, so the
// key is matched against the names the configuration has (the longest
// that fits); a listener no longer configured is cut at the first space.
func sequenceKey(cfg *config.Config, k string) (listener, stream string) {
	for _, m := range cfg.Sources.MLLP {
		if rest, ok := strings.CutPrefix(k, "mllp/"+m.Name+" "); ok && len(m.Name) >= len(listener) {
			listener, stream = m.Name, rest
		}
	}
	if listener != "" {
		return listener, stream
	}
	src, stream, _ := strings.Cut(k, " ")
	return strings.TrimPrefix(src, "mllp/"), stream
}

func sequencesList(cfg *config.Config, all map[string]int64, stdout io.Writer) error {
	if len(all) == 0 {
		fmt.Fprintln(stdout, "no sender uses HL7 sequence numbers (MSH-13) here")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LISTENER\tSTREAM (MSH-3|4|5|6)\tLAST ACCEPTED\tEXPECTS")
	for _, k := range slices.Sorted(maps.Keys(all)) {
		l, st := sequenceKey(cfg, k)
		// The stream is what the sender wrote in MSH-3 to MSH-6: fit
		// for a terminal, as `ferry queue` prints a sender's text.
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", l, terminalText(st), all[k], all[k]+1)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d stream(s). A stream to start again: `ferry sequences reset 'STREAM' --yes`, with the gateway stopped (or have the sender send -1).\n", len(all))
	return nil
}

func sequencesReset(cfg *config.Config, path, stream, listener string, stdout io.Writer) error {
	key, err := opsKey(cfg)
	if err != nil {
		return err
	}
	// The queue's lock says whether a gateway runs on this data folder,
	// and keeps one from starting meanwhile.
	release, err := lockStopped(cfg, key, "the sequence numbers", "reset the stream")
	if err != nil {
		return err
	}
	defer release()
	store, err := mllp.OpenSequenceStore(path)
	if err != nil {
		return err
	}
	defer store.Close()
	var found []string
	for k := range store.Streams() {
		if l, st := sequenceKey(cfg, k); st == stream && (listener == "" || l == listener) {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return fmt.Errorf("no stream %q in %s (see `ferry sequences list`)", stream, path)
	case 1:
	default:
		return fmt.Errorf("%d listeners have stream %q: name one with --listener", len(found), stream)
	}
	last, _ := store.Last(found[0])
	if err := store.Set(found[0], -1); err != nil {
		return err
	}
	l, _ := sequenceKey(cfg, found[0])
	fmt.Fprintf(stdout, "reset: stream %s on listener %s (last accepted %d); the next number its sender sends starts it again\n", stream, l, last)
	return nil
}
