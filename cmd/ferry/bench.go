package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp/mllpbench"
	"github.com/ferry-health/ferry/config/configtls"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// cmdBench runs load generators: `ferry bench mllp --addr 127.0.0.1:2575
// --conns 16 --messages 1000`. Each connection sends its messages one at a
// time and waits for each ACK, as clinic systems do, so msg/s reflects the
// gateway's per-message commit latency and its parallelism.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "responder" {
		return cmdBenchResponder(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "mllp" {
		fmt.Fprintln(stderr, "usage: ferry bench mllp [--addr HOST:PORT] [--conns N] [--messages M] [--expect AA] [--out FILE] [--file F]...")
		fmt.Fprintln(stderr, "       ferry bench responder [--listen HOST:PORT] [--sync-dir DIR]")
		return errUsage
	}
	fs := newFlags("bench mllp", stderr)
	var (
		cfg                                   mllpbench.Config
		files                                 stringList
		kinds, expect, out                    string
		caFile, certFile, keyFile, serverName string
		asJSON, useTLS                        bool
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:2575", "MLLP listener `host:port`")
	fs.IntVar(&cfg.Conns, "conns", 1, "parallel connections")
	fs.IntVar(&cfg.Messages, "messages", 1000, "messages per connection")
	fs.Var(&files, "file", "send the HL7 v2 messages in `FILE` (one, a batch, or several) instead of generated ones; repeatable; MSH-10 is replaced by a unique id")
	fs.StringVar(&kinds, "kinds", "adt,oru", "generated message kinds, used in turn: adt (ADT^A01), oru (ORU^R01)")
	fs.IntVar(&cfg.Patients, "patients", 1000, "distinct synthetic patients")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "wait at most this long for one ACK")
	fs.BoolVar(&cfg.Reconnect, "reconnect", false, "on a broken connection or ACK timeout, reconnect and resend the same message (same control id)")
	fs.BoolVar(&cfg.ConnPerMessage, "conn-per-message", false, "open a new connection for every message")
	fs.StringVar(&cfg.Prefix, "prefix", "", "control id prefix (default: random)")
	fs.StringVar(&expect, "expect", "", "exit non-zero unless every message is answered with this `CODE` (AA also accepts CA)")
	fs.StringVar(&out, "out", "", "append each control id answered AA/CA to `FILE`, one line per ACK as it arrives")
	fs.BoolVar(&useTLS, "tls", false, "MLLP over TLS (implied by --tls-ca/--tls-cert)")
	fs.StringVar(&caFile, "tls-ca", "", "PEM CA `file` for the server certificate (default: system roots)")
	fs.StringVar(&certFile, "tls-cert", "", "client certificate PEM `file` for mutual TLS")
	fs.StringVar(&keyFile, "tls-key", "", "client key PEM `file`")
	fs.StringVar(&serverName, "tls-server-name", "", "name to verify in the server certificate")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsageShown
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench mllp: unexpected argument %q", fs.Arg(0))
	}
	for _, k := range strings.Split(kinds, ",") {
		switch k := mllpbench.Kind(strings.TrimSpace(strings.ToLower(k))); k {
		case mllpbench.ADT, mllpbench.ORU:
			cfg.Kinds = append(cfg.Kinds, k)
		default:
			return fmt.Errorf("bench mllp: --kinds: unknown kind %q (want adt or oru)", k)
		}
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("bench mllp: %w", err)
		}
		msgs, err := hl7v2.SplitBatch(data)
		if err != nil {
			return fmt.Errorf("bench mllp: read %s: %w", name, err)
		}
		if len(msgs) == 0 {
			return fmt.Errorf("bench mllp: %s holds no HL7 v2 message", name)
		}
		cfg.Files = append(cfg.Files, msgs...)
	}
	if useTLS || caFile != "" || certFile != "" || keyFile != "" {
		tc := configtls.ClientConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: serverName}
		if err := tc.Validate(); err != nil {
			return fmt.Errorf("bench mllp: tls: %w", err)
		}
		tlsCfg, err := tc.LoadTLSConfig()
		if err != nil {
			return fmt.Errorf("bench mllp: tls: %w", err)
		}
		if tlsCfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
				tlsCfg.ServerName = host
			}
		}
		cfg.TLS = tlsCfg
	}
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("bench mllp: %w", err)
		}
		defer f.Close()
		// An *os.File is unbuffered: each id is in the file (page cache) the
		// moment its ACK is read, which is what a crash test of the gateway
		// needs; the bench tool itself is not the process being killed.
		cfg.Acked = f
	}
	res, err := mllpbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*mllpbench.Result
			Rate float64 `json:"rate_msg_per_s"`
		}{res, res.Rate()}); err != nil {
			return fmt.Errorf("bench mllp: %w", err)
		}
	} else {
		fmt.Fprintf(stdout, "target           %s\n", cfg.Addr)
		res.WriteText(stdout)
	}
	if expect != "" {
		want := strings.ToUpper(expect)
		got := res.Codes[want]
		if want == "AA" {
			got = res.Accepted()
		}
		total := cfg.Conns * cfg.Messages
		if got != total || res.Mismatched > 0 {
			return fmt.Errorf("bench mllp: expected %s for all %d messages, got %d (codes %v, unanswered %d, msa-2 mismatches %d)",
				want, total, got, res.Codes, res.Unanswered, res.Mismatched)
		}
	}
	return nil
}

// cmdBenchResponder runs the floor receiver: `ferry bench responder --listen
// 127.0.0.1:2577 [--sync-dir DIR]` answers AA to every frame without
// parsing, converting or (without --sync-dir) storing anything, so that
// `ferry bench mllp` against it measures what the machine's MLLP round trip
// (and, with --sync-dir, one write + fdatasync per message) costs on its own.
// It runs until interrupted.
func cmdBenchResponder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench responder", stderr)
	var (
		listen string
		r      mllpbench.Responder
	)
	fs.StringVar(&listen, "listen", "127.0.0.1:2577", "`host:port` to listen on")
	fs.StringVar(&r.SyncDir, "sync-dir", "", "write each message to a pre-zeroed scratch file in `DIR` and fdatasync it before the ACK")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsageShown
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench responder: unexpected argument %q", fs.Arg(0))
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("bench responder: %w", err)
	}
	mode := "no storage"
	if r.SyncDir != "" {
		mode = "write + fdatasync per message in " + r.SyncDir
	}
	fmt.Fprintf(stdout, "responder listening on %s (%s)\n", ln.Addr(), mode)
	err = r.Serve(ctx, ln)
	fmt.Fprintf(stdout, "answered %d messages\n", r.Answered())
	if err != nil {
		return fmt.Errorf("bench responder: %w", err)
	}
	return nil
}
