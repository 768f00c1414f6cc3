// Package mllpbench is an MLLP load generator: it drives N connections that
// each send M HL7 v2 messages one at a time (send, wait for the ACK, send the
// next, as real senders do), and measures throughput, ACK latency and the
// acknowledgement codes. `ferry bench mllp` is its command line; the crash
// tests use its acked-id log to know which messages the gateway promised to
// keep.
package mllpbench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
)

// Config describes one run.
type Config struct {
	// Addr is the MLLP listener, host:port.
	Addr string
	// Conns is the number of parallel connections (default 1).
	Conns int
	// Messages is the number of messages each connection sends (default 100).
	Messages int
	// TLS, when set, makes the connections MLLP over TLS.
	TLS *tls.Config
	// Kinds are the generated message kinds, used in turn (default ADT, ORU).
	Kinds []Kind
	// Files, when set, are sent instead of generated messages, in turn, each
	// with its MSH-10 replaced by a unique control id.
	Files [][]byte
	// Patients is the number of distinct synthetic patients (default 1000).
	Patients int
	// Timeout bounds the wait for one ACK (default 30s).
	Timeout time.Duration
	// Reconnect makes a connection that breaks (or whose ACK times out)
	// dial again and resend the same message with the same control id, as
	// real senders do; without it the connection gives up.
	Reconnect bool
	// ConnPerMessage dials a new connection for every message and closes
	// it after the ACK, as some senders do (and as receivers that mishandle
	// persistent connections require; node-hl7-server 2.5.0 answers the k-th
	// message of a connection with k ACKs). Latency still counts from send.
	ConnPerMessage bool
	// Prefix starts every control id (default: 4 random base-36 characters,
	// so that runs never reuse an id).
	Prefix string
	// Acked, when set, receives "<control id>\n" for every message
	// answered AA or CA (with MSA-2 echoing its control id), in one Write
	// per line as soon as the ACK arrives.
	Acked io.Writer
}

// Result is what a run measured.
type Result struct {
	Conns, PerConn int
	// Sent counts messages that got an ACK; Unanswered those that did not.
	Sent, Unanswered int
	// Codes counts MSA-1 values (AA, AE, AR, CA, CE, CR, or "?" for an ACK
	// that could not be read).
	Codes map[string]int
	// Mismatched counts ACKs whose MSA-2 did not echo the message's MSH-10.
	Mismatched int
	// Errors counts connection failures and ACK timeouts; FirstError is the
	// first of them.
	Errors     int
	FirstError string
	Elapsed    time.Duration
	// Latency percentiles of send → ACK received, over answered messages.
	P50, P90, P99, Max time.Duration
}

// Rate is answered messages per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Accepted counts AA and CA answers: messages the receiver has stored.
func (r *Result) Accepted() int { return r.Codes["AA"] + r.Codes["CA"] }

