package fhir_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/ccdafhir"
	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/v2fhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// scannedRef is how literalUnits read references before the walker:
// every "reference":"..." of the resource's JSON, up to the next quote.
var scannedRef = regexp.MustCompile(`"reference":"([^"]*)"`)

// asScanned is a reference as the scan read it: JSON-escaped, up to its
// first quote (an escaped one).
func asScanned(r string) string {
	js := fhir.AppendJSONString(nil, r)
	js = js[1 : len(js)-1]
	if i := bytes.IndexByte(js, '"'); i >= 0 {
		js = js[:i]
	}
	return string(js)
}

// checkWalkMatchesScan fails when, for a resource of b, the references
// the walker finds differ from those read off its JSON (in order, each
// as the scan reads it). It returns how many references it compared.
func checkWalkMatchesScan(t *testing.T, what string, b *fhir.Bundle) int {
	t.Helper()
	n := 0
	for i, e := range b.Entry {
		js, err := fhir.Marshal(e.Resource)
		if err != nil {
			t.Fatalf("%s: entry %d: %v", what, i, err)
		}
		var want []string
		for _, m := range scannedRef.FindAllSubmatch(js, -1) {
			want = append(want, string(m[1]))
		}
		got, err := fhir.WalkRefs(e.Resource)
		if err != nil {
			t.Fatalf("%s: entry %d: walk: %v", what, i, err)
		}
		for k, r := range got {
			got[k] = asScanned(r)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: entry %d (%T): walker found %q, the JSON holds %q", what, i, e.Resource, got, want)
		}
		n += len(want)
	}
	return n
}

// TestRefWalkMatchesJSONScan: for every resource of every bundle the
// converters make of their golden inputs (HL7 v2 in each write mode, and
// its parts, C-CDA in each mode, CSV, fax in each profile that makes a bundle) and of the
// shared corpus's HL7 v2 messages and C-CDA documents, the reference
// walker literalUnits uses finds the references that encoding the
// resource and scanning its JSON for "reference":"..." finds, as it did
// before.
func TestRefWalkMatchesJSONScan(t *testing.T) {
	const golden = "../../testdata/convert"
	const corpus = "../../../shared/corpus"
	refs, bundles := 0, 0
	check := func(what string, b *fhir.Bundle) {
		bundles++
		refs += checkWalkMatchesScan(t, what, b)
	}
	v2 := func(what string, raw []byte) {
		msg, err := hl7v2.Parse(raw)
		if err != nil {
			t.Logf("%s: %v", what, err)
			return
		}
		for _, mode := range []v2fhir.Mode{v2fhir.ModeID, v2fhir.ModeConditional, v2fhir.ModePatientConditional} {
			c := &v2fhir.Converter{Mode: mode, Systems: map[string]string{"HOSP": "urn:oid:2.16.840.1.113883.3.999.1"}}
			whole, _, err := c.Convert(msg, raw)
			if err != nil {
				continue // refused messages make no bundle
			}
			check(what+" "+mode.String(), whole)
			// The parts, small enough that every message is cut: in
			// conditional mode their seeds are json.RawMessage (the
			// walker's fallback).
			c.MaxEntries = 3
			parts, err := c.Parts(whole)
			if err != nil {
				continue
			}
			for _, p := range parts {
				check(what+" "+mode.String()+" part", p)
			}
		}
	}
	ccda := func(what string, raw []byte) {
		for _, mode := range []ccdafhir.Mode{ccdafhir.ModePutID, ccdafhir.ModeConditional, ccdafhir.ModePatientConditional} {
			b, _, err := ccdafhir.ConvertBytes(raw, ccdafhir.Options{Mode: mode})
			if err != nil {
				t.Logf("%s: %v", what, err)
				continue
			}
			check(what, b)
		}
	}

	hl7s, _ := filepath.Glob(golden + "/*/input.hl7")
	xmls, _ := filepath.Glob(golden + "/*/input.xml")
	csvs, _ := filepath.Glob(golden + "/*/input.csv")
	if len(hl7s) == 0 || len(xmls) == 0 || len(csvs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range hl7s {
		raw, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		v2(in, raw)
	}
	for _, in := range xmls {
		raw, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		ccda(in, raw)
	}
	for _, in := range csvs {
		raw, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(filepath.Dir(in), "mapping.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var m csvfhir.Mapping
		if err := yaml.Unmarshal(y, &m); err != nil {
			t.Fatal(err)
		}
		parts, err := csvfhir.Convert(raw, &m, csvfhir.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			check(in, p.Bundle)
		}
	}
	tifs, _ := filepath.Glob("../../testdata/fax/*.tif")
	if len(tifs) == 0 {
		t.Fatal("no fax inputs")
	}
	received := time.Date(2026, 11, 20, 19, 3, 7, 0, time.UTC)
	fax := faxfhir.Fax{Received: received, CallerNumber: "5550100", CSID: "+1 555 0100", Pages: 1, DocType: "Referral", MRN: "MRN-0042", DOB: "19700101", PatientName: "TEST PATIENT"}
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileMHDComprehensive, faxfhir.ProfileUSCore} {
		c, err := faxfhir.New(faxfhir.Config{
			Profile: profile, SourceID: "1.3.6.1.4.1.21367.2026.1", PatientSystem: "urn:oid:2.16.840.1.113883.3.999.1",
			Author: faxfhir.OrgRef{Display: "Main Street Clinic", Identifier: "urn:oid:2.16.840.1.113883.3.999|clinic"}, Custodian: faxfhir.OrgRef{Display: "Main Street Clinic"},
			FacilityType: "http://snomed.info/sct|35971002|Ambulatory care site", PracticeSetting: "http://snomed.info/sct|394802001|General medicine",
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range tifs {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.Convert(context.Background(), adapters.Raw{Source: "fax/test", Format: "fax", Name: filepath.Base(in), Body: body, Received: received, Meta: fax.Meta()})
			if err != nil {
				t.Fatalf("%s %s: %v", profile, in, err)
			}
			check(profile+" "+in, &b)
		}
	}
	golden1 := bundles

	if _, err := os.Stat(corpus); err != nil {
		t.Logf("no shared corpus (%v): golden inputs only", err)
	} else {
		msgs, _ := filepath.Glob(corpus + "/hl7v2/*.hl7")
		for _, in := range msgs {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			// A file may hold a batch: each message on its own.
			for _, m := range splitMessages(raw) {
				v2(in, m)
			}
		}
		docs, _ := filepath.Glob(corpus + "/ccda/*.xml")
		for _, in := range docs {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			ccda(in, raw)
		}
		if len(msgs) == 0 {
			t.Error("shared corpus holds no HL7 v2 messages")
		}
	}
	if refs == 0 {
		t.Fatal("no references compared")
	}
	t.Logf("%d bundles (%d of golden inputs), %d references compared", bundles, golden1, refs)
}

// splitMessages cuts raw at each MSH segment that starts a line.
func splitMessages(raw []byte) [][]byte {
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\r"))
	raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r"))
	var out [][]byte
	for _, seg := range strings.SplitAfter(string(raw), "\r") {
		if strings.HasPrefix(seg, "MSH") || len(out) == 0 {
			out = append(out, nil)
		}
		if strings.HasPrefix(seg, "FHS") || strings.HasPrefix(seg, "BHS") || strings.HasPrefix(seg, "BTS") || strings.HasPrefix(seg, "FTS") {
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], seg...)
	}
	return out
}
