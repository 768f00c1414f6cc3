// Package faxfhir turns a received fax (TIFF or PDF, plus what the fax
// system knows about the call) into a FHIR R4 transaction: an IHE MHD ITI-65
// Provide Document Bundle (SubmissionSet List, DocumentReference, Binary) or
// a US Core-style DocumentReference + Binary.
//
// A TIFF fax gets a PDF rendition (tiffpdf, no pixel decoding) that
// recipients can display anywhere; the original TIFF is kept beside it as
// its own document ("transforms" relation) unless KeepOriginal is off.
//
// Every id is derived from the content's SHA-256 and every create is
// conditional (ifNoneExist on the identifiers, PUT for Binaries), so
// dropping the same fax twice changes nothing at the exchange
// (ARCHITECTURE.md invariant 3). WriteBundle streams the JSON, base64 and
// all, so memory use does not grow with the fax.
package faxfhir

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Profiles a Config can ask for.
const (
	// ProfileMHDMinimal is IHE MHD ITI-65 with Minimal metadata (default).
	ProfileMHDMinimal = "mhd-minimal"
	// ProfileMHDComprehensive is ITI-65 with Comprehensive metadata; it needs
	// a known patient, and falls back to Minimal for faxes without one.
	ProfileMHDComprehensive = "mhd-comprehensive"
	// ProfileUSCore is a plain transaction of US Core DocumentReference and
	// Binary, with no SubmissionSet.
	ProfileUSCore = "us-core"
	// ProfileMHDSimplified is IHE MHD Simplified Publish (ITI-105): one
	// DocumentReference carrying the document in attachment.data, POSTed
	// to [base]/DocumentReference as a conditional create on its
	// masterIdentifier (If-None-Exist); the exchange builds the Binary
	// and the SubmissionSet. Its profile allows one content and needs a
	// patient, named by identifier (a logical reference: a plain create
	// resolves no conditional reference and carries no Patient), so a
	// TIFF fax is published as its PDF rendition alone, and a fax or
	// document that names no patient, or one its source marked
	// superseded, goes as an mhd-minimal ITI-65 bundle instead.
	ProfileMHDSimplified = "mhd-simplified"
)

// Binary methods.
const (
	// BinaryPut writes Binaries with PUT Binary/<content-derived id>, which
	// is idempotent on every server: the default for the us-core profile.
	BinaryPut = "put"
	// BinaryPost uses POST, as ITI-65 prescribes (the ProvideBundle
	// profile fixes every Binary entry's method to POST, so a recipient
	// that validates it refuses PUT): the default for the MHD profiles.
	// A fax re-sent after a lost answer then leaves an orphan Binary copy
	// (its DocumentReference is found by ifNoneExist and not duplicated);
	// binary_method: put avoids that where the exchange accepts PUT.
	BinaryPost = "post"
)

// How a fax's documents refer to their patient (Config.PatientLink).
const (
	// PatientLinkMatch puts the patient in the bundle as a conditional
	// create (POST Patient, ifNoneExist identifier=system|MRN) and refers
	// to it by its urn:uuid fullUrl. The exchange resolves that to the
	// Patient it already holds with the MRN, so the fax lands on the
	// patient's record by id; only when it holds none does it create one
	// from what the fax says (MRN, name, birth date). MHD's ITI-65 bundle
	// allows this one Patient; Medplum and HAPI resolve it.
	PatientLinkMatch = "match"
	// PatientLinkConditional makes the subject the conditional reference
	// Patient?identifier=system|MRN, which FHIR servers SHOULD resolve in
	// a transaction (Medplum stores it unresolved).
	PatientLinkConditional = "conditional-reference"
	// PatientLinkIdentifier makes the subject a logical reference (type
	// and identifier only): valid everywhere, but the exchange does not
	// link the document to a Patient by id.
	PatientLinkIdentifier = "identifier"
)

