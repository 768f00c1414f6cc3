package faxfhir

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// Fax is what the fax system knows about one received fax, without looking
// at the image: from HylaFAX TIFF tags and xferfaxlog, a cloud-fax sidecar,
// or the file name. Every field is optional.
type Fax struct {
	Received     time.Time
	CallerNumber string // caller id (more trustworthy than the TSI)
	CallerName   string
	CalledNumber string // the DID dialled: routing key
	CSID         string // the sender's TSI/CSID (sender-set, untrusted)
	SubAddress   string
	Modem        string // receiving device
	CommID       string // fax server's communication id
	Pages        int
	// Partial says the receive ended before the fax was complete (the
	// call dropped): the image holds the pages received, and pages may
	// be missing. PartialReason is the fax system's reason, when it
	// gives one (HylaFAX's "RSPREC error/got DCN"). Not PHI.
	Partial       bool
	PartialReason string
	// DocType is a document kind such as "referral" or "lab" (see DocType).
	DocType string
	// Security are label codes the fax line gives its faxes: v3
	// confidentiality codes (R) and v3-ActCode sensitivity or policy
	// codes (PSY, 42CFRPart2). Not PHI.
	Security []string
	// Patient facts, from file name patterns or sidecars. PHI.
	MRN, DOB, PatientName string
}

// Raw.Meta keys that carry a Fax from the fax Source to the converter. Keys
// under "phi." hold patient data and must never be logged unless LogPHI.
const (
	MetaReceived     = "fax.received" // RFC 3339
	MetaCallerNumber = "fax.caller_number"
	MetaCallerName   = "fax.caller_name"
	MetaCalledNumber = "fax.called_number"
	MetaCSID         = "fax.csid"
	MetaSubAddress   = "fax.subaddress"
	MetaModem        = "fax.modem"
	MetaCommID       = "fax.commid"
	MetaPages        = "fax.pages"
	MetaPartial      = "fax.partial" // "true" when the receive ended early
	MetaPartialWhy   = "fax.partial_reason"
	MetaDocType      = "fax.doctype"
	MetaSecurity     = "fax.security" // comma-separated label codes
	MetaMRN          = "phi.mrn"
	MetaDOB          = "phi.dob"
	MetaPatientName  = "phi.name"
)

// Meta encodes f as Raw.Meta entries (empty fields are left out).
func (f Fax) Meta() map[string]string {
	m := map[string]string{
		MetaCallerNumber: f.CallerNumber, MetaCallerName: f.CallerName, MetaCalledNumber: f.CalledNumber,
		MetaCSID: f.CSID, MetaSubAddress: f.SubAddress, MetaModem: f.Modem, MetaCommID: f.CommID,
		MetaDocType: f.DocType, MetaMRN: f.MRN, MetaDOB: f.DOB, MetaPatientName: f.PatientName,
	}
	if f.Partial {
		m[MetaPartial], m[MetaPartialWhy] = "true", f.PartialReason
	}
	if !f.Received.IsZero() {
		m[MetaReceived] = f.Received.Format(time.RFC3339Nano)
	}
	if f.Pages > 0 {
		m[MetaPages] = strconv.Itoa(f.Pages)
	}
	m[MetaSecurity] = strings.Join(f.Security, ",")
	maps.DeleteFunc(m, func(_, v string) bool { return v == "" })
	return m
}

// FaxFromMeta decodes the entries Meta wrote; unknown keys are ignored.
func FaxFromMeta(m map[string]string) Fax {
	f := Fax{
		CallerNumber: m[MetaCallerNumber], CallerName: m[MetaCallerName], CalledNumber: m[MetaCalledNumber],
		CSID: m[MetaCSID], SubAddress: m[MetaSubAddress], Modem: m[MetaModem], CommID: m[MetaCommID],
		DocType: m[MetaDocType], MRN: m[MetaMRN], DOB: m[MetaDOB], PatientName: m[MetaPatientName],
	}
	if t, err := time.Parse(time.RFC3339Nano, m[MetaReceived]); err == nil {
		f.Received = t
	}
	f.Pages, _ = strconv.Atoi(m[MetaPages])
	if m[MetaPartial] == "true" {
		f.Partial, f.PartialReason = true, m[MetaPartialWhy]
	}
	if s := m[MetaSecurity]; s != "" {
		f.Security = strings.Split(s, ",")
	}
	return f
}

// securityCodings writes a fax's label codes as meta.security codings: a
// v3 confidentiality code under v3-Confidentiality, any other under
// v3-ActCode (the fax inbox's configuration admits only codes ferry knows).
func securityCodings(codes []string) []fhir.Coding {
	var out []fhir.Coding
	for _, c := range codes {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
		case fhir.ConfidentialityRank(c) >= 0:
			out = append(out, fhir.Coding{System: fhir.SystemConfidentiality, Code: c})
		default:
			out = append(out, fhir.Coding{System: fhir.SystemActCode, Code: c})
		}
	}
	return out
}

// StripPHI returns m without the patient entries, for logs.
func StripPHI(m map[string]string) map[string]string {
	out := maps.Clone(m)
	maps.DeleteFunc(out, func(k, _ string) bool { return strings.HasPrefix(k, "phi.") })
	return out
}

// docTypes maps normalised document kinds to LOINC document codes
// (SCALE=Doc, as US Core's DocumentReference.type binding requires).
var docTypes = map[string]fhir.Coding{}

func init() {
	add := func(code, display string, names ...string) {
		for _, n := range names {
			docTypes[n] = fhir.Coding{System: "http://loinc.org", Code: code, Display: display}
		}
	}
	add("57133-1", "Referral note", "referral", "ref", "referralnote")
	add("11488-4", "Consult note", "consult", "consultation", "consultnote")
	add("11502-2", "Laboratory report", "lab", "labs", "labresult", "labresults", "laboratory", "labreport", "results")
	add("18842-5", "Discharge summary", "discharge", "dischargesummary", "dc", "dcsummary")
	add("11506-3", "Progress note", "progress", "progressnote")
	add("34117-2", "History and physical note", "hp", "historyandphysical", "hnp")
	add("18748-4", "Diagnostic imaging study", "imaging", "radiology", "rad")
	add("11526-1", "Pathology study", "pathology", "path")
	add("11504-8", "Surgical operation note", "operative", "opnote", "surgery")
	add("57833-6", "Prescription for medication", "prescription", "rx")
	add("34133-9", "Summary of episode note", "ccd", "summary")
	add("64290-0", "Health insurance card", "insurance", "insurancecard")
	add("59284-0", "Consent", "consent")
}

// UnknownDocType is the US Core escape for an unclassified document: a fax
// gets it until a human classifies it.
var UnknownDocType = fhir.Coding{System: "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", Code: "UNK", Display: "unknown"}

// DocType maps a document kind from a file name or sidecar ("Referral",
// "lab-results", a LOINC code) to a LOINC coding; ok is false for unknown
// kinds, which get UnknownDocType.
func DocType(kind string) (c fhir.Coding, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(kind) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if c, ok := docTypes[b.String()]; ok {
		return c, true
	}
	// A LOINC code given directly.
	for _, c := range docTypes {
		if c.Code == strings.TrimSpace(kind) {
			return c, true
		}
	}
	return UnknownDocType, false
}

// DocTypeNames lists the kinds DocType knows.
func DocTypeNames() []string { return slices.Sorted(maps.Keys(docTypes)) }
