package xdmfhir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/merges"
)

// Converter files XDM documents through the fax converter's bundle
// builder. It is safe for concurrent use.
type Converter struct {
	// Docs builds the bundles; its Config (the gateway's fax section)
	// decides the profile, patient link and Binary method, and the
	// sourceId of a package that gives no valid one of its own and comes
	// from a folder without one (faxfhir.Converter.WithFolderSourceIDs).
	Docs *faxfhir.Converter
	// Systems maps an assigning authority's namespace id (or universal
	// id) to an identifier system, as identifiers.systems does for HL7 v2
	// (CX.4). A patientId whose authority is an ISO OID needs no entry.
	Systems map[string]string
	// Replaced reports whether key, a key an earlier document's
	// Result.Replaces gave, is in the registry of replaced documents
	// (queue/replaced; the gateway passes the durable one, nil knows
	// none). A document a replacement accepted before it names is
	// written superseded, never current: a replaced version that arrives
	// after its replacement (packages delivered out of order, an old
	// package dropped again) found nothing to supersede when the
	// replacement's PATCH went out.
	Replaced func(key string) bool
}

// WriteRaw writes the bundle of a Raw the EHR drop source handed on
// (Format, with the Entry in Meta) to w. The content comes from Raw.Body,
// or Raw.Open for an entry above the source's in-memory limit.
func (c *Converter) WriteRaw(ctx context.Context, w io.Writer, in adapters.Raw) (faxfhir.Result, error) {
	e, ok, err := EntryFromMeta(in.Meta)
	if err == nil && !ok {
		err = fmt.Errorf("no %s in the input's metadata", MetaEntry)
	}
	if err != nil {
		return faxfhir.Result{}, queue.Permanent(fmt.Errorf("xdm document %s: %w", in.Name, err))
	}
	d := c.Document(e, in.Received)
	if err := c.registry(&d, e); err != nil {
		return faxfhir.Result{}, fmt.Errorf("xdm document %s: %w", in.Name, err)
	}
	if d.SourceID == "" {
		// The package gave no valid sourceId: the folder's, else the
		// fax section's (the builder's default).
		d.SourceID = c.Docs.FolderSourceID(in.Meta[folder.MetaFolder])
	}
	d.Name = in.Name
	d.Open = func() (io.ReadCloser, error) {
		if in.Body != nil || in.Open == nil {
			return io.NopCloser(bytes.NewReader(in.Body)), nil
		}
		return in.Open()
	}
	return c.Docs.WriteDocument(ctx, w, d)
}

