// Package xdmfhir files a document of an XDM package (IHE ITI-32, what
// Direct messaging delivers) that ferry does not convert into clinical
// resources, typically a PDF referral or a scanned TIFF, as a FHIR
// DocumentReference with its Binary. The DocumentReference is made from
// the XDS DocumentEntry metadata the package's METADATA.XML gives for the
// document, mapped as IHE MHD maps a DocumentEntry to a DocumentReference
// (patientId to subject, uniqueId to masterIdentifier, typeCode to type,
// classCode to category, and so on), and the bundle is the one the fax
// converter builds (faxfhir.Converter.WriteDocument) under the same
// settings: an MHD ITI-65 Provide Document Bundle or a US Core
// transaction.
//
// The EHR drop source (adapters/ehrdrop) reads METADATA.XML into an Entry
// and hands the document on with the Entry in Raw.Meta (Entry.Meta); the
// Converter reads it back (EntryFromMeta).
package xdmfhir

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// Format is the Raw.Format of an XDM document handed on for filing.
const Format = "xdm-document"

// Raw.Meta keys of an Entry. The patient's identifiers, name and birth
// date, and the document's title and comments (free text that may name the
// patient) are under "phi.", as the fax path keeps its patient facts:
// never logged, and sealed with the quarantine under encryption.
const (
	MetaEntry = "xdm.entry"     // JSON of the Entry without PHI
	MetaPHI   = "phi.xdm.entry" // JSON of the Entry's PHI
)

// Code is an XDS coded value: a Classification's nodeRepresentation, its
// codingScheme slot (an OID, or a name in older packages) and its Name.
type Code struct {
	Code    string `json:"code"`
	Scheme  string `json:"scheme,omitempty"`
	Display string `json:"display,omitempty"`
}

// Author is one XDSDocumentEntry.author Classification: its
// authorInstitution values (XON) and authorPerson (XCN).
type Author struct {
	Institutions []string `json:"institutions,omitempty"`
	Person       string   `json:"person,omitempty"`
}

// Relation is an ebRIM Association of METADATA.XML whose sourceObject is
// the document: its associationType (urn:ihe:iti:2007:AssociationType:RPLC
// and so on) and the DocumentEntry it targets. The target is usually an
// entry of the sender's registry that the package does not hold, named by
// its entryUUID alone; when the package gives its uniqueId too (the target
// is an ExtrinsicObject of the package, or an ExternalIdentifier of the
// package names it), that is kept, since ferry files a document under its
// uniqueId.
type Relation struct {
	Type           string `json:"type"`
	TargetUUID     string `json:"targetEntryUUID,omitempty"`
	TargetUniqueID string `json:"targetUniqueId,omitempty"`
}

// relationCodes maps the XDS association types between documents to
// DocumentReference.relatesTo.code as IHE MHD's ConceptMap
// AssociationTypeVsRelatesTo does: a transform that replaces (XFRM_RPLC)
// maps to replaces, the more specific change.
var relationCodes = map[string]string{
	"RPLC": "replaces", "XFRM_RPLC": "replaces", "APND": "appends", "XFRM": "transforms", "signs": "signs",
}

// RelationCode returns the relatesTo code of an associationType, given in
// full (urn:ihe:iti:2007:AssociationType:RPLC) or, as older packages
// write it, bare (RPLC); ok is false for an association that relates no
// documents (HasMember) or one ferry does not know.
func RelationCode(assocType string) (code string, ok bool) {
	t := strings.TrimSpace(assocType)
	if rest, found := strings.CutPrefix(t, "urn:ihe:iti:2007:AssociationType:"); found {
		t = rest
	} else if strings.Contains(t, ":") {
		return "", false
	}
	code, ok = relationCodes[t]
	return code, ok
}

// MetaRelated is the Raw.Meta key under which the EHR drop source hands on
// the Relations of an XDM document it passes in another format (a C-CDA,
// converted by its own converter): JSON of []Relation. Relations name
// documents, not patients: no PHI.
const MetaRelated = "xdm.related"

