package ehrdrop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/queue"
)

// A FHIR Bulk Data export ($export) is a set of NDJSON files, each of
// resources of one type ("Each file SHALL contain resources of only one
// type, but a server MAY create more than one file for each resource
// type returned", Bulk Data Access IG, Response - Complete Status), an
// error file of OperationOutcome lines, and the manifest that lists them
// (transactionTime, request, output[{type, url}], error[...]). The IG
// names no file: a file's url is the server's to choose, and the client
// saves it under a name of its own; its own example is
// patient_file_1.ndjson. Synthea writes Patient.ndjson, the SMART
// bulk-data client 1.Patient.ndjson, others Patient_1.ndjson or
// Patient.000.ndjson.

// BulkFileType returns the resource type a Bulk Data export's file name
// gives, and whether the name is one: it ends in .ndjson, and of the
// words of the rest (split at '.', '_', '-' and spaces), exactly one is an
// R4 resource type, letter case ignored. So Patient.ndjson,
// patient_file_1.ndjson, 1.Patient.ndjson and Observation.000.ndjson are;
// labs.ndjson and patient-observation.ndjson (two types) are not.
func BulkFileType(name string) (string, bool) {
	ext := filepath.Ext(name)
	if !strings.EqualFold(ext, ".ndjson") {
		return "", false
	}
	words := strings.FieldsFunc(strings.TrimSuffix(name, ext), func(r rune) bool {
		return r == '.' || r == '_' || r == '-' || r == ' '
	})
	typ := ""
	for _, w := range words {
		if t, ok := fhir.ResourceTypeFold(w); ok {
			if typ != "" {
				return "", false
			}
			typ = t
		}
	}
	return typ, typ != ""
}

// bulkLayers is the order a Bulk Data export's files are taken in when
// several wait in the folder together: a resource's file after the files
// of what it refers to, since an exchange that enforces referential
// integrity (HAPI FHIR does by default) refuses a reference to a resource
// it does not have yet, and each line is keyed to its patient, so a
// patient's resources reach the exchange in the order queued. The
// directory resources first (a Patient may name its managingOrganization
// and generalPractitioner; a Location its Organization; a
// PractitionerRole its Practitioner, Organization and Location), then
// Patient, then what belongs to the patient before any encounter, then
// Encounter, then every other type, then those that refer to those
// (a DiagnosticReport to its Observations, a CarePlan to Conditions and
// Goals, an administration to its MedicationRequest, a Claim to the
// services it bills), the adjudications of Claims, and Provenance, which
// may target anything. (The pass-through also queues the directory
// resources ahead of what refers to them: pipeline.DirectoryKey.)
var bulkLayers = append(slices.Clone(fhir.DirectoryTypes), [][]string{
	{"Patient"},
	{"RelatedPerson", "Person", "Group", "Device", "Coverage", "Account", "EpisodeOfCare"},
	{"Encounter"},
	nil, // every other type
	{"DiagnosticReport", "CarePlan", "MedicationAdministration", "MedicationDispense", "Claim", "Composition"},
	{"ExplanationOfBenefit", "ClaimResponse"},
	{"Provenance"},
}...)

// otherLayer is the rank of a type bulkLayers does not name.
const otherLayer = 7

var BulkRanks = func() map[string]int {
	m := map[string]int{}
	for i, layer := range bulkLayers {
		for _, t := range layer {
			m[t] = i + 1
		}
	}
	return m
}()

// BulkRank is an EHR drop's folder.WithRank (and ferry backfill's
// order): a Bulk Data export's file ranks by its type (bulkLayers); any
// other file, and a file of a type no server stores (the error file,
// which is not sent), is 0 and keeps its place in time order.
func BulkRank(name string) int {
	t, ok := BulkFileType(name)
	if !ok || !fhir.StoredResourceType(t) || t == "Bundle" {
		return 0
	}
	if r, ok := BulkRanks[t]; ok {
		return r
	}
	return otherLayer
}

// errorReport returns a permanent error when in, NDJSON whose first
// line is an OperationOutcome, holds nothing but OperationOutcomes: a
// Bulk Data export's error file (the manifest's "error" list), the
// exporting server's account of what it could not export. It is no data
// to send (the exchange would refuse each line); in failed/ with the
// reason the operator sees that the export may be incomplete. A file
// that holds other resources too goes on: the pipeline refuses its
// OperationOutcome lines one by one and sends the rest.
//
// The IG puts the server's "Error, warning, and information messages"
// there alike: a file whose every issue is of severity information ("The
// issue has no relation to the degree of success of the action", FHIR
// IssueSeverity) reports no failure, and notices, its count of lines, is
// returned instead, for the caller to archive it unsent.
func errorReport(in adapters.Raw, first string) (notices int, err error) {
	if first != "OperationOutcome" {
		return 0, nil
	}
	var r io.Reader
	if in.Body != nil || in.Open == nil {
		r = bytes.NewReader(in.Body)
	} else {
		rc, err := in.Open()
		if err != nil {
			return 0, fmt.Errorf("ehrdrop: open %q: %w", in.Name, err)
		}
		defer rc.Close()
		r = rc
	}
	// UTF-16 by its byte-order mark, as Sniff reads it.
	br := bufio.NewReader(r)
	switch bom, _ := br.Peek(2); {
	case bytes.Equal(bom, []byte{0xFF, 0xFE}):
		r = transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder())
	case bytes.Equal(bom, []byte{0xFE, 0xFF}):
		r = transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder())
	default:
		r = br
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n := 0
	failing := false // an issue that is not information
	for sc.Scan() {
		b := bytes.TrimSpace(bytes.TrimPrefix(sc.Bytes(), []byte("\xEF\xBB\xBF")))
		if len(b) == 0 {
			continue
		}
		var h struct {
			ResourceType string
			Issue        []struct{ Severity string }
		}
		if json.Unmarshal(b, &h) != nil || h.ResourceType != "OperationOutcome" {
			return 0, nil
		}
		n++
		failing = failing || len(h.Issue) == 0
		for _, is := range h.Issue {
			failing = failing || is.Severity != "information"
		}
	}
	if sc.Err() != nil {
		return 0, nil // the pipeline reads it and says what is wrong
	}
	if !failing {
		return n, nil
	}
	return 0, queue.Permanent(fmt.Errorf("ehrdrop: %s: a FHIR Bulk Data export's error file (%d OperationOutcome line(s): the exporting server's report of what it could not export), not resources to send; the export may be incomplete: review the issues, then delete the file", in.Name, n))
}