// Document maps e to the neutral description the bundle builder takes,
// following MHD's DocumentEntry to DocumentReference mapping. received is
// the date of last resort: a package whose METADATA.XML gives neither a
// submission nor a creation time is dated when it was received.
func (c *Converter) Document(e Entry, received time.Time) faxfhir.Document {
	d := faxfhir.Document{
		ContentType:     e.MimeType,
		Title:           e.Title,
		SubmissionTitle: "Document received in an XDM package",
		Description:     e.Comments,
		Created:         fhirDateTime(e.CreationTime),
		Language:        e.LanguageCode,
		Type:            docType(e.TypeCode),
		Format:          coding(e.FormatCode),
		FacilityType:    concept(e.FacilityType),
		PracticeSetting: concept(e.PracticeSetting),
	}
	// The SubmissionSet's date and the bundle's timestamp are when the
	// package was sent, which METADATA.XML says, so that the same package
	// dropped again makes the same bundle; MHD maps submissionTime to
	// the SubmissionSet's date.
	for _, t := range []string{e.SubmissionTime, e.CreationTime} {
		if at, ok := dtmTime(t); ok {
			d.Date = at
			break
		}
	}
	if d.Date.IsZero() {
		d.Date = received
	}
	if sys, val, ok := c.patientID(e.PatientID); ok {
		d.Patient = &faxfhir.Patient{System: sys, Value: val, Name: xpnText(e.PatientName), BirthDate: dtmDate(e.PatientBirthDate)}
	}
	if sys, val, ok := c.patientID(e.SourcePatientID); ok {
		d.SourcePatient = &faxfhir.Patient{System: sys, Value: val, Name: xpnText(e.PatientName), BirthDate: dtmDate(e.PatientBirthDate)}
	}
	if cc := concept(e.ClassCode); cc != nil {
		d.Category = []fhir.CodeableConcept{faxfhir.CategoryClinicalNote(), *cc}
	}
	d.Period = servicePeriod(e.ServiceStartTime, e.ServiceStopTime)
	for i := range e.EventCodes {
		if cc := concept(&e.EventCodes[i]); cc != nil {
			d.Event = append(d.Event, *cc)
		}
	}
	// MHD wants a broker to use a different sourceId for each source
	// system: a package's own is the sending system's. One that is not
	// an OID is left to the folder's or the configured one.
	if oid, ok := faxfhir.SourceOID(e.SourceID); ok {
		d.SourceID = oid
	}
	d.MasterIdentifier = masterIdentifier(e.UniqueID)
	if u := strings.ToLower(strings.TrimSpace(e.EntryUUID)); uuidURN.MatchString(u) {
		d.Identifier = &fhir.Identifier{Use: "official", System: "urn:ietf:rfc:3986", Value: u}
	}
	d.Security = append(d.Security, securityCodings(e.Confidentiality)...)
	for _, a := range e.Authors {
		d.Author = append(d.Author, authorRefs(a)...)
	}
	// The relations written are a set: METADATA.XML may hold any number
	// of associations, and checking each against all those kept before
	// it grew with their square.
	type relKey struct{ code, system, value string }
	written := map[relKey]bool{}
	for _, r := range e.Related {
		code, ok := RelationCode(r.Type)
		target := relationTarget(r)
		if !ok || target == nil || sameID(target, d.MasterIdentifier) || sameID(target, d.Identifier) {
			// A document naming itself relates to nothing.
			continue
		}
		rel := fhir.DocumentReferenceRelates{Code: code, Target: &fhir.Reference{Type: "DocumentReference", Identifier: target}}
		if countRelationChecks != nil {
			countRelationChecks()
		}
		k := relKey{code, target.System, target.Value}
		if written[k] {
			continue
		}
		written[k] = true
		d.RelatesTo = append(d.RelatesTo, rel)
		if code == "replaces" {
			// MHD has the Document Source mark the replaced
			// DocumentReference superseded itself. ferry filed it (if
			// it did) as a conditional create under this identifier,
			// with an id the exchange chose: a conditional PATCH finds
			// it, and a C-CDA's DocumentReference too, whose document id
			// is the uniqueId.
			d.Supersedes = append(d.Supersedes, "DocumentReference?"+fhir.IdentifierQuery(target.System, target.Value))
		}
	}
	return d
}

// countRelationChecks, set by a test, is called for each association
// checked against the relations or registry keys kept, so a test can bound the work
// without timing it.
var countRelationChecks func()

// relationTarget is the identifier ferry filed the target of r under: its
// uniqueId as masterIdentifier when the package gives it, else its
// entryUUID (a urn:uuid) as the official identifier. Nil when r names it
// by neither (a symbolic id of an entry the package does not describe):
// then there is no document to point at.
func relationTarget(r Relation) *fhir.Identifier {
	if m := masterIdentifier(r.TargetUniqueID); m != nil {
		return &fhir.Identifier{System: m.System, Value: m.Value}
	}
	if u := strings.ToLower(strings.TrimSpace(r.TargetUUID)); uuidURN.MatchString(u) {
		return &fhir.Identifier{System: "urn:ietf:rfc:3986", Value: u}
	}
	return nil
}

// relationIDs are all the identifiers r's target may have been filed
// under: its uniqueId and its entryUUID, when given.
func relationIDs(r Relation) []fhir.Identifier {
	var out []fhir.Identifier
	if m := masterIdentifier(r.TargetUniqueID); m != nil {
		out = append(out, fhir.Identifier{System: m.System, Value: m.Value})
	}
	if u := strings.ToLower(strings.TrimSpace(r.TargetUUID)); uuidURN.MatchString(u) {
		out = append(out, fhir.Identifier{System: "urn:ietf:rfc:3986", Value: u})
	}
	return out
}

func sameID(a, b *fhir.Identifier) bool {
	return a != nil && b != nil && a.System == b.System && a.Value == b.Value
}