// Config says how faxes become FHIR. The yaml names are for the gateway's
// sources.folders entries.
type Config struct {
	// Profile is ProfileMHDMinimal (default), ProfileMHDComprehensive,
	// ProfileMHDSimplified or ProfileUSCore.
	Profile string `yaml:"profile"`
	// SourceID is the OID (digits and dots, without urn:oid:) that
	// identifies this ferry instance as a document source: the SubmissionSet
	// ihe-sourceId. Required for the MHD profiles. It stands for the
	// clinic's fax, one source system; a folder may name its own
	// (Converter.WithFolderSourceIDs), and an XDM package's own sourceId
	// comes before both (Document.SourceID).
	SourceID string `yaml:"source_id"`
	// PatientSystem is the identifier system of the MRNs found in file names
	// or sidecars (e.g. urn:oid:2.16.840.1.113883.3.999.1). Without it a fax
	// is filed without a subject.
	PatientSystem string `yaml:"patient_system"`
	// PatientLink says how the documents refer to their patient when the
	// fax names one (an MRN and PatientSystem): PatientLinkMatch (the
	// default), PatientLinkConditional or PatientLinkIdentifier.
	PatientLink string `yaml:"patient_link"`
	// PatientConditionalRef is the older spelling of patient_link:
	// conditional-reference.
	PatientConditionalRef bool `yaml:"patient_conditional_ref"`
	// Author and Custodian name the receiving organisation, e.g.
	// {display: "Main Street Clinic", identifier: "urn:oid:1.2.3|clinic"}.
	Author    OrgRef `yaml:"author"`
	Custodian OrgRef `yaml:"custodian"`
	// Confidentiality is the v3-Confidentiality code for securityLabel and
	// the bundle's meta.security (default "N"; a fax may need "R").
	Confidentiality string `yaml:"confidentiality"`
	// KeepOriginal keeps a TIFF fax's original bytes as a second document
	// beside the PDF rendition. Nil means true, except under
	// mhd-simplified, which publishes one document per request and
	// refuses true.
	KeepOriginal *bool `yaml:"keep_original"`
	// BinaryMethod is BinaryPost (default for the MHD profiles) or
	// BinaryPut (default for us-core).
	BinaryMethod string `yaml:"binary_method"`
	// FacilityType and PracticeSetting (system|code|display) are the
	// DocumentReference's context.facilityType and practiceSetting under
	// every profile; the Comprehensive profile requires them.
	FacilityType    string `yaml:"facility_type"`
	PracticeSetting string `yaml:"practice_setting"`
	// Language is attachment.language (default "en-US").
	Language string `yaml:"language"`
}

// OrgRef names an organisation by display text and, optionally, an
// identifier written "system|value".
type OrgRef struct {
	Display    string `yaml:"display"`
	Identifier string `yaml:"identifier"`
}

var oidRE = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)

// languageRE is a BCP 47 language tag in the forms documents carry: a
// language (ISO 639, two or three letters), then subtags of one to eight
// letters or digits (script, region, variant), each after a hyphen.
var languageRE = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// maxSourceIDLen is the longest OID XDS accepts as a sourceId (ITI TF-3
// 4.2.3.1.7: an OID of at most 64 characters); an MHD recipient backed by
// an XDS registry refuses a longer one.
const maxSourceIDLen = 64

// SourceOID checks a sourceId as MHD's ihe-sourceId takes it: an OID of
// digits and dots, at most 64 characters, written bare or as
// urn:oid:<OID>. It returns the bare OID; ok is false when s is not one.
func SourceOID(s string) (oid string, ok bool) {
	oid = strings.TrimPrefix(strings.TrimSpace(s), "urn:oid:")
	if len(oid) > maxSourceIDLen || !oidRE.MatchString(oid) {
		return "", false
	}
	return oid, true
}

