// Package ehrdrop is the EHR export-drop source: a watched folder (see
// adapters/folder) into which an EHR writes C-CDA documents, HL7 v2 batch
// files, FHIR JSON/NDJSON or CSV files. It classifies each file by its
// content and hands it on as adapters.Raw with Format set to "ccda",
// "hl7v2-batch", "fhir-json" or "fhir-ndjson"; conversion happens in the
// Consumer. CSV has no signature to sniff and no standard layout, so a
// file is CSV when a csv mapping of the folder (SetCSV) matches its name,
// and is handed on as "csv" for the Consumer to read with that mapping.
// A file that is none of these is moved to failed/ with the reason in
// <name>.error.txt and never reaches the Consumer.
//
// The files of a FHIR Bulk Data export are taken in dependency order,
// Patient.ndjson before Encounter.ndjson before Observation.ndjson; its
// error file (OperationOutcome lines) goes to failed/ and its manifest
// to done/, neither handed on (see bulk.go).
//
// A ZIP archive (an XDM package, an EHI export) is read in place and each
// document in it is handed on as if it had been dropped alone; see zip.go
// for what is read, what is refused and how the archive is settled. A
// document of an XDM package in none of those formats (a PDF, a TIFF) is
// handed on as "xdm-document" with the XDS metadata METADATA.XML gives
// for it, to be filed as a DocumentReference.
//
// An HL7 batch file that was partly enqueued before a crash is consumed
// again whole; the pipeline's message-level dedup drops the messages it
// already queued.
package ehrdrop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
)

// Meta keys ehrdrop adds to the engine's (see folder.Meta*).
const (
	MetaFormat  = "format"  // the sniffed format, as in Raw.Format
	MetaCharset = "charset" // "utf-16le" or "utf-16be" when the file has that byte-order mark
	// MetaCSVMatch is the match pattern of the csv mapping that claimed
	// a CSV file (Format "csv").
	MetaCSVMatch = "csv_match"
)

// DefaultConfig returns the defaults for an EHR export drop: the folder
// engine's, with a larger in-memory limit because converters read whole
// documents.
func DefaultConfig() folder.Config {
	c := folder.DefaultConfig()
	c.Kind = "ehr"
	c.MaxBodyBytes = 64 << 20
	return c
}

// Source is an EHR export drop. It implements adapters.Source.
type Source struct {
	engine *folder.Engine
	next   adapters.Consumer
	// maxBody is the engine's in-memory limit, applied to archive entries
	// too: a larger entry is streamed from the archive.
	maxBody int64
	zip     zipLimits
	logPHI  bool
	log     *slog.Logger
	csv     []csvfhir.Mapping
}

var _ adapters.Source = (*Source)(nil)

