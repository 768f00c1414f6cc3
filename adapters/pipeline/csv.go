package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// metaEntry is ehrdrop.MetaEntry, a ZIP entry's path in its archive,
// whose base name the mappings match (ehrdrop's tests import this
// package, so it cannot import ehrdrop), and metaArchiveSHA256 is
// ehrdrop.MetaArchiveSHA256, the hex SHA-256 of the archive it came in.
const (
	metaEntry         = "entry"
	metaArchiveSHA256 = "archive_sha256"
)

// DefaultCSVMaxBytes bounds a CSV file: its text is read whole (every row
// is checked before anything is queued, so a file goes all or nothing,
// and a row is read again when its patient's bundles are built). What it
// converts to is queued as it is built, in batches of at most
// CSVBatchUnits bundles or CSVBatchBytes, so memory grows with the
// file's text, not with its bundles. A larger export is split into
// several files.
const DefaultCSVMaxBytes = 128 << 20

// The largest batch of a CSV file's bundles queued in one commit.
const (
	CSVBatchUnits = 1024
	CSVBatchBytes = 4 << 20
)

// CSV converts the CSV files of EHR drops, each with the csv mapping of
// its folder that matches its name (the one the source matched). Every
// row is checked before anything is queued: a file with a bad row is
// quarantined whole, its error listing the bad rows by line and column
// (see csvfhir). Each bundle is one patient's rows, keyed to the patient.
type CSV struct {
	// Folders maps an EHR drop's name (Raw.Meta "folder") to its csv
	// mappings, as configured.
	Folders map[string][]csvfhir.Mapping
	// Options are the converter's (identifier base, write mode,
	// transaction size, whether row errors may quote cells).
	Options csvfhir.Options
	// MaxBytes bounds the file (0: DefaultCSVMaxBytes).
	MaxBytes int64
}

var (
	_ Converter       = CSV{}
	_ StreamConverter = CSV{}
	_ mergeReader     = CSV{}
)

// readsMerges marks CSV as a StreamConverter whose bundles depend on the
// patient merges recorded (Options.Merges): a batch converted before a
// merge was recorded is converted again, tied to the survivor
// (Pipeline.mergedGen).
func (CSV) readsMerges() {}

// Convert returns one unit per transaction, all of them at once (for
// `ferry convert` and tests; the pipeline streams, see ConvertStream).
func (c CSV) Convert(ctx context.Context, in adapters.Raw) ([]Unit, error) {
	var out []Unit
	err := c.convert(ctx, in, func(u Unit) error {
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConvertStream hands the file's units to emit in batches as they are
// built. Nothing is emitted unless every row maps.
func (c CSV) ConvertStream(ctx context.Context, in adapters.Raw, emit func([]Unit) error) error {
	return inBatches(func(unit func(Unit) error) error { return c.convert(ctx, in, unit) }, emit)
}

// inBatches hands the units each produces to emit in batches of at most
// CSVBatchUnits units or CSVBatchBytes of bundle and raw input, and the
// last, smaller one at the end. An error from each or emit stops it and
// is returned as it is.
func inBatches(each func(unit func(Unit) error) error, emit func([]Unit) error) error {
	var batch []Unit
	size := 0
	err := each(func(u Unit) error {
		n := len(u.Bundle) + len(u.Raw)
		if len(batch) > 0 && (len(batch) == CSVBatchUnits || size+n > CSVBatchBytes) {
			if err := emit(batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		batch, size = append(batch, u), size+n
		return nil
	})
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}

// convert reads the file and hands each unit to unit as it is built.
func (c CSV) convert(ctx context.Context, in adapters.Raw, unit func(Unit) error) error {
	name := in.Meta[metaEntry]
	if name == "" {
		name = in.Name
	}
	ms := c.Folders[in.Meta[folder.MetaFolder]]
	i := csvfhir.Match(ms, name)
	if i < 0 {
		return fmt.Errorf("no csv mapping of folder %q matches the name (mappings match %s)", in.Meta[folder.MetaFolder], matchList(ms))
	}
	m := &ms[i]
	max := c.MaxBytes
	if max <= 0 {
		max = DefaultCSVMaxBytes
	}
	r, closeFn, err := open(in)
	if err != nil {
		return err
	}
	defer closeFn()
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > max {
		return fmt.Errorf("the file is larger than %d bytes, the most read as one CSV: export it in several files", max)
	}
	// A bundle is a duplicate only of the same file's (a retry, a
	// rescan): a later export's, the same as one sent before, may undo
	// what an export between them changed at the exchange (a drug on
	// hold one night and active again the next). A file in an archive
	// is the archive's. One the folder took again, another having come
	// under its name since (the whole export as two nights before), is
	// not the same file's retry: it is told apart by that other file.
	file := sha256.New()
	file.Write([]byte(in.Meta[metaArchiveSHA256] + "\x00"))
	file.Write(body)
	if after := in.Meta[folder.MetaRetaken]; after != "" {
		file.Write([]byte("\x00retaken after " + after))
	}
	fileSum := file.Sum(nil)
	err = csvfhir.ConvertEach(body, m, c.Options, func(p csvfhir.Part) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := fhir.Marshal(p.Bundle)
		if err != nil {
			return fmt.Errorf("encode bundle: %w", err)
		}
		// Named by the patient's place in the file, not by the patient.
		un := "patient " + strconv.Itoa(p.Patient) + " (line " + strconv.Itoa(p.Line) + ")"
		if p.Of > 1 {
			un += fmt.Sprintf(" part %d of %d", p.Index, p.Of)
		}
		return unit(Unit{Name: un, Bundle: b, Key: p.PatientKey, Patient: p.PatientIdentifier, Dedup: dedupKey(fileSum, b),
			Attrs:  map[string]string{"format": "csv", "type": m.Resource, "rows": strconv.Itoa(p.Rows)},
			Labels: p.Labels, LabelsKnown: true, Retied: p.Retied})
	})
	var se *storeError
	if err != nil && !errors.As(err, &se) {
		return fmt.Errorf("csv mapping %q: %w", m.Match, err)
	}
	return err
}

// dedupKey is the duplicate filter's key of a bundle from the file whose
// SHA-256 is file.
func dedupKey(file, bundle []byte) (k [32]byte) {
	h := sha256.New()
	h.Write(file)
	h.Write(bundle)
	h.Sum(k[:0])
	return k
}

func matchList(ms []csvfhir.Mapping) string {
	if len(ms) == 0 {
		return "nothing: the folder has none"
	}
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += ", "
		}
		s += strconv.Quote(m.Match)
	}
	return s
}
