package v2fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/hl7v2"
)

// entryIDs returns the ids of the entries of one resource type, in order.
func entryIDs(t *testing.T, b *fhir.Bundle, typ string) []string {
	t.Helper()
	var out []string
	for _, e := range b.Entry {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(toJSON(e.Resource)), &head); err != nil {
			t.Fatal(err)
		}
		if head.ResourceType == typ {
			out = append(out, head.ID)
		}
	}
	return out
}

func convertString(t *testing.T, c *Converter, msg string) *fhir.Bundle {
	t.Helper()
	b, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(msg, "\n", "\r")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVXURefusalFiller9999: the CDC immunization guide has every
// refusal and every "no vaccine administered" RXA carry ORC-3 9999, a
// placeholder, not an order number. Keyed by it, every patient's refusal
// would be one Immunization at the exchange: the second patient's
// refusal overwrites the first's (a patient mix-up).
func TestVXURefusalFiller9999(t *testing.T) {
	c := testConverter(t)
	msg := func(ctl, mrn, cvx, date string) string {
		return "MSH|^~\\&|EHR|CLINIC|IIS|IIS|20240401103000||VXU^V04^VXU_V04|" + ctl + "|P|2.5.1\n" +
			"PID|1||" + mrn + "^^^HOSP^MR||Doe^Pat||20200101|F\n" +
			"ORC|RE||9999^CDC\n" +
			"RXA|0|1|" + date + "||" + cvx + "^vaccine^CVX|999||||||||||||00^Parental decision^NIP002||RE\n"
	}
	a := entryIDs(t, convertString(t, c, msg("V1", "A100", "03", "20240401")), "Immunization")
	b := entryIDs(t, convertString(t, c, msg("V2", "B200", "03", "20240401")), "Immunization")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("immunizations: %v %v", a, b)
	}
	if a[0] == b[0] {
		t.Errorf("two patients' refusals share Immunization/%s", a[0])
	}
	// One patient refusing two vaccines keeps both refusals.
	d := entryIDs(t, convertString(t, c, msg("V3", "A100", "21", "20240501")), "Immunization")
	if d[0] == a[0] {
		t.Errorf("a patient's second refusal replaces the first: Immunization/%s", a[0])
	}
	// The placeholder is no identifier of the Immunization.
	if js := toJSON(convertString(t, c, msg("V1", "A100", "03", "20240401")).Entry[1].Resource); strings.Contains(js, `"value":"9999"`) {
		t.Errorf("placeholder 9999 kept as an identifier: %s", js)
	}
}

// TestMergeKeysPriorPatientAsPIDDid: MRG-1 lists the prior patient's
// identifiers as PID-3 did; the record the merge retires must be the one
// the earlier ADT wrote, which PID keyed by its MR identifier, whatever
// its position in the list.
func TestMergeKeysPriorPatientAsPIDDid(t *testing.T) {
	c := testConverter(t)
	a01 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240301090000||ADT^A01^ADT_A01|M1|P|2.5\n" +
		"PID|1||P-77^^^HOSP^PI~55999^^^HOSP^MR||ONeil^Shawn||20010101|M\n"
	a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M2|P|2.5\n" +
		"PID|1||55501^^^HOSP^MR||O'Neil^Sean||20010101|M\n" +
		"MRG|P-77^^^HOSP^PI~55999^^^HOSP^MR\n"
	first := entryIDs(t, convertString(t, c, a01), "Patient")
	merged := entryIDs(t, convertString(t, c, a40), "Patient")
	if len(merged) != 2 || merged[1] != first[0] {
		t.Errorf("A40 retires Patient %v, the A01 wrote Patient/%s", merged[1:], first[0])
	}
}