// registry fills d's keys for the registry of replaced documents: those of
// every document e replaces (Document.Replaces), and whether the registry
// already knows d itself as replaced (Document.Superseded). A key names
// the document by each identifier it may have been filed under, for its
// patient as the package names them, for the record that survived when a
// merge retired that identifier, and for every record merged into that
// one, directly or down chains (C into B, then B into A): a replacement
// sent before the merge and its original after it (or the other way
// round) still meet, whether the later package names the retired record
// or the survivor. Merged answers from the merge registry's index of
// survivors, so only those records are visited.
func (c *Converter) registry(d *faxfhir.Document, e Entry) error {
	scopes := []string{""}
	if pt := d.Patient; pt != nil {
		scopes[0] = fhir.PatientKey(pt.System, pt.Value)
		if c.Docs != nil && c.Docs.Merges != nil {
			surv, ok, err := c.Docs.Merges.Survivor(merges.ID{System: pt.System, Value: pt.Value})
			if err != nil {
				return fmt.Errorf("patient identifier: %w", err)
			}
			if ok {
				scopes = append(scopes, fhir.PatientKey(surv.System, surv.Value))
			} else {
				surv = merges.ID{System: pt.System, Value: pt.Value}
			}
			if ml, ok := c.Docs.Merges.(interface{ Merged(merges.ID) []merges.ID }); ok {
				todo := []merges.ID{surv}
				for len(todo) > 0 {
					id := todo[len(todo)-1]
					todo = todo[:len(todo)-1]
					for _, m := range ml.Merged(id) {
						if k := fhir.PatientKey(m.System, m.Value); !slices.Contains(scopes, k) {
							scopes = append(scopes, k)
							todo = append(todo, m)
						}
					}
				}
			}
		}
	}
	// The keys kept are a set: checking each against all those kept
	// before it grew with the square of the associations.
	kept := make(map[string]bool, len(d.Replaces))
	for _, k := range d.Replaces {
		kept[k] = true
	}
	for _, r := range e.Related {
		if code, ok := RelationCode(r.Type); !ok || code != "replaces" || relationTarget(r) == nil {
			continue
		}
		for _, id := range relationIDs(r) {
			if sameID(&id, d.MasterIdentifier) || sameID(&id, d.Identifier) {
				continue
			}
			for _, s := range scopes {
				if countRelationChecks != nil {
					countRelationChecks()
				}
				if k := replacedKey(s, id); !kept[k] {
					kept[k] = true
					d.Replaces = append(d.Replaces, k)
				}
			}
		}
	}
	if c.Replaced != nil {
		for _, id := range []*fhir.Identifier{d.MasterIdentifier, d.Identifier} {
			for _, s := range scopes {
				if id != nil && c.Replaced(replacedKey(s, *id)) {
					d.Superseded = true
					return nil
				}
			}
		}
	}
	if !d.Superseded {
		// Written current: the keys a replacement accepted later
		// records, which a retry of this document's dead letter looks
		// up (pipeline.SupersedeReplaced).
		for _, id := range []*fhir.Identifier{d.MasterIdentifier, d.Identifier} {
			for _, s := range scopes {
				if id == nil {
					break
				}
				if k := replacedKey(s, *id); !slices.Contains(d.Versions, k) {
					d.Versions = append(d.Versions, k)
				}
			}
		}
	}
	return nil
}

// replacedKey is the registry key of the document filed under id for the
// patient whose key is scope (fhir.PatientKey; "" for a document tied to
// no patient): two patients' documents with one id never meet. It is a
// hash, so neither the document's id nor the patient's shows in the
// registry.
func replacedKey(scope string, id fhir.Identifier) string {
	h := sha256.New()
	for _, s := range []string{scope, id.System, id.Value} {
		h.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		h.Write([]byte(s))
	}
	return "xdm replaced " + hex.EncodeToString(h.Sum(nil)[:16])
}

var (
	uuidURN = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	oidRE   = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)
)

// masterIdentifier maps XDSDocumentEntry.uniqueId: an OID becomes
// urn:oid:<OID> under urn:ietf:rfc:3986, and the OID^extension form the
// extension under the system urn:oid:<OID>. Anything else gives nil: the
// builder then derives one from the content, as it does for a fax.
func masterIdentifier(uid string) *fhir.Identifier {
	uid = strings.TrimSpace(uid)
	root, ext, _ := strings.Cut(uid, "^")
	switch {
	case oidRE.MatchString(root) && ext == "":
		return &fhir.Identifier{Use: "usual", System: "urn:ietf:rfc:3986", Value: "urn:oid:" + root}
	case oidRE.MatchString(root):
		return &fhir.Identifier{Use: "usual", System: "urn:oid:" + root, Value: ext}
	case uuidURN.MatchString(strings.ToLower(uid)):
		return &fhir.Identifier{Use: "usual", System: "urn:ietf:rfc:3986", Value: strings.ToLower(uid)}
	}
	return nil
}

