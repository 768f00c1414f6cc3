package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/xdmfhir"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/durable"
)

// cmdConvert converts files offline with the same converters the gateway
// uses and writes one Bundle JSON per message or document: into --out DIR
// as <file>.<n>.json, or to stdout as one JSON document per line. It exits
// non-zero when anything could not be converted, naming file, message and
// segment. Identifier systems it has to mint (an assigning authority with
// no OID and no identifiers.systems entry) use the installation's site base
// when the configuration's data_dir holds a site id (the gateway makes one
// on first start), and otherwise the fixed urn:ferry base, shared by every
// installation: such output is for looking at, not for the exchange.
func cmdConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", stderr)
	out := fs.String("out", "", "write one <file>.<n>.json per Bundle into this folder (default: stdout); an input whose name another one has is written <file>-2.<n>.json")
	cfgPath := fs.String("config", "", "configuration file for identifier systems (optional); minted systems use the site id in its data_dir, else the fixed, shared base urn:ferry")
	format := fs.String("format", "", "input format: hl7v2, hl7v2-batch, ccda, fhir-json, fhir-ndjson, csv, fax (a TIFF or PDF, or an e-mailed fax .eml) (default: detected; a CSV by the csv mappings of --config)")
	files, err := splitArgs(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *out != "" {
		// The bundles hold PHI: owner only.
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
		}
	}
	convs := converters(cfg)
	// A document the EHR drop took out of an XDM package comes with the
	// package's XDS metadata beside it, which no file given here has.
	delete(convs, xdmfhir.Format)
	if _, ok := convs[*format]; *format != "" && !ok {
		names := make([]string, 0, len(convs))
		for n := range convs {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(stderr, "ferry convert: --format %q is not a format ferry converts; use one of %s\n", *format, strings.Join(names, ", "))
		return errUsage
	}
	// The names in --out given to the inputs so far: two inputs of one
	// name from different folders must not overwrite each other's
	// bundles. Compared without case, as Windows and macOS do.
	stems := map[string]bool{}
	failed := 0
	written := 0
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed++
			continue
		}
		// A CSV is read with the csv mapping of the configuration's EHR
		// drop that matches its name, as the gateway would read it there:
		// the gateway tries the mappings before it sniffs the content, so
		// a CSV whose first line looks like HL7 or XML is still a CSV.
		fmtName := *format
		var meta map[string]string
		if fmtName == "" || fmtName == "csv" {
			if name := csvFolder(cfg, f); name != "" {
				fmtName, meta = "csv", map[string]string{folder.MetaFolder: name}
			}
		}
		in := adapters.Raw{Source: "convert", Format: fmtName, Name: f, Body: body, Received: time.Now(), Meta: meta, Size: int64(len(body))}
		ins := []adapters.Raw{in}
		if (fmtName == "" || fmtName == fax.Format) && strings.EqualFold(filepath.Ext(f), ".eml") {
			// An e-mailed fax: each PDF or TIFF attachment is a fax, as
			// a fax inbox reads it (--format fax names it too).
			if ins, err = fax.Emailed(in, time.Local); err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", f, err)
				failed++
				continue
			}
			fmtName = fax.Format
		}
		if fmtName == "" {
			fmtName = pipeline.Detect(f, body)
		}
		conv, ok := convs[fmtName]
		if fmtName == "csv" && meta == nil {
			// --format csv: a CSV is read only by a mapping, which
			// says what its columns are.
			fmt.Fprintf(stderr, "%s: no csv mapping of an ehr folder in --config matches its name (sources.folders[].csv[].match), and a CSV is read only by the mapping that says what its columns are\n", f)
			failed++
			continue
		}
		if !ok {
			fmt.Fprintf(stderr, "%s: cannot tell the format (not HL7 v2, C-CDA, FHIR JSON, a fax image or e-mail, and no csv mapping of an ehr folder in --config matches its name); use --format\n", f)
			failed++
			continue
		}
		stem := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		if *out != "" {
			base := stem
			for n := 2; stems[strings.ToLower(stem)]; n++ {
				stem = fmt.Sprintf("%s-%d", base, n)
			}
			stems[strings.ToLower(stem)] = true
			if stem != base {
				fmt.Fprintf(stderr, "%s: written as %s.<n>.json (an earlier input has the name %s)\n", f, stem, base)
			}
		}
		var units []pipeline.Unit
		for _, in := range ins {
			in.Format = fmtName
			us, err := conv.Convert(ctx, in)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", in.Name, err)
				failed++
				continue
			}
			units = append(units, us...)
		}
		for i, u := range units {
			if u.Err != nil {
				fmt.Fprintf(stderr, "%s: %s: %v\n", f, u.Name, u.Err)
				failed++
				continue
			}
			if err := writeBundle(stdout, *out, stem, i+1, u.Bundle); err != nil {
				return err
			}
			written++
			if len(u.Unconverted) > 0 {
				// What went only inside the attached document, by codes
				// and template ids (no PHI), as the gateway logs it at
				// DEBUG.
				fmt.Fprintf(stderr, "%s: not converted, sent only in the attached document: %s\n", f, pipeline.DescribeUnconverted(u.Unconverted))
			}
		}
	}
	if *out != "" {
		fmt.Fprintf(stderr, "%d bundle(s) written to %s, %d failure(s)\n", written, *out, failed)
	}
	if failed > 0 {
		return exitError{code: 1, err: fmt.Errorf("%d input(s) could not be converted", failed)}
	}
	return nil
}

// csvFolder names the first ehr folder of cfg with a csv mapping that
// matches the file's name, or "".
func csvFolder(cfg *config.Config, file string) string {
	for _, f := range cfg.Sources.Folders {
		if f.Kind == "ehr" && csvfhir.Match(f.CSV, filepath.Base(file)) >= 0 {
			return f.Name
		}
	}
	return ""
}

// writeBundle writes the nth bundle of an input to stdout, or into out as
// <stem>.<n>.json.
func writeBundle(stdout io.Writer, out, stem string, n int, bundle []byte) error {
	if out == "" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, bundle); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bundle, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	// Owner only, also when an earlier run left a wider file of that name.
	return durable.WriteFile(filepath.Join(out, fmt.Sprintf("%s.%d.json", stem, n)), pretty.Bytes(), 0o600)
}