// TestMergeEveryGroup: ADT_A39 repeats its patient group (PID, PD1, MRG,
// PV1), so one A40 may merge several pairs of records. Each pair must be
// merged (or the message refused); converting only the first acknowledges
// the others and drops them.
func TestMergeEveryGroup(t *testing.T) {
	c := testConverter(t)
	a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M3|P|2.5\n" +
		"EVN|A40|20240321085900\n" +
		"PID|1||1001^^^HOSP^MR||One^Ann||19800101|F\n" +
		"MRG|1999^^^HOSP^MR\n" +
		"PID|2||2001^^^HOSP^MR||Two^Bob||19700101|M\n" +
		"MRG|2999^^^HOSP^MR\n"
	b, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(a40, "\n", "\r")))
	if err != nil {
		return // refused: nothing is lost
	}
	var values []string
	for _, p := range resources(t, b)["Patient"] {
		var pt fhir.Patient
		if err := json.Unmarshal([]byte(p), &pt); err != nil {
			t.Fatal(err)
		}
		values = append(values, pt.Identifier[0].Value)
	}
	got := strings.Join(values, ",")
	for _, want := range []string{"1001", "1999", "2001", "2999"} {
		if !strings.Contains(got, want) {
			t.Errorf("A40 with two merges wrote patients %s: %s is missing", got, want)
		}
	}
	strictR4(t, marshal(t, b))
	// Each retired record links to its own survivor.
	for _, p := range resources(t, b)["Patient"] {
		if strings.Contains(p, `"value":"2999"`) && !strings.Contains(p, entryIDs(t, b, "Patient")[2]) {
			t.Errorf("2999 is not replaced by 2001: %s", p)
		}
	}
	// In patient-conditional parts, every reference resolves.
	pc := testConverter(t)
	pc.Mode = ModePatientConditional
	raw := []byte(strings.ReplaceAll(a40, "\n", "\r"))
	msg, err := hl7v2.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	whole, _, err := pc.Convert(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	parts, _, err := pc.ConvertParts(msg, raw)
	if err != nil {
		t.Fatal(err)
	}
	checkPatientConditional(t, whole, parts, fhir.MaxConditionalEntries, false)

	// A later group without its MRG is refused, not written as an update.
	bad := strings.TrimSuffix(a40, "MRG|2999^^^HOSP^MR\n")
	if _, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(bad, "\n", "\r"))); err == nil || !strings.Contains(err.Error(), "MRG") {
		t.Errorf("A40 group without MRG: %v", err)
	}
}

// TestVXUFinancialClassIsNoVisit: CDC immunization senders put the VFC
// eligibility in PV1-20 of an otherwise empty PV1 (class R). That is no
// visit: an Encounter made of it is keyed by the message's control id,
// so every VXU for the patient, and every correction of one, adds
// another empty Encounter and moves the Immunization onto it.
func TestVXUFinancialClassIsNoVisit(t *testing.T) {
	c := testConverter(t)
	msg := func(ctl string) string {
		return "MSH|^~\\&|EHR|CLINIC|IIS|IIS|20240401103000||VXU^V04^VXU_V04|" + ctl + "|P|2.5.1\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
			"PV1|1|R||||||||||||||||||V02^20240401\n" +
			"ORC|RE||IZ-1^CLINIC\n" +
			"RXA|0|1|20240401||08^Hep B^CVX|0.5|mL^mL^UCUM||00^New^NIP001||||||LOT1||MSD^Merck^MVX|||CP|A\n"
	}
	first := entryIDs(t, convertString(t, c, msg("V1")), "Encounter")
	again := entryIDs(t, convertString(t, c, msg("V1-CORR")), "Encounter")
	if len(first) != len(again) || len(first) > 0 && first[0] != again[0] {
		t.Errorf("a corrected VXU writes Encounter %v, the original %v", again, first)
	}
}

// TestMDMAddendumAppends: MDM^T06 carries an addendum to the document
// TXA-13 names. An addendum appends to its parent (v3 APND), which stays
// valid; "replaces" would tell the exchange the original note is
// superseded, and a reader shown only current documents would lose it.
func TestMDMAddendumAppends(t *testing.T) {
	c := testConverter(t)
	msg := func(trigger string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240401103000||MDM^" + trigger + "^MDM_T02|D-" + trigger + "|P|2.5.1\n" +
			"EVN|" + trigger + "|20240401103000\n" +
			"PID|1||A100^^^HOSP^MR||Doe^Pat||20200101|F\n" +
			"TXA|1|PN|TX|20240401100000||20240401101000||||||DOC-2^EHR|DOC-1^EHR||||AU\n" +
			"OBX|1|TX|11506-3^Progress note^LN||Addendum text.||||||F\n"
	}
	for trigger, want := range map[string]string{"T06": "appends", "T10": "replaces"} {
		dr := resources(t, convertString(t, c, msg(trigger)))["DocumentReference"][0]
		contains(t, trigger, dr, `"relatesTo":[{"code":"`+want+`"`)
	}
}

// TestMergeMRGBelongsToItsPID: the MRG of one A40 group must not be
// paired with another group's PID: a first group without its MRG is
// refused, not merged with the second group's prior record.
func TestMergeMRGBelongsToItsPID(t *testing.T) {
	c := testConverter(t)
	a40 := "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240321090000||ADT^A40^ADT_A39|M4|P|2.5\n" +
		"PID|1||1001^^^HOSP^MR||One^Ann||19800101|F\n" +
		"PID|2||2001^^^HOSP^MR||Two^Bob||19700101|M\n" +
		"MRG|2999^^^HOSP^MR\n"
	b, _, err := c.ConvertRaw([]byte(strings.ReplaceAll(a40, "\n", "\r")))
	if err == nil {
		for _, p := range resources(t, b)["Patient"] {
			if strings.Contains(p, `"value":"2999"`) && strings.Contains(p, entryIDs(t, b, "Patient")[0]) {
				t.Errorf("2999, the second group's prior record, is merged into 1001: %s", p)
			}
		}
		t.Errorf("A40 whose first group has no MRG converted")
	}
}