// WriteText prints the result for people.
func (r *Result) WriteText(w io.Writer) {
	codes := make([]string, 0, len(r.Codes))
	for c := range r.Codes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var cs []string
	for _, c := range codes {
		cs = append(cs, fmt.Sprintf("%s=%d", c, r.Codes[c]))
	}
	fmt.Fprintf(w, "connections      %d x %d messages\n", r.Conns, r.PerConn)
	fmt.Fprintf(w, "answered         %d in %.3fs = %.0f msg/s\n", r.Sent, r.Elapsed.Seconds(), r.Rate())
	fmt.Fprintf(w, "ack codes        %s\n", strings.Join(cs, " "))
	fmt.Fprintf(w, "ack latency      p50 %s  p90 %s  p99 %s  max %s\n", round(r.P50), round(r.P90), round(r.P99), round(r.Max))
	fmt.Fprintf(w, "unanswered       %d\n", r.Unanswered)
	fmt.Fprintf(w, "errors           %d", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
	if r.Mismatched > 0 {
		fmt.Fprintf(w, "msa-2 mismatches %d\n", r.Mismatched)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(time.Microsecond)
	}
	return d
}

func (c *Config) defaults() error {
	if c.Addr == "" {
		return errors.New("mllp bench: no address")
	}
	if c.Conns <= 0 {
		c.Conns = 1
	}
	if c.Messages <= 0 {
		c.Messages = 100
	}
	if len(c.Kinds) == 0 {
		c.Kinds = []Kind{ADT, ORU}
	}
	if c.Patients <= 0 {
		c.Patients = 1000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Prefix == "" {
		var b strings.Builder
		for range 4 {
			n, err := rand.Int(rand.Reader, big.NewInt(36))
			if err != nil {
				return fmt.Errorf("mllp bench: random prefix: %w", err)
			}
			b.WriteString(strings.ToUpper(strconv.FormatInt(n.Int64(), 36)))
		}
		c.Prefix = b.String()
	}
	for i, f := range c.Files {
		if _, err := SetControlID(f, "X"); err != nil {
			return fmt.Errorf("mllp bench: file message %d: %w", i+1, err)
		}
		// The bench waits for one ACK per message. MSH-15 NE, ER or SU
		// tells a receiver (ferry included) to stay silent on success or
		// on failure, which would read as a lost ACK after Timeout.
		for _, res := range []error{nil, errors.New("probe")} {
			if hl7v2.BuildAck(f, res, "X", time.Time{}).Suppressed {
				return fmt.Errorf("mllp bench: file message %d: its MSH-15 (accept acknowledgement) is NE, ER or SU, so not every message would be answered; use AL or leave MSH-15 and MSH-16 empty", i+1)
			}
		}
	}
	return nil
}

// worker is one connection's state and measurements.
type worker struct {
	cfg                                *Config
	n                                  int
	mu                                 sync.Mutex // guards conn against the cancel callback
	conn                               net.Conn
	r                                  *mllp.Reader
	br                                 *bufio.Reader
	lat                                []time.Duration
	codes                              map[string]int
	sent, unanswered, mismatched, errs int
	firstErr                           error
	wbuf                               []byte
}

// Run performs the load run. It returns an error only for a configuration
// problem; network failures are counted in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var ackMu sync.Mutex
	acked := func(id string) {
		if cfg.Acked == nil {
			return
		}
		ackMu.Lock()
		_, _ = io.WriteString(cfg.Acked, id+"\n")
		ackMu.Unlock()
	}
	workers := make([]*worker, cfg.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &worker{cfg: &cfg, n: i, codes: map[string]int{}, lat: make([]time.Duration, 0, cfg.Messages)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, acked)
		}()
	}
	wg.Wait()
	res := &Result{Conns: cfg.Conns, PerConn: cfg.Messages, Codes: map[string]int{}, Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, w := range workers {
		res.Sent += w.sent
		res.Unanswered += w.unanswered
		res.Mismatched += w.mismatched
		res.Errors += w.errs
		if w.firstErr != nil && res.FirstError == "" {
			res.FirstError = w.firstErr.Error()
		}
		for c, n := range w.codes {
			res.Codes[c] += n
		}
		lat = append(lat, w.lat...)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		res.P50, res.P90, res.P99, res.Max = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
	}
	return res, nil
}

func (w *worker) fail(ctx context.Context, err error) {
	if ctx.Err() == nil {
		w.errs++
		if w.firstErr == nil {
			w.firstErr = err
		}
	}
	w.setConn(nil)
}

// setConn replaces the connection, closing the old one.
func (w *worker) setConn(c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conn != nil {
		_ = w.conn.Close()
	}
	w.conn = c
}

func (w *worker) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: w.cfg.Timeout}
	var (
		c   net.Conn
		err error
	)
	if w.cfg.TLS != nil {
		td := tls.Dialer{NetDialer: &d, Config: w.cfg.TLS}
		c, err = td.DialContext(ctx, "tcp", w.cfg.Addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", w.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", w.cfg.Addr, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	w.setConn(c)
	// One read buffer per worker, reused across dials: with
	// ConnPerMessage a fresh 64 KiB buffer per message would make the
	// load generator itself a noticeable CPU and GC load.
	if w.br == nil {
		w.br = bufio.NewReaderSize(c, 64<<10)
	} else {
		w.br.Reset(c)
	}
	w.r = mllp.NewReader(w.br, 0)
	return ctx.Err()
}

func (w *worker) message(i int) ([]byte, string) {
	id := w.cfg.Prefix + strconv.Itoa(w.n) + "." + strconv.Itoa(i)
	seq := w.n*w.cfg.Messages + i
	if len(w.cfg.Files) > 0 {
		m, _ := SetControlID(w.cfg.Files[seq%len(w.cfg.Files)], id)
		return m, id
	}
	// Patients are spread so that a patient recurs across connections.
	pat := (seq * 7919) % w.cfg.Patients
	return Generate(w.cfg.Kinds[seq%len(w.cfg.Kinds)], id, pat, time.Now()), id
}

func (w *worker) run(ctx context.Context, acked func(string)) {
	defer w.setConn(nil)
	// An expired deadline is what interrupts a blocked read on cancel.
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.conn != nil {
			_ = w.conn.SetDeadline(time.Now())
		}
	})
	defer stop()
	backoff := 10 * time.Millisecond
	for i := 0; i < w.cfg.Messages; i++ {
		msg, id := w.message(i)
		for {
			if ctx.Err() != nil {
				w.unanswered += w.cfg.Messages - i
				return
			}
			if w.conn == nil {
				if err := w.dial(ctx); err != nil {
					w.fail(ctx, err)
					if !w.cfg.Reconnect {
						w.unanswered += w.cfg.Messages - i
						return
					}
					sleep(ctx, backoff)
					backoff = min(2*backoff, time.Second)
					continue
				}
			}
			code, echoed, lat, err := w.send(msg)
			if err != nil {
				w.fail(ctx, err)
				if !w.cfg.Reconnect {
					w.unanswered += w.cfg.Messages - i
					return
				}
				continue
			}
			backoff = 10 * time.Millisecond
			w.sent++
			w.codes[code]++
			w.lat = append(w.lat, lat)
			switch {
			case echoed != id:
				// Not this message's ACK (a receiver answering twice, or
				// late): it proves nothing about this message.
				w.mismatched++
			case code == "AA" || code == "CA":
				acked(id)
			}
			if w.cfg.ConnPerMessage {
				w.setConn(nil)
			}
			break
		}
	}
}

