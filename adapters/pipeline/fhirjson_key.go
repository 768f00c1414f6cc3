package pipeline

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// patientRefSystem is the PatientKey system for a patient known by its
// literal reference at the exchange, "Patient/<id>", rather than by an
// identifier.
const patientRefSystem = "urn:ferry:patient-reference"

// The pass-through's patient keys (Unit.Key), which keep one patient's
// units in order (ARCHITECTURE.md invariant 4). A key only orders units
// that get the same one, so it comes from the name the units themselves
// use for the patient at the exchange:
//
//   - a Patient with an id is keyed by its reference "Patient/<id>",
//     because that is how the other lines of a bulk export (NDJSON) refer
//     to it: Patient.ndjson holds {"id":"123",...}, Observation.ndjson
//     {"subject":{"reference":"Patient/123"},...};
//   - a Patient without an id is keyed by its first identifier with a
//     system and a value (the one its ifNoneExist uses), which is also
//     the key the HL7 v2, C-CDA and fax paths give that MRN;
//   - another resource is keyed by its patient, subject or beneficiary
//     reference, when that names a Patient: by "Patient/<id>" for a
//     literal reference (relative or absolute, any _history dropped), by
//     the identifier for a conditional one ("Patient?identifier=s|v") or
//     a logical one (only Reference.identifier); a Provenance, which has
//     none of these, by the first of its targets that names a Patient.
//     A literal reference wins
//     over an identifier given with it, because it is what the Patient
//     line with that id is keyed by;
//   - a transaction or batch Bundle is keyed by its first Patient entry,
//     else by the first patient reference of its entries. A bundle about
//     several patients is ordered with the first one only;
//   - anything else (no patient link, a Group subject, a urn:uuid
//     reference outside a bundle) gets no key and no ordering.
//
// So within the pass-through, an export's Patient, Observations and later
// corrections keep their order. A Patient sent with an id and an HL7 v2
// message about the same MRN get different keys and are not ordered
// against each other: nothing in the FHIR line ties the id to the MRN the
// v2 path keys by.

// resourcePatientKey is the key of a resource sent on its own.
func resourcePatientKey(h *fhirHead) string {
	if h.ResourceType == "Patient" {
		if h.ID != "" {
			return fhir.PatientKey(patientRefSystem, "Patient/"+h.ID)
		}
		if id, ok := firstIdentifier(h.Identifier); ok {
			return fhir.PatientKey(id.System, id.Value)
		}
		return ""
	}
	for _, raw := range [...]json.RawMessage{h.Patient, h.Subject, h.Beneficiary} {
		if k := referencesKey(raw); k != "" {
			return k
		}
	}
	if h.ResourceType == "Provenance" {
		// No patient element: its targets name the patient (Synthea's
		// target the Patient and the Encounter), and it must reach the
		// exchange behind what it is the provenance of.
		return referencesKey(h.Target)
	}
	return ""
}

// bundlePatientKey is the key of a transaction or batch Bundle sent as is.
func bundlePatientKey(entries []fhirEntry) string {
	for i := range entries {
		if e := &entries[i]; e.Resource != nil && e.Resource.ResourceType == "Patient" {
			if k := patientEntryKey(e); k != "" {
				return k
			}
		}
	}
	for i := range entries {
		if e := &entries[i]; e.Resource != nil && e.Resource.ResourceType != "Patient" {
			if k := resourcePatientKey(e.Resource); k != "" {
				return k
			}
		}
	}
	return ""
}

// patientEntryKey keys a Patient entry by the record its request writes:
// PUT Patient/<id>, a conditional update's or create's identifier search,
// else as a Patient sent alone (a POSTed resource's id is not kept by
// the exchange, so it is not used).
func patientEntryKey(e *fhirEntry) string {
	if k := urlPatientKey(e.Request.URL); k != "" {
		return k
	}
	if q := e.Request.IfNoneExist; q != "" {
		if k := queryPatientKey(q[strings.IndexByte(q, '?')+1:]); k != "" {
			return k
		}
	}
	h := *e.Resource
	if strings.EqualFold(e.Request.Method, "POST") {
		h.ID = ""
	}
	return resourcePatientKey(&h)
}

// referencesKey is the key of the first Reference in raw (one Reference,
// or a list of them) that names a Patient.
func referencesKey(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	type reference struct {
		Reference  string          `json:"reference"`
		Type       string          `json:"type"`
		Identifier identifierToken `json:"identifier"`
	}
	var refs []reference
	if raw[0] == '{' {
		refs = make([]reference, 1)
		if json.Unmarshal(raw, &refs[0]) != nil {
			return ""
		}
	} else if json.Unmarshal(raw, &refs) != nil {
		return ""
	}
	for _, r := range refs {
		if r.Type != "" && r.Type != "Patient" {
			continue // a Group, Device or Location subject
		}
		if r.Reference != "" {
			if k := urlPatientKey(r.Reference); k != "" {
				return k
			}
			if t, _, ok := referenceTarget(r.Reference); ok && t != "Patient" {
				continue
			}
		}
		if r.Identifier.System != "" && r.Identifier.Value != "" {
			return fhir.PatientKey(r.Identifier.System, r.Identifier.Value)
		}
	}
	return ""
}

// urlPatientKey is the key of a reference or request URL naming a
// Patient: "Patient/<id>" (relative or absolute, with or without
// /_history/<version>) or "Patient?identifier=<system>|<value>".
func urlPatientKey(ref string) string {
	if q, ok := strings.CutPrefix(ref, "Patient?"); ok {
		return queryPatientKey(q)
	}
	if t, id, ok := referenceTarget(ref); ok && t == "Patient" {
		return fhir.PatientKey(patientRefSystem, "Patient/"+id)
	}
	return ""
}

// referenceTarget splits a literal reference, relative or absolute, into
// its type and id. urn:uuid: and #contained references have none.
func referenceTarget(ref string) (typ, id string, ok bool) {
	if strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#") || strings.ContainsAny(ref, "?") {
		return "", "", false
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" {
		return "", "", false
	}
	return typ, id, true
}

// queryPatientKey is the key of an identifier search "identifier=<s>|<v>"
// (query-escaped, with FHIR search's backslash escapes), the form
// fhir.IdentifierQuery writes.
func queryPatientKey(query string) string {
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	system, value, ok := splitToken(q.Get("identifier"))
	if !ok || system == "" || value == "" {
		return ""
	}
	return fhir.PatientKey(system, value)
}

// splitToken splits a token search value at its first unescaped '|' and
// removes the backslash escapes (fhir.AppendTokenQuery's inverse). A list
// of values (an unescaped ',') names no single patient.
func splitToken(s string) (system, value string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ',':
			return "", "", false
		case c == '|' && !ok:
			system, ok = b.String(), true
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return system, b.String(), ok
}
