// Package adapters defines the source side of ferry: components that read
// legacy inputs (MLLP, watched folders, fax inboxes), convert them to FHIR R4
// and hand the result to a Consumer, which acknowledges only after a durable
// commit (see ../shared/design/ARCHITECTURE.md, invariant 1).
package adapters

import (
	"context"
	"io"
	"log/slog"
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
