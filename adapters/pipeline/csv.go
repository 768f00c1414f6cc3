package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// metaEntry is ehrdrop.MetaEntry, a ZIP entry's path in its archive,
// whose base name the mappings match (ehrdrop's tests import this
// package, so it cannot import ehrdrop).
const metaEntry = "entry"

// DefaultCSVMaxBytes bounds a CSV file: it is read whole, and all its
// bundles are built before any is queued (a file goes all or nothing),
// so memory grows with it. A larger export is split into several files.
const DefaultCSVMaxBytes = 128 << 20

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

var _ Converter = CSV{}

// Convert reads the whole file and returns one unit per transaction.
func (c CSV) Convert(_ context.Context, in adapters.Raw) ([]Unit, error) {
	name := in.Meta[metaEntry]
	if name == "" {
		name = in.Name
	}
	ms := c.Folders[in.Meta[folder.MetaFolder]]
	i := csvfhir.Match(ms, name)
	if i < 0 {
		return nil, fmt.Errorf("no csv mapping of folder %q matches the name (mappings match %s)", in.Meta[folder.MetaFolder], matchList(ms))
	}
	m := &ms[i]
	max := c.MaxBytes
	if max <= 0 {
		max = DefaultCSVMaxBytes
	}
	r, closeFn, err := open(in)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("the file is larger than %d bytes, the most read as one CSV: export it in several files", max)
	}
	parts, err := csvfhir.Convert(body, m, c.Options)
	if err != nil {
		return nil, fmt.Errorf("csv mapping %q: %w", m.Match, err)
	}
	units := make([]Unit, 0, len(parts))
	for _, p := range parts {
		b, err := json.Marshal(p.Bundle)
		if err != nil {
			return nil, fmt.Errorf("encode bundle: %w", err)
		}
		// Named by the patient's place in the file, not by the patient.
		un := "patient " + strconv.Itoa(p.Patient) + " (line " + strconv.Itoa(p.Line) + ")"
		if p.Of > 1 {
			un += fmt.Sprintf(" part %d of %d", p.Index, p.Of)
		}
		units = append(units, Unit{Name: un, Bundle: b, Key: p.PatientKey, Dedup: sha256.Sum256(b),
			Attrs:  map[string]string{"format": "csv", "type": m.Resource, "rows": strconv.Itoa(p.Rows)},
			Labels: p.Labels, LabelsKnown: true})
	}
	return units, nil
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
