// Package adapters defines the source side of ferry: components that read
// legacy inputs (MLLP, watched folders, fax inboxes), convert them to FHIR R4
// and hand the result to a Consumer, which acknowledges only after a durable
// commit (see ../shared/design/ARCHITECTURE.md, invariant 1).
package adapters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"
)

// Component is the lifecycle every source and sink follows, after the
// OpenTelemetry Collector's component.Component.
type Component interface {
	// Start returns quickly; background goroutines use their own context.
	Start(ctx context.Context, host Host) error
	// Shutdown is idempotent, safe without Start, and waits for goroutines.
	Shutdown(ctx context.Context) error
}

// Host is what a running component may ask of the gateway that owns it.
type Host interface {
	// ReportFatalError tells the gateway that the component cannot go on.
	ReportFatalError(err error)
}

// Source pushes what it reads into its Consumer.
type Source interface{ Component }

// Consumer takes one raw input. Its result is the acknowledgement:
//   - nil: converted and durably queued (MLLP AA/CA; the file moves to done/);
//   - queue.IsPermanent(err): the input can never be converted; it has been
//     quarantined with the reason (MLLP AE; the file moves to failed/);
//   - any other error: a transient problem (MLLP AR; the file stays for the rescan).
type Consumer interface {
	Consume(ctx context.Context, in Raw) error
}

// ConvertPanic is the error a Consumer returns, wrapped in queue.Permanent,
// when its converter panicked on an input. That is a converter bug tripped
// by an odd input, which would panic again on every retry, so the input is
// quarantined like one that cannot be converted, and the sender moves on
// instead of resending it forever. (When not even the quarantine can take
// the input, it comes back unwrapped, retryable, like any such failure.)
// The error's text is fixed and holds no PHI, so it may go back to the
// sender and into logs; Value may quote the input, and is for the
// quarantine and, with LogPHI, the log.
type ConvertPanic struct {
	Value any    // what the converter panicked with
	Stack []byte // the converter's goroutine stack: code locations, no values
}

// Error says only that the converter panicked.
func (e *ConvertPanic) Error() string { return "internal error: the converter panicked" }

// ReadError is an error reading an input's bytes where its source keeps
// them (a file source's Raw.Open, or the source's own reading of the
// file): the medium failed, not the content, as an SMB or NFS share does
// when it drops for a moment mid-read (EIO, ESTALE). A Consumer never
// takes it for a fault of the input: it returns it as an ordinary,
// retryable error, so the file is read again later, and the source
// bounds how long it tries (a watched folder: folder.ReadRetryFor).
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// IsReadError reports whether err is, or wraps, a *ReadError.
func IsReadError(err error) bool {
	var re *ReadError
	return errors.As(err, &re)
}

// File is an opened file as a file source hands it over (Raw.Open): an
// *os.File, which PDFs, TIFFs and ZIP archives are read in place from.
type File interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
}

// ReadErrorsOf returns f with every error reading it, but the end of the
// file, a *ReadError, for what reads it to tell a failure of the medium
// from a fault of the content.
func ReadErrorsOf(f File) File { return readErrFile{f} }

type readErrFile struct{ f File }

func (r readErrFile) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	return n, asReadError(err)
}

func (r readErrFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	return n, asReadError(err)
}

func (r readErrFile) Seek(off int64, whence int) (int64, error) {
	n, err := r.f.Seek(off, whence)
	return n, asReadError(err)
}

func (r readErrFile) Stat() (fs.FileInfo, error) {
	info, err := r.f.Stat()
	return info, asReadError(err)
}

func (r readErrFile) Close() error { return r.f.Close() }

// asReadError marks err as a failure to read; io.EOF stays itself.
func asReadError(err error) error {
	if err == nil || err == io.EOF || IsReadError(err) {
		return err
	}
	return &ReadError{Err: err}
}

// PanicText describes a recovered panic value for a log line. A panic
// message may quote the input (a converter's fmt.Sprintf of the field it
// choked on), so unless logPHI it is only the value's Go type, or a runtime
// error's own text (index out of range, nil map), which holds no data.
func PanicText(p any, logPHI bool) string {
	if logPHI {
		return fmt.Sprint(p)
	}
	if re, ok := p.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", p)
}

// FailureKey is text, err's text or a summary of it, without the
// addresses of the connection err failed on (a net.OpError's "read tcp
// 10.0.0.5:51234->203.0.113.7:22"), whose own port is new at every
// connection: what tells one failure of a polling source from another,
// so that a server that resets every connection is logged once while it
// lasts, not at every poll.
func FailureKey(err error, text string) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		text = strings.ReplaceAll(text, op.Error(), op.Op+": "+op.Err.Error())
	}
	return text
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, in Raw) error

// Consume calls f.
func (f ConsumerFunc) Consume(ctx context.Context, in Raw) error { return f(ctx, in) }

// Raw is one input as read from a source, before conversion.
type Raw struct {
	// Source names the configured source instance, e.g. "mllp/main".
	Source string
	// Format tells the converter how to read Body: "hl7v2", "ccda", "fhir", "fax".
	Format string
	// Name identifies the input without PHI: a file name or "conn 3 msg 17".
	Name string
	// Body is the input's bytes.
	Body []byte
	// Received is when the source read the input.
	Received time.Time
	// Meta holds source-specific, PHI-free facts (remote address, folder).
	// A consumer may keep it but must not modify it: the MLLP source hands
	// every message of a connection the same map.
	Meta map[string]string
	// Size is the input's length in bytes; file sources set it, 0 elsewhere.
	Size int64
	// Open streams the input from its start. File sources always set it and
	// leave Body nil above their in-memory limit, so that a 200 MB fax PDF is
	// never read whole. It is valid only until Consume returns.
	Open func() (io.ReadCloser, error)
	// Sidecars holds small companion files claimed together with the input
	// (fax0001.json beside fax0001.pdf), keyed by file name. Their content
	// may hold PHI, like Body.
	Sidecars map[string][]byte
}

// Settings is what every component is created with.
type Settings struct {
	// ID names the component instance, e.g. "mllp/main".
	ID string
	// Logger is scoped to the component. It must not receive PHI unless
	// LogPHI is set.
	Logger *slog.Logger
	// LogPHI allows message content in logs (off by default).
	LogPHI bool
}
