// Command ferry is the edge integration gateway: it takes HL7 v2 over MLLP,
// EHR export drops and fax inboxes, converts them to FHIR R4, buffers them
// durably on local disk and forwards them over HTTPS with mutual TLS to a
// health information exchange.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	// The IANA zone database, for time_zone settings where the system
	// has none: Windows keeps its own zone names, and a minimal Linux
	// image may lack /usr/share/zoneinfo. The system's is read first.
	_ "time/tzdata"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	usage string
}

// commands is the explicit list of subcommands (no init-time registration,
// so the whole surface is visible here).
func commands() map[string]command {
	return map[string]command{
		"run":           {cmdRun, "run the gateway in the foreground (--config FILE; embedded default without)"},
		"convert":       {cmdConvert, "convert HL7 v2, C-CDA, FHIR JSON or CSV files, fax images and e-mails to FHIR Bundles (FILE... [--out DIR] [--format F] [--config FILE])"},
		"demo":          {cmdDemo, "show the whole path end to end on loopback with a throwaway PKI"},
		"config":        {cmdConfig, "check [FILE | --config FILE]: validate a configuration file (without FILE: the embedded default)"},
		"version":       {cmdVersion, "print the version"},
		"bench":         {cmdBench, "mllp: drive N connections x M messages and report msg/s and ACK latency; bench responder: the floor receiver"},
		"init":          {cmdInit, "write a commented configuration (asks on a terminal; or --exchange-url --ca --cert --key --mllp-listen --data-dir --out FILE)"},
		"keygen":        {cmdKeygen, "write a new data-at-rest key file (PATH) for encryption.key_file; never overwrites"},
		"smart-key":     {cmdSMARTKey, "make (if missing) the SMART Backend Services key at PATH and print its JWKS to register"},
		"udap-register": {cmdUDAPRegister, "register with the exchange's UDAP server now and store the client id ([--config FILE]); the gateway otherwise does it at its first delivery"},
		"doctor":        {cmdDoctor, "check certificates, the exchange connection, folders, disk and ports ([--config FILE])"},
		"status":        {cmdStatus, "queue depth, oldest item, last delivery, dead letters, certificate expiry ([--config FILE] [--json])"},
		"queue":         {cmdQueue, "dead letters: list | show ID [--body] | retry ID...|--all [--force] | purge ID...|--all --yes ([--config FILE])"},
		"held":          {cmdHeld, "bundles kept back by exchange.hold: list | show ID | release ID... [--force] | discard ID... --yes ([--config FILE])"},
		"quarantine":    {cmdQuarantine, "inputs that could not be converted: list | show ID [--raw] | replay ID...|--all [--force] | purge ID...|--all --yes ([--config FILE])"},
		"merges":        {cmdMerges, "patient merges ferry remembers (ADT^A40, A47): list [--phi] | undo KEY|SYSTEM|VALUE --yes [--phi], for a merge sent in error ([--config FILE])"},
		"sequences":     {cmdSequences, "HL7 sequence numbers (MSH-13) of MLLP senders: list | reset STREAM --yes [--listener NAME], to start a stream again ([--config FILE])"},
		"backup":        {cmdBackup, "write a backup of the data folder and configuration to FILE (- for standard output), the gateway running or stopped ([--config FILE] [--force]); keys stay apart"},
		"restore":       {cmdRestore, "unpack a backup FILE into an empty data folder ([--config FILE] | [--write-config PATH]); --check: only test that it restores, and what it holds"},
		"backfill":      {cmdBackfill, "feed an old export folder through the pipeline into the queue (DIR [--folder NAME] [--phi] [--config FILE]); resumable"},
		"install":       {cmdInstall, "register the OS service running as the ferry account ([--config FILE] [--folders-only])"},
		"uninstall":     {cmdUninstall, "stop and unregister the service; names the data and configuration it keeps ([--config FILE])"},
		"start":         {serviceControl("start"), "start the installed service and wait until it is ready ([--config FILE]: the service's, when not the package's)"},
		"stop":          {serviceControl("stop"), "stop the installed service"},
		"restart":       {serviceControl("restart"), "restart the installed service and wait until it is ready ([--config FILE], as for start)"},
	}
}