// send writes one message and waits for its ACK.
func (w *worker) send(msg []byte) (code, echoed string, lat time.Duration, err error) {
	w.wbuf = mllp.AppendFrame(w.wbuf[:0], msg)
	t0 := time.Now()
	_ = w.conn.SetDeadline(t0.Add(w.cfg.Timeout))
	if _, err := w.conn.Write(w.wbuf); err != nil {
		return "", "", 0, fmt.Errorf("send: %w", err)
	}
	for {
		f, err := w.r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("connection closed by receiver: %w", err)
			}
			return "", "", 0, fmt.Errorf("read ack: %w", err)
		}
		if mllp.IsCommitACK(f) || mllp.IsCommitNAK(f) {
			continue // MLLP R2 transport acknowledgement; the HL7 ACK follows
		}
		lat = time.Since(t0)
		code, echoed = readMSA(f)
		return code, echoed, lat, nil
	}
}

// readMSA returns MSA-1 and MSA-2 of an ACK ("?" when there is no MSA).
func readMSA(ack []byte) (code, id string) {
	if len(ack) < 4 {
		return "?", ""
	}
	fs := byte('|')
	if bytes.HasPrefix(ack, []byte("MSH")) {
		fs = ack[3]
	}
	for seg := range bytes.SplitSeq(ack, []byte("\r")) {
		seg = bytes.TrimLeft(seg, "\n")
		if !bytes.HasPrefix(seg, []byte("MSA")) || len(seg) < 4 {
			continue
		}
		f := bytes.Split(seg, []byte{fs})
		code = string(f[min(1, len(f)-1)])
		if len(f) > 2 {
			id = string(f[2])
		}
		if code == "" {
			code = "?"
		}
		return code, id
	}
	return "?", ""
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