// MetaLabels is the Raw.Meta key under which the EHR drop source hands on
// the confidentialityCodes of an XDM document it passes in another format
// (a C-CDA, an HL7 v2 file, FHIR JSON): JSON of []Code. A Direct sender
// labels the document there (DS4P, the XDM metadata profile), and the
// labels apply whatever the document says of itself. Codes, not PHI.
const MetaLabels = "xdm.labels"

// LabelsMeta is MetaLabels' value for codes; "" for none.
func LabelsMeta(codes []Code) string {
	if len(codes) == 0 {
		return ""
	}
	b, err := json.Marshal(codes)
	if err != nil {
		return ""
	}
	return string(b)
}

// LabelsFromMeta decodes MetaLabels into security labels, written as the
// DocumentReference of an XDM document carries them; nil when m holds
// none.
func LabelsFromMeta(m map[string]string) ([]fhir.Coding, error) {
	s := m[MetaLabels]
	if s == "" {
		return nil, nil
	}
	var codes []Code
	if err := json.Unmarshal([]byte(s), &codes); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaLabels, err)
	}
	return securityCodings(codes), nil
}

// RelatedFromMeta decodes MetaRelated; nil when m holds none.
func RelatedFromMeta(m map[string]string) ([]Relation, error) {
	s := m[MetaRelated]
	if s == "" {
		return nil, nil
	}
	var out []Relation
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("%s: %w", MetaRelated, err)
	}
	return out, nil
}

// CDA returns r as a C-CDA relatedDocument would state it: its typeCode
// (RPLC, APND, XFRM; a transform that replaces is RPLC) and the parent
// document's id as an II, from the target's uniqueId (root^extension)
// when the package gives one, else from its entryUUID. ok is false for an
// association C-CDA has no typeCode for (signs) or a target named by
// neither.
func (r Relation) CDA() (typeCode, root, ext string, ok bool) {
	code, known := RelationCode(r.Type)
	switch {
	case !known:
		return "", "", "", false
	case code == "replaces":
		typeCode = "RPLC"
	case code == "appends":
		typeCode = "APND"
	case code == "transforms":
		typeCode = "XFRM"
	default:
		return "", "", "", false
	}
	if masterIdentifier(r.TargetUniqueID) != nil {
		root, ext, _ = strings.Cut(strings.TrimSpace(r.TargetUniqueID), "^")
		return typeCode, root, ext, true
	}
	if u := strings.ToLower(strings.TrimSpace(r.TargetUUID)); uuidURN.MatchString(u) {
		return typeCode, strings.TrimPrefix(u, "urn:uuid:"), "", true
	}
	return "", "", "", false
}

// Entry is what METADATA.XML says about one document (an ExtrinsicObject),
// as written there: CX, XON, XCN and DTM values are kept in their HL7 v2
// form and mapped by the Converter.
type Entry struct {
	EntryUUID      string `json:"entryUUID,omitempty"` // the ExtrinsicObject's id
	UniqueID       string `json:"uniqueId,omitempty"`
	MimeType       string `json:"mimeType,omitempty"`
	CreationTime   string `json:"creationTime,omitempty"`   // DTM, UTC
	SubmissionTime string `json:"submissionTime,omitempty"` // DTM of the submission set
	LanguageCode   string `json:"languageCode,omitempty"`
	Hash           string `json:"hash,omitempty"` // hex SHA-1
	Size           string `json:"size,omitempty"`
	// SourceID is the submission set's XDSSubmissionSet.sourceId: the OID
	// of the system that sent the package, which becomes the MHD
	// SubmissionSet's ihe-sourceId when it is a valid one.
	SourceID string `json:"sourceId,omitempty"`

	ClassCode       *Code    `json:"classCode,omitempty"`
	TypeCode        *Code    `json:"typeCode,omitempty"`
	FormatCode      *Code    `json:"formatCode,omitempty"`
	FacilityType    *Code    `json:"healthcareFacilityTypeCode,omitempty"`
	PracticeSetting *Code    `json:"practiceSettingCode,omitempty"`
	Confidentiality []Code   `json:"confidentialityCode,omitempty"`
	Authors         []Author `json:"authors,omitempty"`
	// Related are the Associations of METADATA.XML from this document to
	// another that say how they relate (RelationCode): a replacement, an
	// appendix, a transform, a signature.
	Related []Relation `json:"related,omitempty"`

	// PHI: carried under MetaPHI only.
	PatientID        string `json:"-"` // CX
	SourcePatientID  string `json:"-"` // CX
	PatientName      string `json:"-"` // XPN, from sourcePatientInfo PID-5
	PatientBirthDate string `json:"-"` // DTM, from sourcePatientInfo PID-7
	Title            string `json:"-"`
	Comments         string `json:"-"`
	// ServiceStartTime and ServiceStopTime (DTM, UTC) are when the care
	// the document records was given (the patient's visit or stay), and
	// EventCodes (eventCodeList) what it was: the procedure, the
	// condition.
	ServiceStartTime string `json:"-"`
	ServiceStopTime  string `json:"-"`
	EventCodes       []Code `json:"-"`
}