// patientID maps a CX ("value^^^namespace&OID&ISO") to an identifier, the
// way the HL7 v2 converter maps CX.4: an ISO authority is urn:oid:<OID>,
// a UUID one urn:uuid:<UUID>; otherwise identifiers.systems decides, by
// the namespace id or the universal id, and a bare universal id that is an
// OID is taken as one. ok is false when the CX has no value or its
// authority maps to no system: the document then has no subject rather
// than one under a system ferry made up.
func (c *Converter) patientID(cx string) (system, value string, ok bool) {
	comps := strings.Split(strings.TrimSpace(cx), "^")
	value = strings.TrimSpace(comps[0])
	if value == "" || len(comps) < 4 {
		return "", "", false
	}
	hd := strings.Split(comps[3], "&")
	for len(hd) < 3 {
		hd = append(hd, "")
	}
	ns, universal, typ := strings.TrimSpace(hd[0]), strings.TrimSpace(hd[1]), strings.ToUpper(strings.TrimSpace(hd[2]))
	// A universal id written as a URN is the OID or UUID it names, as
	// the HL7 v2 converter reads it: one authority, one system.
	if p := len("urn:oid:"); len(universal) > p && strings.EqualFold(universal[:p], "urn:oid:") && oidRE.MatchString(universal[p:]) {
		universal, typ = universal[p:], "ISO"
	} else if p := len("urn:uuid:"); len(universal) > p && strings.EqualFold(universal[:p], "urn:uuid:") {
		universal, typ = universal[p:], "UUID"
	}
	switch {
	case universal != "" && typ == "ISO" && oidRE.MatchString(universal):
		return "urn:oid:" + universal, value, true
	case universal != "" && (typ == "UUID" || typ == "GUID"):
		return "urn:uuid:" + strings.ToLower(universal), value, true
	case fhir.MappedSystem(c.Systems, ns) != "":
		return fhir.MappedSystem(c.Systems, ns), value, true
	case fhir.MappedSystem(c.Systems, universal) != "":
		return fhir.MappedSystem(c.Systems, universal), value, true
	case oidRE.MatchString(universal):
		return "urn:oid:" + universal, value, true
	}
	return "", "", false
}

const confidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

// Code systems known by OID or by the names older packages give in
// codingScheme; other OIDs become urn:oid:<OID>.
var codeSystems = map[string]string{
	"2.16.840.1.113883.6.1":  "http://loinc.org",
	"LOINC":                  "http://loinc.org",
	"2.16.840.1.113883.6.96": "http://snomed.info/sct",
	"SNOMED CT":              "http://snomed.info/sct",
	"SNOMED-CT":              "http://snomed.info/sct",
	"2.16.840.1.113883.5.25": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
	// DS4P sensitivity (ETH, HIV, PSY ...) and policy (42CFRPart2)
	// labels: matched by their FHIR URI downstream.
	"2.16.840.1.113883.5.4":    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
	"2.16.840.1.113883.5.1063": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"2.16.840.1.113883.6.101":  "http://nucc.org/provider-taxonomy",
	"1.3.6.1.4.1.19376.1.2.3":  "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
}

// coding maps an XDS coded value; nil when it has no code.
func coding(c *Code) *fhir.Coding {
	if c == nil || strings.TrimSpace(c.Code) == "" {
		return nil
	}
	out := &fhir.Coding{Code: strings.TrimSpace(c.Code), Display: strings.TrimSpace(c.Display)}
	scheme := strings.TrimSpace(c.Scheme)
	// An OID written as its URN is the OID: the code system's own URI
	// comes first, whichever way the package names it.
	if p := len("urn:oid:"); len(scheme) > p && strings.EqualFold(scheme[:p], "urn:oid:") && oidRE.MatchString(scheme[p:]) {
		scheme = scheme[p:]
	}
	switch {
	case codeSystems[strings.ToUpper(scheme)] != "":
		out.System = codeSystems[strings.ToUpper(scheme)]
	case oidRE.MatchString(scheme):
		out.System = "urn:oid:" + scheme
	case strings.Contains(scheme, ":"):
		out.System = scheme // already a URI
	}
	// A scheme that is only a name ("Connect-a-thon classCodes") is no
	// system: the coding keeps its code and display.
	return out
}