// New builds the source on cfg (kind ehr; zero fields take the defaults of
// DefaultConfig). opts go to the folder engine, e.g. folder.WithDeduper.
func New(set adapters.Settings, cfg folder.Config, next adapters.Consumer, opts ...folder.Option) (*Source, error) {
	if cfg.Kind == "" {
		cfg.Kind = "ehr"
	}
	if cfg.Kind != "ehr" {
		return nil, fmt.Errorf("ehrdrop %q: kind: must be ehr; got %q", cfg.Name, cfg.Kind)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	if next == nil {
		return nil, fmt.Errorf("ehrdrop %q: nil consumer", cfg.Name)
	}
	if set.ID == "" {
		set.ID = "ehrdrop/" + cfg.Name
	}
	s := &Source{next: next, zip: defaultZipLimits, logPHI: set.LogPHI, log: set.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// A Bulk Data export's files are taken in dependency order (bulk.go);
	// an option of the caller's comes after, and may replace it.
	opts = append([]folder.Option{folder.WithRank(BulkRank)}, opts...)
	e, err := folder.New(set, cfg, adapters.ConsumerFunc(s.consume), opts...)
	if err != nil {
		return nil, fmt.Errorf("ehrdrop: %w", err)
	}
	s.engine = e
	s.maxBody = e.Config().MaxBodyBytes
	return s, nil
}

// SetCSV gives the folder its csv mappings (sources.folders[].csv): a
// file, or a ZIP entry, whose name one of them matches is CSV. Call it
// before Start.
func (s *Source) SetCSV(ms []csvfhir.Mapping) { s.csv = ms }

// csvMatch returns the match pattern of the csv mapping for a file or
// entry name, or "".
func (s *Source) csvMatch(name string) string {
	if i := csvfhir.Match(s.csv, name); i >= 0 {
		return s.csv[i].Match
	}
	return ""
}

// Start starts the folder engine; it returns quickly.
func (s *Source) Start(ctx context.Context, host adapters.Host) error {
	return s.engine.Start(ctx, host)
}

// Shutdown stops the engine and waits for it; it is idempotent.
func (s *Source) Shutdown(ctx context.Context) error { return s.engine.Shutdown(ctx) }

// Engine returns the folder engine, for its Paths and Rescan.
func (s *Source) Engine() *folder.Engine { return s.engine }

// Feed hands one file to the drop as if its engine had claimed it (in
// carries the engine's metadata, folder.Meta*). ferry backfill feeds an
// old export through it, so the folder's csv mappings and the reading of
// ZIP archives apply as they do live. A file of no known format is a
// permanent error wrapping ErrUnknownFormat, and reaches no Consumer.
func (s *Source) Feed(ctx context.Context, in adapters.Raw) error { return s.consume(ctx, in) }

// consume classifies one claimed file and passes it on. An unknown format is
// a permanent error: the engine moves the file to failed/ with the reason.
func (s *Source) consume(ctx context.Context, in adapters.Raw) error {
	if match := s.csvMatch(in.Name); match != "" {
		in.Format = FormatCSV
		in.Meta = withMeta(in.Meta, MetaFormat, FormatCSV, MetaCSVMatch, match)
		return s.next.Consume(ctx, in)
	}
	got, err := SniffRaw(in)
	if err != nil {
		if queue.IsPermanent(err) {
			return err
		}
		return fmt.Errorf("ehrdrop: %w", err)
	}
	switch got.Format {
	case FormatZIP:
		return s.consumeZip(ctx, in)
	case FormatBulkManifest:
		// Archived (done/) as taken: the files it lists are in the
		// folder or not, and are taken on their own either way.
		s.log.Info("ehrdrop: a FHIR Bulk Data export's manifest is no resource and is not sent; archived",
			"sha256", shortHash(in.Meta[folder.MetaSHA256]))
		return nil
	case FormatFHIRNDJSON:
		notices, err := errorReport(in, got.Type)
		if err != nil {
			return err
		}
		if notices > 0 {
			s.log.Info("ehrdrop: a FHIR Bulk Data export's error file holds information only, nothing that failed; it is no resource and is not sent; archived",
				"sha256", shortHash(in.Meta[folder.MetaSHA256]), "operation_outcomes", notices)
			return nil
		}
	}
	in.Format = got.Format
	if in.Meta == nil {
		in.Meta = map[string]string{}
	}
	in.Meta[MetaFormat] = got.Format
	if got.Charset != "" {
		in.Meta[MetaCharset] = got.Charset
	}
	return s.next.Consume(ctx, in)
}

// withMeta returns m (a new map when nil) with the key/value pairs set.
func withMeta(m map[string]string, kv ...string) map[string]string {
	if m == nil {
		m = make(map[string]string, len(kv)/2)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// SniffRaw classifies in from its Body, or through Open when Body is nil (a
// file above the in-memory limit). An unknown format comes back as a
// queue.Permanent error; a read failure as an ordinary one.
func SniffRaw(in adapters.Raw) (Sniffed, error) {
	var r io.Reader
	switch {
	case in.Body != nil || in.Open == nil:
		r = bytes.NewReader(in.Body)
	default:
		rc, err := in.Open()
		if err != nil {
			return Sniffed{}, fmt.Errorf("open %q: %w", in.Name, err)
		}
		defer rc.Close()
		r = rc
	}
	got, err := Sniff(r, in.Name)
	if err != nil {
		if isUnknown(err) {
			return got, queue.Permanent(fmt.Errorf("ehrdrop: %w", err))
		}
		return got, err
	}
	return got, nil
}