// errUsage makes main print the usage and exit 2.
var errUsage = errors.New("usage")

// errUsageShown is errUsage after the flag set printed the usage itself
// (a flag mistake), which main then does not print again.
var errUsageShown = fmt.Errorf("%w", errUsage)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a clean stop, which waits (up to its
	// bound) for inputs in flight; a second one ends the process at once,
	// as an operator pressing Ctrl-C twice expects. Nothing acknowledged
	// is lost by that: every ACK followed its fsync, and the queue
	// recovers from a kill at any point.
	go func() { <-ctx.Done(); stop() }()
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ferry: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		// The command's name, then what it does: its line of the list
		// `ferry --help` prints, which begins with a verb or a noun.
		if !errors.Is(err, errUsageShown) {
			fmt.Fprintf(stderr, "usage: ferry %s — %s\n", args[0], c.usage)
		}
		if slices.ContainsFunc(args[1:], isHelpFlag) {
			// `ferry queue --help`: the usage was asked for, not a mistake.
			return 0
		}
		return 2
	default:
		var ec exitCoder
		fmt.Fprintf(stderr, "ferry %s: %s\n", args[0], pathsPlain(err.Error()))
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
}

// exitCoder lets a command choose its exit status.
type exitCoder interface{ ExitCode() int }

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "ferry: HL7 v2, C-CDA and fax to FHIR R4, delivered durably over mutual TLS")
	fmt.Fprintln(w, "\nusage: ferry <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	width := 0
	for n := range cmds {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, cmds[n].usage)
	}
	// Which file a command reads, and so where its data is, differs
	// between run and the operator commands: say it here, where a
	// contractor looks first.
	pkg := installer.PackageLayout()
	def := "see config/default.yaml"
	if cfg, err := config.Parse("embedded default", config.DefaultYAML); err == nil && len(cfg.Sources.MLLP) > 0 {
		def = fmt.Sprintf("MLLP on %s, status page on %s,\n                    data in %s", cfg.Sources.MLLP[0].Listen, cfg.Status.Listen, cfg.DataDir)
	}
	fmt.Fprintf(w, `
configuration (the file a command reads):
  run, convert      --config FILE, else the embedded default:
                    %[3]s, no exchange (bundles go to its outbox/)
  config check      FILE, else the embedded default
  install           --config FILE, else %[1]s
  doctor, status, queue, held, quarantine, backfill, merges, sequences,
  backup, restore, udap-register
                    --config FILE, else %[1]s when it exists, else the embedded default
data folder: the configuration's data_dir (queue/, quarantine/, held/, outbox/, audit/, merges.log, site-id);
  %[2]s in the configuration the packages install
`, pkg.ConfigFile, pkg.DataDir, def)
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ferry "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// --help and a flag mistake say what the command does and what it
	// takes (its line of `ferry --help`), not the flag package's bare
	// "Usage of ferry keygen:"; then its flags, if it has any.
	cmd, _, _ := strings.Cut(name, " ")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ferry %s — %s\n", name, commands()[cmd].usage)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(stderr, "flags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	fmt.Fprintf(stdout, "ferry %s\n", versionString())
	return nil
}

// versionString is the release version set at build time, or for a
// development build the VCS revision Go recorded (go build in a checkout).
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case rev == "":
		return version
	case dirty:
		return "dev+" + rev + "-modified"
	}
	return "dev+" + rev
}

// parseFlags parses args with fs; a flag it does not know or a bad value
// is a usage mistake (exit status 2, as for `ferry bench`), which scripts
// can tell from a check that failed (1). The flag package has already
// printed what was wrong and the flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errUsageShown, err)
	}
	return err
}

// splitArgs separates flags from positional arguments so that flags may
// follow files (`ferry convert a.hl7 --out dir`).
func splitArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if !strings.HasPrefix(args[0], "-") || args[0] == "-" {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return pos, nil
}