// securityCodings are the security labels of an entry's
// confidentialityCodes.
func securityCodings(codes []Code) []fhir.Coding {
	var out []fhir.Coding
	for _, cc := range codes {
		if cd := coding(&cc); cd != nil {
			// A scheme named only by a name ("Connect-a-thon
			// confidentialityCodes") with a code of U L M N R V is the
			// v3 confidentiality: left without a system, the configured
			// default would stand as the document's confidentiality
			// beside it, a downgrade.
			if cd.System == "" && strings.Contains("ULMNRV", strings.ToUpper(cd.Code)) && len(cd.Code) == 1 {
				cd.System, cd.Code = confidentialitySystem, strings.ToUpper(cd.Code)
			}
			// So is a scheme naming it by one of its older names (the
			// OID as a URI, FHIR STU3's URI): written under the FHIR R4
			// system, as an MHD registry and DS4P rules read it.
			if fhir.ConfidentialityOf(*cd) >= 0 {
				cd.System, cd.Code = confidentialitySystem, strings.ToUpper(cd.Code)
			}
			out = append(out, *cd)
		}
	}
	return out
}

func concept(c *Code) *fhir.CodeableConcept {
	if cd := coding(c); cd != nil {
		return &fhir.CodeableConcept{Coding: []fhir.Coding{*cd}}
	}
	return nil
}

// docType maps typeCode: a LOINC code is the type, as US Core's binding
// (LOINC document codes) wants; another code is kept beside US Core's UNK
// (nil: UNK alone, the builder's default).
func docType(c *Code) *fhir.CodeableConcept {
	cd := coding(c)
	switch {
	case cd == nil:
		return nil
	case cd.System == "http://loinc.org":
		return &fhir.CodeableConcept{Coding: []fhir.Coding{*cd}}
	}
	return &fhir.CodeableConcept{Coding: []fhir.Coding{faxfhir.UnknownDocType, *cd}}
}

// authorRefs maps one author: each institution (XON: name, and the
// identifier in XON.10 under the authority in XON.6) as an Organization,
// the person (XCN: id, family, given) as a Practitioner, display and
// identifier only.
func authorRefs(a Author) []fhir.Reference {
	var out []fhir.Reference
	for _, xon := range a.Institutions {
		f := strings.Split(xon, "^")
		r := fhir.Reference{Type: "Organization", Display: strings.TrimSpace(f[0])}
		if len(f) >= 10 {
			id := strings.TrimSpace(f[9])
			auth := strings.Split(f[5], "&")
			switch {
			case id != "" && len(auth) >= 2 && oidRE.MatchString(auth[1]):
				r.Identifier = &fhir.Identifier{System: "urn:oid:" + auth[1], Value: id}
			case oidRE.MatchString(id):
				r.Identifier = &fhir.Identifier{System: "urn:ietf:rfc:3986", Value: "urn:oid:" + id}
			}
		}
		if r.Display != "" || r.Identifier != nil {
			out = append(out, r)
		}
	}
	if p := strings.TrimSpace(a.Person); p != "" {
		f := strings.Split(p, "^")
		for len(f) < 9 {
			f = append(f, "")
		}
		r := fhir.Reference{Type: "Practitioner", Display: strings.Join(strings.Fields(f[5]+" "+f[2]+" "+f[3]+" "+f[1]), " ")}
		if auth := strings.Split(f[8], "&"); f[0] != "" && len(auth) >= 2 && oidRE.MatchString(auth[1]) {
			r.Identifier = &fhir.Identifier{System: "urn:oid:" + auth[1], Value: f[0]}
		}
		if r.Display == "" && r.Identifier == nil {
			r.Display = p // not in XCN form: a name as written
		}
		out = append(out, r)
	}
	return out
}

// xpnText writes an XPN (family^given^middle^suffix^prefix) as "Family,
// Given Middle", the form the builder splits into family and given.
func xpnText(xpn string) string {
	f := strings.Split(strings.TrimSpace(xpn), "^")
	family := strings.TrimSpace(strings.Split(f[0], "&")[0])
	var given []string
	for _, g := range f[1:min(len(f), 3)] {
		if g = strings.TrimSpace(g); g != "" {
			given = append(given, g)
		}
	}
	switch {
	case family == "":
		return strings.Join(given, " ")
	case len(given) == 0:
		return family
	}
	return family + ", " + strings.Join(given, " ")
}

