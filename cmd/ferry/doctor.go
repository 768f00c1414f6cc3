package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"slices"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
)

// cmdDoctor checks an installation: the configuration, certificates
// (validity, chain, days left), a real TLS connection to the exchange,
// folder permissions, free disk and ports. It exits 1 when something must
// be fixed.
func cmdDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", stderr)
	cfgPath := opsConfigFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	stdout = pathsPlainWriter(stdout)
	name, cfg, err := opsConfig(*cfgPath)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintf(stdout, "FAIL  config      %s:\n", ce.File)
		for _, p := range ce.Problems {
			fmt.Fprintf(stdout, "        %s\n", p)
		}
		return exitError{code: 1, err: fmt.Errorf("fix the configuration first (%d problem(s))", len(ce.Problems))}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok    config      %s\n", name)
	opts := ops.DoctorOptions{}
	if _, err := user.Lookup(installer.Account); err == nil {
		opts.ServiceAccount = installer.Account
	}
	opts.ServiceFiles, opts.ServiceFilesSkip = ops.LookupServiceAccount(installer.ServiceUser())
	if name != "embedded default" {
		opts.ConfigFile = name
	}
	checks := ops.Doctor(ctx, cfg, opts)
	if w := cfg.IdentifierWarning(); w != "" {
		checks = append(checks, ops.Check{Area: "identifiers", Name: "identifiers.systems", Level: ops.Warn, Detail: w})
	}
	ops.PrintChecks(stdout, checks)
	if ops.Worst(checks) == ops.Fail {
		return exitError{code: 1, err: errors.New("some checks failed; see above")}
	}
	return nil
}

// opsConfigFlag defines the --config flag of the operator commands, whose
// default is opsConfig's.
func opsConfigFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default: "+installer.PackageLayout().ConfigFile+" when it exists, else the embedded default)")
}

// packageConfig is the package's configuration file, the one the
// installed service runs with. A variable for the tests.
var packageConfig = func() string { return installer.PackageLayout().ConfigFile }

// opsConfig loads the configuration the operator commands (doctor, status,
// queue, backfill) work on: --config, else the installed package's file,
// else the embedded default that `ferry run` uses without --config.
func opsConfig(path string) (string, *config.Config, error) {
	if path == "" {
		pkg := packageConfig()
		if _, err := os.Stat(pkg); err == nil {
			path = pkg
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("read %s: %w (run as root or the ferry account, or pass --config)", pkg, err)
		}
	}
	cfg, err := loadConfig(path)
	if path == "" {
		path = "embedded default"
	}
	return path, cfg, err
}

// opsDataDir refuses a command that reads or changes the stores in
// data_dir when data_dir does not exist. The embedded default's data_dir,
// ./ferry-data, is relative to the folder the command runs in: run from
// anywhere but the folder `ferry run` ran in, `ferry held list` created an
// empty store there and answered "nothing is held", an all-clear about
// data the gateway never kept there. name is what opsConfig returned.
func opsDataDir(name string, cfg *config.Config) error {
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("data_dir %s does not exist (configuration: %s): no gateway has run with it; pass the gateway's configuration with --config FILE, or, for a relative data_dir, run this in the folder the gateway runs in", cfg.DataDir, name)
	}
	return nil
}

// opsSubcommand starts `ferry CMD SUB [flags] [args]` for the operator
// commands that work on the stores in data_dir (queue, held, quarantine,
// merges). SUB is checked against subs before anything else, so that
// `ferry CMD -h` run from any folder prints the usage rather than that
// ./ferry-data is missing (and no store is opened, which would create its
// folder there). defineFlags adds the command's own flags beside
// --config; then the configuration is loaded (opsConfig) and its data_dir
// must exist (opsDataDir). pos holds the positional arguments, which may
// stand among the flags.
func opsSubcommand(cmd string, args, subs []string, stderr io.Writer, defineFlags func(*flag.FlagSet)) (sub string, pos []string, cfg *config.Config, err error) {
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		return "", nil, nil, errUsage
	}
	sub = args[0]
	fs := newFlags(cmd+" "+sub, stderr)
	cfgPath := opsConfigFlag(fs)
	defineFlags(fs)
	if pos, err = splitArgs(fs, args[1:]); err != nil {
		return "", nil, nil, err
	}
	name, cfg, err := opsConfig(*cfgPath)
	if err != nil {
		return "", nil, nil, err
	}
	if err := opsDataDir(name, cfg); err != nil {
		return "", nil, nil, err
	}
	return sub, pos, cfg, nil
}
