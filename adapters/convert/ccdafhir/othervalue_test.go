package ccdafhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// resultSection is a Results section with one Result Observation whose
// value is the given XML.
func resultSection(value string) string {
	return `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
 <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
 <text><table><tbody><tr><td ID="res1">Positive for influenza A</td></tr></tbody></table></text>
 <entry><observation classCode="OBS" moodCode="EVN">
  <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
  <id root="9.9.9" extension="res1"/>
  <code code="80382-5" codeSystem="2.16.840.1.113883.6.1" displayName="Influenza virus A Ag"/>
  <statusCode code="completed"/>
  <effectiveTime value="20240301101500-0500"/>
  ` + value + `
 </observation></entry>
</section></component>`
}

// TestOtherCodeValueKept: CDA writes a coded value from outside the
// value set as nullFlavor OTH with the code in a translation and the
// words in originalText. The result is that code and text, not "no
// value": the translation and the text were dropped and the exchange got
// a result with only dataAbsentReason "unsupported".
func TestOtherCodeValueKept(t *testing.T) {
	got, _ := convertReview(t, reviewDoc("d1", "s1", "", resultSection(
		`<value xsi:type="CD" nullFlavor="OTH"><originalText><reference value="#res1"/></originalText>
		  <translation code="260373001" codeSystem="2.16.840.1.113883.6.96" displayName="Detected"/></value>`)))
	if len(got["Observation"]) != 1 {
		t.Fatalf("observations = %d, want 1", len(got["Observation"]))
	}
	o := got["Observation"][0].(*fhir.Observation)
	if o.DataAbsentReason != nil {
		t.Errorf("dataAbsentReason = %+v beside a value the document gives", o.DataAbsentReason)
	}
	v := o.ValueCodeableConcept
	if v == nil || len(v.Coding) != 1 || v.Coding[0].Code != "260373001" || v.Text != "Positive for influenza A" {
		t.Fatalf("valueCodeableConcept = %+v, want the translation 260373001 and the text", v)
	}

	// A nullFlavor with nothing beside it stays a data-absent-reason.
	got, _ = convertReview(t, reviewDoc("d1", "s1", "", resultSection(`<value xsi:type="CD" nullFlavor="UNK"/>`)))
	o = got["Observation"][0].(*fhir.Observation)
	if o.ValueCodeableConcept != nil || o.DataAbsentReason == nil || o.DataAbsentReason.Coding[0].Code != "unknown" {
		t.Errorf("value %+v, dataAbsentReason %+v: want only data-absent-reason unknown", o.ValueCodeableConcept, o.DataAbsentReason)
	}
}

// TestNullFlavorValueHasAbsentReason: a result value with nullFlavor INV,
// DER, UNC or NAVU came out with neither a value nor a dataAbsentReason,
// which US Core's Observation profiles forbid. The C-CDA on FHIR map
// (CF-NullFlavorDataAbsentReason) has no row for them, so they follow
// their v3 parents: INV and its children DER and UNC to "error" (the
// data-absent-reason parent of the infinities, as INV is in v3), NAVU to
// "unknown" like UNK. TRC follows the map: "unsupported". A nullFlavor
// outside the vocabulary gets "unknown", as NI does.
func TestNullFlavorValueHasAbsentReason(t *testing.T) {
	for nf, want := range map[string]string{
		"INV": "error", "DER": "error", "UNC": "error", "NAVU": "unknown", "TRC": "unsupported",
		"UNK": "unknown", "NINF": "negative-infinity", "XYZ": "unknown",
	} {
		got, _ := convertReview(t, reviewDoc("d1", "s1", "", resultSection(`<value xsi:type="PQ" nullFlavor="`+nf+`"/>`)))
		if len(got["Observation"]) != 1 {
			t.Fatalf("%s: observations = %d, want 1", nf, len(got["Observation"]))
		}
		o := got["Observation"][0].(*fhir.Observation)
		if o.ValueQuantity != nil || o.DataAbsentReason == nil || len(o.DataAbsentReason.Coding) != 1 ||
			o.DataAbsentReason.Coding[0].Code != want || o.DataAbsentReason.Coding[0].System != fhir.DataAbsentReasonSystem {
			t.Errorf("%s: value %+v, dataAbsentReason %+v, want data-absent-reason %s", nf, o.ValueQuantity, o.DataAbsentReason, want)
		}
	}
}