// dtmParts splits an HL7 DTM, YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
// (the XDS DTM type is HL7 v2.5's), into its digits up to seconds and the
// offset from UTC its +/-ZZZZ gives, in seconds (0 without one: XDS
// times are UTC); ok is false when it is not one. The fraction of a
// second is left out.
func dtmParts(dtm string) (digits string, offset int, ok bool) {
	s := strings.TrimSpace(dtm)
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		z := s[i+1:]
		if len(z) != 4 || strings.Trim(z, "0123456789") != "" {
			return "", 0, false
		}
		h, _ := strconv.Atoi(z[:2])
		m, _ := strconv.Atoi(z[2:])
		if h > 14 || m > 59 {
			return "", 0, false
		}
		offset = (h*60 + m) * 60
		if s[i] == '-' {
			offset = -offset
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if strings.Trim(s, "0123456789") != "" {
		return "", 0, false
	}
	switch len(s) {
	case 4, 6, 8, 10, 12, 14:
		return s, offset, true
	}
	return "", 0, false
}

// dtmDigits returns the digits of an HL7 DTM up to seconds, or "" when
// it is not one.
func dtmDigits(dtm string) string {
	s, _, _ := dtmParts(dtm)
	return s
}

// fhirDateTime writes an XDS DTM as a FHIR dateTime: a year, month or
// date alone as such, a time completed to seconds in UTC with Z (one
// given with an offset from UTC moved by it). A DTM naming no real time
// (month 13, February 30, hour 25, year 0000) gives "": copied digit for
// digit it would be an invalid dateTime, for which the exchange refuses
// the whole bundle.
func fhirDateTime(dtm string) string {
	s, offset, _ := dtmParts(dtm)
	if s == "" || s[:4] == "0000" {
		return ""
	}
	layout := "20060102150405"[:len(s)]
	if len(s) == 4 {
		layout = "2006"
	}
	if _, err := time.Parse(layout, s); err != nil {
		return ""
	}
	switch len(s) {
	case 4:
		return s
	case 6:
		return s[:4] + "-" + s[4:6]
	case 8:
		return s[:4] + "-" + s[4:6] + "-" + s[6:8]
	}
	if t, ok := dtmTime(dtm); ok && offset != 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	s += strings.Repeat("0", 14-len(s))
	return s[:4] + "-" + s[4:6] + "-" + s[6:8] + "T" + s[8:10] + ":" + s[10:12] + ":" + s[12:14] + "Z"
}

// servicePeriod maps serviceStartTime and serviceStopTime to
// context.period, as MHD maps them; nil when neither is a time. A stop
// before the start is left out: FHIR R4's per-1 ("If present, start SHALL
// have a lower value than end") would have the exchange refuse the bundle.
func servicePeriod(start, stop string) *fhir.Period {
	p := fhir.Period{Start: fhirDateTime(start), End: fhirDateTime(stop)}
	if p.Start != "" && p.End != "" {
		s, sok := dtmTime(start)
		e, eok := dtmTime(stop)
		if sok && eok && e.Before(s) {
			p.End = ""
		}
	}
	if p == (fhir.Period{}) {
		return nil
	}
	return &p
}

// dtmTime reads a DTM of at least a day's precision, in UTC: a time of
// day given with an offset from UTC is moved by it; a date alone is that
// day's midnight, UTC.
func dtmTime(dtm string) (time.Time, bool) {
	s, offset, _ := dtmParts(dtm)
	if len(s) < 8 {
		return time.Time{}, false
	}
	if len(s) == 8 {
		offset = 0
	}
	s += strings.Repeat("0", 14-len(s))
	t, err := time.ParseInLocation("20060102150405", s, time.FixedZone("", offset))
	return t.UTC(), err == nil
}

// dtmDate is a DTM's date as YYYY-MM-DD, or "".
func dtmDate(dtm string) string {
	if s := dtmDigits(dtm); len(s) >= 8 {
		return s[:4] + "-" + s[4:6] + "-" + s[6:8]
	}
	return ""
}
