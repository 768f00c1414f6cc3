package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/queue/seal"
	"github.com/ferry-health/ferry/transport/mllptls"
	"github.com/ferry-health/ferry/transport/sftpdrop"
)

// cmdInit writes a commented configuration file. On a terminal with no
// answer flags it asks; otherwise it takes the flags. The file is written
// only if `ferry config check` would accept it.
func cmdInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	interactive := term.IsTerminal(int(os.Stdin.Fd()))
	return runInit(args, os.Stdin, interactive, stdout, stderr)
}

func runInit(args []string, stdin io.Reader, terminal bool, stdout, stderr io.Writer) error {
	d := installer.ConfigDefaults()
	fs := newFlags("init", stderr)
	var a installer.Answers
	fs.StringVar(&a.ExchangeURL, "exchange-url", "", "FHIR base URL of the exchange (https://...), mllps://host:port for one that takes HL7 v2, or sftp://user@host/dir for one that collects files; empty: write bundles to the local outbox")
	fs.StringVar(&a.CAFile, "ca", "", "PEM file of the CA that signed the exchange's server certificate (empty: system roots)")
	fs.StringVar(&a.CertFile, "cert", "", "ferry's client certificate (PEM) for mutual TLS")
	fs.StringVar(&a.KeyFile, "key", "", "the client certificate's private key (PEM, unencrypted)")
	fs.StringVar(&a.ServerName, "server-name", "", "name to verify in the exchange's certificate when it differs from the URL's host")
	fs.StringVar(&a.SFTPKeyFile, "sftp-key", "", "sftp:// exchange: ferry's SSH private key (unencrypted; the exchange adds its .pub)")
	fs.StringVar(&a.KnownHosts, "known-hosts", "", "sftp:// exchange: known_hosts file naming the server's host key (ssh-keyscan, checked with the exchange)")
	fs.StringVar(&a.MLLPListen, "mllp-listen", d.MLLPListen, "address the HL7 v2 MLLP listener binds")
	fs.StringVar(&a.DataDir, "data-dir", d.DataDir, "folder for the queue, quarantine and dead letters")
	fs.StringVar(&a.StatusListen, "status-listen", d.StatusListen, "loopback address of the status page")
	fs.StringVar(&a.EncryptionKeyFile, "encryption-key", "", "encrypt data at rest with the key in this file, made now when it does not exist (keep a copy of it elsewhere)")
	out := fs.String("out", "ferry.yaml", "file to write (- for standard output)")
	force := fs.Bool("force", false, "replace an existing file")
	yes := fs.Bool("non-interactive", false, "never ask, even on a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	answerFlags := 0
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "out", "force", "non-interactive":
		default:
			answerFlags++
		}
	})
	// A flag of one kind of exchange given for none, or for the other
	// kind, would be left out of the file without a word: certificates
	// given with the URL forgotten make a gateway that writes every
	// bundle to its local outbox.
	var tlsFlags, sshFlags []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "ca", "cert", "key", "server-name":
			tlsFlags = append(tlsFlags, "--"+f.Name)
		case "sftp-key", "known-hosts":
			sshFlags = append(sshFlags, "--"+f.Name)
		}
	})
	stray := ""
	switch {
	case a.ExchangeURL == "" && len(tlsFlags)+len(sshFlags) > 0:
		stray = strings.Join(append(tlsFlags, sshFlags...), ", ") + " given without --exchange-url (https://... or mllps://host:port with --ca, --cert, --key; sftp://user@host/dir with --sftp-key, --known-hosts)"
	case a.SFTP() && len(tlsFlags) > 0:
		stray = strings.Join(tlsFlags, ", ") + " given for an sftp:// exchange, which logs in with --sftp-key and --known-hosts (--ca, --cert, --key and --server-name are for an https:// or mllps:// one)"
	case a.ExchangeURL != "" && !a.SFTP() && len(sshFlags) > 0:
		stray = strings.Join(sshFlags, ", ") + " given for an exchange that is not sftp:// (an https:// or mllps:// one uses --ca, --cert and --key)"
	}
	if stray != "" {
		fmt.Fprintf(stderr, "ferry init: %s; nothing is written: the file would leave them out\n", stray)
		return errUsage
	}
	var p *prompter
	if terminal && !*yes && answerFlags == 0 {
		p = &prompter{in: bufio.NewReader(stdin), out: stdout}
	}
	var b []byte
	for {
		if p != nil {
			var err error
			if a, *out, err = p.ask(a, *out, *force); err != nil {
				return err
			}
		}
		// The service does not run in this folder (the unit starts it in its
		// data folder, Windows in System32), and the configuration reads a
		// relative path from wherever the gateway runs: write what was meant.
		for _, p := range []*string{&a.CAFile, &a.CertFile, &a.KeyFile, &a.DataDir, &a.EncryptionKeyFile, &a.SFTPKeyFile, &a.KnownHosts} {
			*p = absPath(*p)
		}
		if a.KeyFile != "" && a.CertFile == "" || a.CertFile != "" && a.KeyFile == "" {
			return errors.New("--cert and --key go together: the exchange needs both the client certificate and its key")
		}
		b = installer.RenderConfig(a)
		name := *out
		if name == "-" {
			name = "standard output"
		}
		_, err := config.Parse(name, b)
		if err == nil {
			break
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("not written: %w", err)
		}
		if p == nil {
			for _, p := range ce.Problems {
				fmt.Fprintf(stderr, "  %s\n", p)
			}
			return fmt.Errorf("not written: the answers give an invalid configuration (%d problem(s) above)", len(ce.Problems))
		}
		// On a terminal the answers are not lost: say what is wrong
		// (by setting: the file, not written, has no lines to name)
		// and ask again, each answer offered as the default.
		fmt.Fprintln(p.out, "The answers give a configuration ferry would refuse:")
		for _, pr := range ce.Problems {
			pr.Line = 0
			fmt.Fprintf(p.out, "  %s\n", pr)
		}
		fmt.Fprintln(p.out, "Once more; Enter keeps an answer.")
	}
	// Refused before the key is made: a key for a configuration that was
	// never written would only be a stray secret.
	if *out != "-" && !*force {
		if _, err := os.Stat(*out); err == nil {
			return fmt.Errorf("%s exists; use --force to replace it", *out)
		}
	}
	keyOut := stdout
	if *out == "-" {
		keyOut = stderr // stdout carries the configuration
	}
	if err := initKey(a.EncryptionKeyFile, keyOut); err != nil {
		return fmt.Errorf("not written: %w", err)
	}
	for _, f := range []struct{ flag, path string }{{"--ca", a.CAFile}, {"--cert", a.CertFile}, {"--key", a.KeyFile}, {"--sftp-key", a.SFTPKeyFile}, {"--known-hosts", a.KnownHosts}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			fmt.Fprintf(stderr, "note: %s %s: %v (ferry doctor will check it again)\n", f.flag, f.path, plainErr(err))
		}
	}
	if *out == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if err := writeConfigFile(*out, b, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\nnext: ferry config check %s && ferry doctor --config %s\n", *out, *out, *out)
	return nil
}