// phi is the JSON form of an Entry's PHI.
type phi struct {
	PatientID        string `json:"patientId,omitempty"`
	SourcePatientID  string `json:"sourcePatientId,omitempty"`
	PatientName      string `json:"patientName,omitempty"`
	PatientBirthDate string `json:"patientBirthDate,omitempty"`
	Title            string `json:"title,omitempty"`
	Comments         string `json:"comments,omitempty"`
	ServiceStartTime string `json:"serviceStartTime,omitempty"`
	ServiceStopTime  string `json:"serviceStopTime,omitempty"`
	EventCodes       []Code `json:"eventCodeList,omitempty"`
}

// Meta encodes e as Raw.Meta entries.
func (e Entry) Meta() map[string]string {
	m := map[string]string{}
	if b, err := json.Marshal(e); err == nil {
		m[MetaEntry] = string(b)
	}
	p := phi{e.PatientID, e.SourcePatientID, e.PatientName, e.PatientBirthDate, e.Title, e.Comments,
		e.ServiceStartTime, e.ServiceStopTime, e.EventCodes}
	// Every field is omitempty: an Entry without PHI writes none.
	if b, err := json.Marshal(p); err == nil && string(b) != "{}" {
		m[MetaPHI] = string(b)
	}
	return m
}

// EntryFromMeta decodes what Meta wrote; ok is false when m holds no
// Entry.
func EntryFromMeta(m map[string]string) (e Entry, ok bool, err error) {
	s, ok := m[MetaEntry]
	if !ok {
		return Entry{}, false, nil
	}
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return Entry{}, true, fmt.Errorf("%s: %w", MetaEntry, err)
	}
	if s := m[MetaPHI]; s != "" {
		var p phi
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			// The error would quote the PHI it failed on.
			return Entry{}, true, fmt.Errorf("%s: not valid JSON", MetaPHI)
		}
		e.PatientID, e.SourcePatientID, e.PatientName, e.PatientBirthDate, e.Title, e.Comments =
			p.PatientID, p.SourcePatientID, p.PatientName, p.PatientBirthDate, p.Title, p.Comments
		e.ServiceStartTime, e.ServiceStopTime, e.EventCodes = p.ServiceStartTime, p.ServiceStopTime, p.EventCodes
	}
	return e, true, nil
}

// StripPHI returns m without the Entry's PHI.
func StripPHI(m map[string]string) map[string]string {
	out := maps.Clone(m)
	delete(out, MetaPHI)
	return out
}

// Verify checks the document's size and SHA-1 digest against the size and
// hash slots, when METADATA.XML gives them. A mismatch means the package
// was damaged or altered after it was made, or METADATA.XML describes
// another document: the document is not the one submitted, and a
// DocumentReference would carry a hash its Binary does not have.
func (e Entry) Verify(size int64, sha1 []byte) error {
	if s := strings.TrimSpace(e.Size); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("METADATA.XML gives size %q, which is not a number", s)
		}
		if n != size {
			return fmt.Errorf("METADATA.XML gives size %d but the document holds %d bytes: the package is damaged or altered", n, size)
		}
	}
	if h := strings.ToLower(strings.TrimSpace(e.Hash)); h != "" {
		if got := hex.EncodeToString(sha1); h != got {
			return fmt.Errorf("METADATA.XML gives SHA-1 hash %s but the document's is %s: the package is damaged or altered", h, got)
		}
	}
	return nil
}
