package xdmfhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
)

// Each XDS confidentialityCode is one securityLabel (MHD maps
// securityLabel to DocumentEntry.confidentialityCode, one to one): codings
// of one CodeableConcept would say R and ETH mean the same thing.
func TestSecurityLabelPerCode(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"R", "2.16.840.1.113883.5.25", "restricted"}, {"ETH", "2.16.840.1.113883.5.4", "substance abuse information sensitivity"}}
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileUSCore} {
		b := mhdBundle(t, profile, e)
		for _, dr := range resources(b, "DocumentReference") {
			labels, _ := dr["securityLabel"].([]any)
			if len(labels) != 2 {
				t.Errorf("%s: %d securityLabels, want 2 (one per code): %v", profile, len(labels), labels)
			}
			for _, l := range labels {
				if n := len(l.(map[string]any)["coding"].([]any)); n != 1 {
					t.Errorf("%s: a securityLabel with %d codings: %v", profile, n, l)
				}
			}
		}
	}
}

// Sensitivity and policy labels an XDS source codes under the OID of
// v3-ActCode (ETH, HIV, 42CFRPart2 ...) carry the FHIR URI of that code
// system, which DS4P rules and an exchange's consent engine match on; a
// urn:oid: system for a code system FHIR names by URL is another system.
func TestActCodeLabelsUseTheFHIRSystem(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"R", "2.16.840.1.113883.5.25", ""}, {"42CFRPart2", "2.16.840.1.113883.5.4", ""}}
	b := mhdBundle(t, faxfhir.ProfileMHDMinimal, e)
	for _, sec := range b["meta"].(map[string]any)["security"].([]any) {
		c := sec.(map[string]any)
		if c["code"] == "42CFRPart2" && c["system"] != "http://terminology.hl7.org/CodeSystem/v3-ActCode" {
			t.Errorf("42CFRPart2 under system %v, want v3-ActCode", c["system"])
		}
	}
}

// DS4P: meta.security holds exactly one v3-Confidentiality code, the
// high-water mark; a package that gives two keeps the higher.
func TestOneConfidentialityCode(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"N", "2.16.840.1.113883.5.25", ""}, {"V", "2.16.840.1.113883.5.25", ""}, {"R", "2.16.840.1.113883.5.25", ""}}
	b := mhdBundle(t, faxfhir.ProfileMHDMinimal, e)
	metas := []any{b["meta"]}
	for _, typ := range []string{"DocumentReference", "Binary"} {
		for _, r := range resources(b, typ) {
			metas = append(metas, r["meta"])
		}
	}
	for i, m := range metas {
		var confs []any
		for _, sec := range m.(map[string]any)["security"].([]any) {
			if c := sec.(map[string]any); c["system"] == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" {
				confs = append(confs, c["code"])
			}
		}
		if len(confs) != 1 || confs[0] != "V" {
			t.Errorf("meta %d: confidentiality codes %v, want only the high-water mark V", i, confs)
		}
	}
}

// An older package names its confidentialityCode scheme by a name only
// ("Connect-a-thon confidentialityCodes"). Its R is still the document's
// confidentiality: sent without a system beside the configured N, the
// exchange would read the document as normal (a downgrade).
func TestNamedSchemeConfidentialityIsNotDowngraded(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"R", "Connect-a-thon confidentialityCodes", "Restricted"}}
	b := mhdBundle(t, faxfhir.ProfileMHDMinimal, e)
	var confs []any
	for _, sec := range b["meta"].(map[string]any)["security"].([]any) {
		if c := sec.(map[string]any); c["system"] == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" {
			confs = append(confs, c["code"])
		}
	}
	if len(confs) != 1 || confs[0] != "R" {
		t.Errorf("v3-Confidentiality codes %v, want R alone", confs)
	}
}

// DS4P: a refrain or obligation code an XDS source put among its
// confidentialityCodes (NORDSCLCD, ENCRYPT) says how to handle the
// document, and would reveal what it protects if it stood in a high-water
// mark. It stays on what the document is made of (the DocumentReference's
// own meta and the Binary) and is left out of the Bundle's meta.security,
// the securityLabel that names the document and the Patient; the
// confidentiality and sensitivity codes are in all of them.
func TestRefrainCodesStayOutOfTheHighWaterMark(t *testing.T) {
	e := referralEntry()
	e.Confidentiality = []Code{{"R", "2.16.840.1.113883.5.25", ""}, {"NORDSCLCD", "2.16.840.1.113883.5.4", ""},
		{"SUD", "2.16.840.1.113883.5.4", ""}, {"ENCRYPT", "2.16.840.1.113883.5.4", ""}}
	codes := func(list any) string {
		var s string
		for _, x := range list.([]any) {
			m := x.(map[string]any)
			if c, ok := m["coding"].([]any); ok {
				m = c[0].(map[string]any)
			}
			if s != "" {
				s += ","
			}
			s += m["code"].(string)
		}
		return s
	}
	for _, profile := range []string{faxfhir.ProfileMHDMinimal, faxfhir.ProfileUSCore} {
		b := mhdBundle(t, profile, e)
		if got := codes(b["meta"].(map[string]any)["security"]); got != "R,SUD" {
			t.Errorf("%s: Bundle meta.security %s, want R,SUD", profile, got)
		}
		for _, dr := range resources(b, "DocumentReference") {
			if got := codes(dr["securityLabel"]); got != "R,SUD" {
				t.Errorf("%s: securityLabel %s, want R,SUD", profile, got)
			}
			if got := codes(dr["meta"].(map[string]any)["security"]); got != "R,NORDSCLCD,SUD,ENCRYPT" {
				t.Errorf("%s: DocumentReference meta.security %s, want every label", profile, got)
			}
		}
		for _, bin := range resources(b, "Binary") {
			if got := codes(bin["meta"].(map[string]any)["security"]); got != "R,NORDSCLCD,SUD,ENCRYPT" {
				t.Errorf("%s: Binary meta.security %s, want every label", profile, got)
			}
		}
		for _, p := range resources(b, "Patient") {
			if got := codes(p["meta"].(map[string]any)["security"]); got != "R,SUD" {
				t.Errorf("%s: Patient meta.security %s, want R,SUD", profile, got)
			}
		}
	}
}

// A package whose confidentialityCode scheme names v3-Confidentiality by
// one of its older names, the OID as a URI or FHIR STU3's URI, gives the
// document that confidentiality under the FHIR R4 system: kept under the
// old name beside the configured N, the exchange would read the document
// as normal (a downgrade), and exchange.hold would not rank it.
func TestOldSchemeConfidentialityIsNotDowngraded(t *testing.T) {
	for _, scheme := range []string{"urn:oid:2.16.840.1.113883.5.25", "http://hl7.org/fhir/v3/Confidentiality"} {
		e := referralEntry()
		e.Confidentiality = []Code{{"v", scheme, "very restricted"}}
		b := mhdBundle(t, faxfhir.ProfileMHDMinimal, e)
		metas := []any{b["meta"]}
		for _, r := range resources(b, "DocumentReference") {
			metas = append(metas, r["meta"])
		}
		for i, m := range metas {
			var confs []any
			for _, sec := range m.(map[string]any)["security"].([]any) {
				c := sec.(map[string]any)
				if c["system"] == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" || c["system"] == scheme {
					confs = append(confs, c["system"].(string)+"|"+c["code"].(string))
				}
			}
			if len(confs) != 1 || confs[0] != "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|V" {
				t.Errorf("%s: meta %d: confidentiality codes %v, want V alone under the R4 system", scheme, i, confs)
			}
		}
	}
}