// absPath makes a relative path absolute from the current folder. An empty
// path, and one absolute here or on Windows (C:\..., \\server\share: a
// configuration written for another machine), is left as it is.
func absPath(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, `\\`) ||
		len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return p
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

func plainErr(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist yet"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be read by this account"
	}
	return err.Error()
}

// writeConfigFile writes b to path (mode 0640: it names key files and the
// exchange) atomically and durably (queue/durable), refusing to replace an
// existing file unless force is set; a replaced file's owner, group and
// mode are kept.
func writeConfigFile(path string, b []byte, force bool) error {
	old, err := os.Stat(path)
	if err == nil && !force {
		return fmt.Errorf("%s exists; use --force to replace it", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := durable.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	p, err := durable.Create(path, 0o640)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer p.Abort()
	if _, err := p.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if old != nil {
		// Replacing /etc/ferry/ferry.yaml (root:ferry 0640) must leave it
		// readable by the service.
		if err := installer.KeepOwnership(old, p.Name()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := p.Commit(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// prompter asks the init questions on a terminal, re-asking until an
// answer is usable.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
}

func (p *prompter) line(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", question)
	}
	s, err := p.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errors.New("init: input ended before all questions were answered")
		}
		return "", fmt.Errorf("init: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	return s, nil
}

// until asks question until check accepts the answer.
func (p *prompter) until(question, def string, check func(string) error) (string, error) {
	for {
		s, err := p.line(question, def)
		if err != nil {
			return "", err
		}
		if err := check(s); err != nil {
			fmt.Fprintf(p.out, "  %v\n", err)
			continue
		}
		return s, nil
	}
}

func (p *prompter) ask(a installer.Answers, out string, force bool) (installer.Answers, string, error) {
	var err error
	fmt.Fprintln(p.out, "ferry init: a few questions; Enter takes the value in brackets.")
	if a.ExchangeURL, err = p.until("Exchange FHIR base URL (https://...; mllps://host:port for HL7 v2; sftp://user@host/dir for files; empty if you have none yet)", a.ExchangeURL, checkExchangeURL); err != nil {
		return a, out, err
	}
	if a.SFTP() {
		if a.SFTPKeyFile, err = p.until("ferry's SSH private key file (ssh-keygen -t ed25519 -N ''; give the exchange its .pub)", a.SFTPKeyFile, checkRequiredFile); err != nil {
			return a, out, err
		}
		if a.KnownHosts, err = p.until("known_hosts file with the server's host key (ssh-keyscan; check the fingerprint with the exchange)", a.KnownHosts, checkRequiredFile); err != nil {
			return a, out, err
		}
	} else if a.ExchangeURL != "" {
		if a.CAFile, err = p.until("CA file of the exchange's server certificate (empty: this machine's trusted CAs)", a.CAFile, checkOptionalFile); err != nil {
			return a, out, err
		}
		// Required: mutual TLS is how the exchange knows ferry, so a
		// configuration without the certificate would not pass the check.
		if a.CertFile, err = p.until("ferry's client certificate file (PEM, from the exchange)", a.CertFile, checkRequiredFile); err != nil {
			return a, out, err
		}
		if a.KeyFile, err = p.until("its private key file (PEM)", a.KeyFile, checkRequiredFile); err != nil {
			return a, out, err
		}
	}
	if a.MLLPListen, err = p.until("Address for HL7 v2 (MLLP) senders (0.0.0.0:2575 accepts other machines)", a.MLLPListen, checkHostPort); err != nil {
		return a, out, err
	}
	if a.DataDir, err = p.until("Data folder (queue, quarantine, dead letters)", a.DataDir, func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("a data folder is required")
		}
		return nil
	}); err != nil {
		return a, out, err
	}
	if a.EncryptionKeyFile, err = p.until("Encrypt data at rest: key file to make or use (empty: no encryption; e.g. "+filepath.Join(installer.PackageLayout().ConfigDir, "ferry.key")+")", a.EncryptionKeyFile, func(string) error { return nil }); err != nil {
		return a, out, err
	}
	if out, err = p.until("Write the configuration to", out, func(s string) error {
		if s == "" {
			return errors.New("a file name is required")
		}
		// Asked now, not after the answers are given and lost.
		if _, err := os.Stat(s); err == nil && s != "-" && !force {
			return fmt.Errorf("%s exists; name another file (or run ferry init --force to replace it)", s)
		}
		return nil
	}); err != nil {
		return a, out, err
	}
	return a, out, nil
}

func checkExchangeURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %v", err)
	case u.Scheme == mllptls.Scheme:
		_, err := mllptls.HostPort(s)
		return err
	case u.Scheme == sftpdrop.Scheme:
		return sftpdrop.CheckURL(s)
	case u.Scheme != "https":
		return errors.New("it must start with https:// (a FHIR base), or be mllps://host:port for an exchange that takes HL7 v2 over MLLP in TLS, or sftp://user@host/dir for one that collects files (patient data never travels unencrypted)")
	case u.Host == "":
		return errors.New("it has no host name")
	}
	return nil
}

