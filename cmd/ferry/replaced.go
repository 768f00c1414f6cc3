package main

import (
	"log/slog"

	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/replaced"
)

// openReplaced opens the registry of replaced documents in the data
// directory (replaced.log), which every process that ingests (the
// gateway, backfill, quarantine replay) shares under the queue's lock:
// a replacement the gateway accepted makes the version a later backfill
// brings superseded.
func openReplaced(cfg *config.Config, log *slog.Logger) (*replaced.Registry, error) {
	return replaced.Open(cfg.Path(replaced.FileName), replaced.Options{Logger: log})
}

// useReplaced gives reg to the converters that write document versions
// (C-CDA, HL7 v2 MDM, XDM documents), which then write a version it knows as replaced
// superseded, and returns convs. The pipeline built on them records the
// replacements it stores in the same registry (Pipeline.SetReplaced).
// `ferry convert` has no registry: it converts each file on its own.
func useReplaced(convs map[string]pipeline.Converter, reg *replaced.Registry) map[string]pipeline.Converter {
	for f, c := range convs {
		switch c := c.(type) {
		case pipeline.CCDA:
			c.Options.Replaced = reg.Replaced
			convs[f] = c
		case pipeline.HL7:
			// hl7v2 and hl7v2-batch share one *v2fhir.Converter.
			c.Conv.Replaced = reg.Replaced
		case pipeline.XDMDocument:
			if c.Conv != nil {
				c.Conv.Replaced = reg.Replaced
			}
		}
	}
	return convs
}