// Validate checks the configuration without I/O.
func (c *Config) Validate() error {
	var errs []error
	switch c.Profile {
	case "", ProfileMHDMinimal, ProfileMHDComprehensive, ProfileMHDSimplified, ProfileUSCore:
	default:
		errs = append(errs, fmt.Errorf("profile: %q is not one of %s, %s, %s, %s", c.Profile, ProfileMHDMinimal, ProfileMHDComprehensive, ProfileMHDSimplified, ProfileUSCore))
	}
	if c.Profile == ProfileMHDSimplified {
		// Simplified Publish is a plain create of one DocumentReference:
		// it carries no Patient to match and no transaction that would
		// resolve a conditional reference, and its one content leaves no
		// room for the TIFF beside the PDF.
		if c.PatientLink == PatientLinkMatch || c.PatientLink == PatientLinkConditional || c.PatientConditionalRef {
			errs = append(errs, fmt.Errorf("patient_link: %s needs a transaction; mhd-simplified (ITI-105) names the patient by identifier (patient_link: %s, the default for it)", nameOr(c.PatientLink, PatientLinkConditional), PatientLinkIdentifier))
		}
		if c.KeepOriginal != nil && *c.KeepOriginal {
			errs = append(errs, errors.New("keep_original: mhd-simplified (ITI-105) publishes one document per request, the PDF; keeping the TIFF original beside it needs mhd-minimal or mhd-comprehensive"))
		}
	}
	if c.Profile != ProfileUSCore {
		if c.SourceID == "" {
			errs = append(errs, errors.New("source_id: required for the mhd profiles (an OID)"))
		} else if _, ok := SourceOID(c.SourceID); !ok {
			errs = append(errs, fmt.Errorf("source_id: %q is not an OID (digits and dots, at most %d characters, bare or urn:oid:)", c.SourceID, maxSourceIDLen))
		}
	}
	// The exchange matches the system exactly against the one the ADT
	// feed gives the MRN: one written otherwise is another patient.
	switch s := c.PatientSystem; {
	case s == "":
	case oidRE.MatchString(s):
		errs = append(errs, fmt.Errorf("patient_system: %q is an OID; write it as urn:oid:%s", s, s))
	case !strings.Contains(s, ":") || strings.ContainsAny(s, " \t\r\n|"):
		errs = append(errs, fmt.Errorf("patient_system: must be an absolute URI (urn:oid:..., https://...) without spaces or '|', the system the HL7 v2 feed gives the MRN; got %q", s))
	}
	switch c.PatientLink {
	case "", PatientLinkMatch, PatientLinkIdentifier:
		if c.PatientConditionalRef && c.PatientLink != "" {
			errs = append(errs, fmt.Errorf("patient_conditional_ref: true contradicts patient_link: %s (patient_link: %s replaces it)", c.PatientLink, PatientLinkConditional))
		}
	case PatientLinkConditional:
	default:
		errs = append(errs, fmt.Errorf("patient_link: %q is not one of %s, %s, %s", c.PatientLink, PatientLinkMatch, PatientLinkConditional, PatientLinkIdentifier))
	}
	switch c.BinaryMethod {
	case "", BinaryPut, BinaryPost:
	default:
		errs = append(errs, fmt.Errorf("binary_method: %q is not put or post", c.BinaryMethod))
	}
	// attachment.language is a BCP 47 code (MHD: XDS languageCode, RFC
	// 5646): a locale name as Windows writes it (en_US) is none.
	if c.Language != "" && !languageRE.MatchString(c.Language) {
		errs = append(errs, fmt.Errorf("language: %q is not a BCP 47 language tag such as en-US or es (a hyphen, not an underscore)", c.Language))
	}
	switch c.Confidentiality {
	case "", "U", "L", "M", "N", "R", "V":
	default:
		errs = append(errs, fmt.Errorf("confidentiality: %q is not one of U L M N R V", c.Confidentiality))
	}
	for name, v := range map[string]string{"author.identifier": c.Author.Identifier, "custodian.identifier": c.Custodian.Identifier} {
		if v != "" && !strings.Contains(v, "|") {
			errs = append(errs, fmt.Errorf("%s: %q is not system|value", name, v))
		}
	}
	if c.Profile == ProfileMHDComprehensive && (c.FacilityType == "" || c.PracticeSetting == "") {
		errs = append(errs, errors.New("facility_type, practice_setting: required for mhd-comprehensive (system|code|display)"))
	}
	// Each becomes a Coding that MHD maps to an XDS code, whose
	// codingScheme is required: a bare code or display, or a system
	// that is no URI, would be sent on every document as it is.
	for _, f := range []struct{ name, v string }{{"facility_type", c.FacilityType}, {"practice_setting", c.PracticeSetting}} {
		if err := checkCoding(f.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q %w", f.name, f.v, err))
		}
	}
	return errors.Join(errs...)
}

// checkCoding checks a system|code|display (or system|code) setting, as
// concept reads it; empty is no setting.
func checkCoding(s string) error {
	if s == "" {
		return nil
	}
	parts := strings.SplitN(s, "|", 3)
	if len(parts) < 2 {
		return errors.New("is not system|code|display (e.g. http://snomed.info/sct|35971002|Ambulatory care site)")
	}
	sys, code := parts[0], parts[1]
	for _, p := range parts {
		if p != strings.TrimSpace(p) {
			return errors.New("has spaces round a part; write system|code|display without them")
		}
	}
	switch {
	case oidRE.MatchString(sys):
		return fmt.Errorf("names its system by a bare OID; write it as urn:oid:%s", sys)
	case !strings.Contains(sys, ":") || strings.ContainsAny(sys, " \t\r\n"):
		return fmt.Errorf("is not system|code|display: its system %q is not an absolute URI (http://snomed.info/sct, urn:oid:...)", sys)
	case code == "":
		return errors.New("has no code (system|code|display)")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Profile == "" {
		c.Profile = ProfileMHDMinimal
	}
	if c.BinaryMethod == "" {
		c.BinaryMethod = BinaryPost
		if c.Profile == ProfileUSCore {
			c.BinaryMethod = BinaryPut
		}
	}
	if c.PatientLink == "" && c.PatientConditionalRef {
		c.PatientLink = PatientLinkConditional
	}
	if c.PatientLink == "" {
		c.PatientLink = PatientLinkMatch
		if c.Profile == ProfileMHDSimplified {
			c.PatientLink = PatientLinkIdentifier
		}
	}
	if c.Confidentiality == "" {
		c.Confidentiality = "N"
	}
	if c.Language == "" {
		c.Language = "en-US"
	}
	if oid, ok := SourceOID(c.SourceID); ok {
		c.SourceID = oid
	}
	return c
}

func (c Config) keepOriginal() bool {
	if c.KeepOriginal == nil {
		return c.Profile != ProfileMHDSimplified
	}
	return *c.KeepOriginal
}

func nameOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