func checkOptionalFile(s string) error {
	if s == "" {
		return nil
	}
	return checkRequiredFile(s)
}

func checkRequiredFile(s string) error {
	if s == "" {
		return errors.New("a file is required")
	}
	fi, err := os.Stat(s)
	if err != nil {
		return fmt.Errorf("%s %s", s, plainErr(err))
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a folder, not a file", s)
	}
	return nil
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:2575: %v", err)
	}
	return nil
}

// initKey makes the data-at-rest key for --encryption-key when the file
// does not exist yet, or checks that an existing one loads. Empty path:
// encryption stays off.
func initKey(path string, stdout io.Writer) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		k, err := seal.LoadKey(path)
		if err != nil {
			return fmt.Errorf("--encryption-key: %w", err)
		}
		fmt.Fprintf(stdout, "using key %s from %s\n", k.ID(), path)
		return nil
	}
	// Each folder made is synced into its parent: the key file's own
	// sync is of its folder only, and a power cut that kept the data
	// sealed with the key must keep the key.
	if err := durable.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--encryption-key: %w", err)
	}
	k, err := seal.GenerateKeyFile(path)
	if err != nil {
		return fmt.Errorf("--encryption-key: %w", err)
	}
	fmt.Fprintf(stdout, "wrote key %s to %s\n", k.ID(), path)
	fmt.Fprintln(stdout, keyBackupWarning(path))
	return nil
}
