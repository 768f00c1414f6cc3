package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/seal"
)

// cmdConfig implements `ferry config check [FILE | --config FILE]`: it prints every problem
// with its field path and line, or "ok". Warnings (config.Warnings: valid
// but risky settings, such as an MLLP listener open to the whole network)
// are printed before the "ok" line; they do not change the exit status, so
// scripts that check a file keep working.
func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return errUsage
	}
	fs := newFlags("config check", stderr)
	// --config as every other command takes it, beside the FILE argument.
	cfgFlag := fs.String("config", "", "configuration `file` to check (the same as FILE)")
	pos, err := splitArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if *cfgFlag != "" {
		pos = append(pos, *cfgFlag)
	}
	var cfg *config.Config
	name := "embedded default"
	switch len(pos) {
	case 0:
		cfg, err = config.Parse(name, config.DefaultYAML)
	case 1:
		name = pos[0]
		cfg, err = config.Load(name)
	default:
		return errUsage
	}
	var key *seal.Key
	var missing []config.Problem
	if err == nil {
		// Parse stays offline; check reads the key as the gateway will.
		key, err = cfg.LoadKey()
		var ce *config.Error
		if err == nil || errors.As(err, &ce) {
			// The gateway refuses TLS keys other accounts can read, and
			// certificates, keys and CA bundles it cannot use; say so
			// now, beside a problem of the key, so that one check lists
			// them all.
			err = joinProblems(err, checkFiles(cfg, &missing))
		}
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", ce.File, pathsPlain(p.String()))
		}
		printMissing(stdout, name, missing)
		return exitError{code: 1, err: fmt.Errorf("%d problem(s) in %s", len(ce.Problems), ce.File)}
	}
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "%s: warning: %s\n", name, w)
	}
	printMissing(stdout, name, missing)
	// Fax mailboxes are counted when there are any: a clinic whose
	// faxes come by e-mail alone has no listener and no folder.
	mailboxes := ""
	if n := len(cfg.Sources.Mailboxes); n > 0 {
		mailboxes = fmt.Sprintf("%d fax mailbox(es), ", n)
	}
	fmt.Fprintf(stdout, "%s: ok (%d MLLP listener(s), %d folder(s), %sexchange %s); %s\n", name,
		len(cfg.Sources.MLLP), len(cfg.Sources.Folders), mailboxes, exchangeName(cfg), encryptionState(key))
	if w := cfg.IdentifierWarning(); w != "" {
		fmt.Fprintf(stdout, "%s: warning: %s\n", name, w)
	}
	return nil
}

func exchangeName(cfg *config.Config) string {
	if cfg.Exchange.URL == "" {
		return "none: outbox " + cfg.Path("outbox")
	}
	return cfg.Exchange.URL
}

type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

// encryptionState names the data-at-rest state for people: "encryption:
// on (key <id>)" or "encryption: off". It never shows key material.
func encryptionState(k *seal.Key) string {
	if k == nil {
		return "encryption: off"
	}
	return "encryption: on (key " + k.ID() + ")"
}

// checkFiles runs the configuration's file checks (key file modes, then
// the TLS files) and returns their problems as one *config.Error; files
// that do not exist yet go to missing. A key whose mode is the problem is
// named once, by the mode check, not again by its tls block.
func checkFiles(cfg *config.Config, missing *[]config.Problem) error {
	var all *config.Error
	add := func(err error) error {
		var ce *config.Error
		if !errors.As(err, &ce) {
			return err
		}
		if all == nil {
			all = &config.Error{File: ce.File}
		}
		for _, p := range ce.Problems {
			if !slices.ContainsFunc(all.Problems, func(q config.Problem) bool { return strings.HasPrefix(q.Path, p.Path+".") }) {
				all.Problems = append(all.Problems, p)
			}
		}
		return nil
	}
	if err := add(cfg.CheckKeyFileModes()); err != nil {
		return err
	}
	m, err := cfg.CheckTLSFiles()
	*missing = m
	if err := add(err); err != nil {
		return err
	}
	if all == nil {
		return nil
	}
	return all
}

// joinProblems puts the problems of two checks, each nil or a
// *config.Error, into one *config.Error; an error of another kind is
// returned as it is.
func joinProblems(a, b error) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	var ea, eb *config.Error
	if !errors.As(a, &ea) {
		return a
	}
	if !errors.As(b, &eb) {
		return b
	}
	return &config.Error{File: ea.File, Problems: append(slices.Clone(ea.Problems), eb.Problems...)}
}

// printMissing warns of the files the configuration names that do not
// exist yet.
func printMissing(w io.Writer, name string, missing []config.Problem) {
	for _, m := range missing {
		fmt.Fprintf(w, "%s: warning: %s (not installed yet? `ferry doctor` checks it again)\n", name, pathsPlain(m.String()))
	}
}
