package v2fhir

import (
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestTXKeepsLeadingSpaces: HL7 v2 (2.A.79) says of TX that leading
// spaces "may contribute greatly to the clarity of the presentation" and
// "should be included", trailing ones removed. Each line of a TX result
// was trimmed on both sides, so a report laid out with spaces (a
// susceptibility table, an indented impression) reached the exchange with
// its columns and indents gone. Trailing spaces still go, and a line of
// spaces alone is still no value; ST, left-justified, is trimmed as before.
func TestTXKeepsLeadingSpaces(t *testing.T) {
	msg := "MSH|^~\\&|LAB|ACME|FERRY|CLINIC|20240502101500||ORU^R01^ORU_R01|C7|P|2.5.1\n" +
		"PID|1||MRN1^^^CLINIC^MR||Doe^Pat||19780214|F\n" +
		"OBR|1|PL1|FL1|630-4^Bacteria identified in Urine by Culture^LN|||20240502083000\n" +
		"OBX|1|TX|630-4^Bacteria identified^LN||ORGANISM: E. coli   ~  Antibiotic     MIC   Interp~  Ampicillin     >=32  R   ~  Ciprofloxacin  <=0.25 S||||||F\n" +
		"OBX|2|TX|22636-5^Pathology report relevant history^LN||   indented alone  ||||||F\n" +
		"OBX|3|TX|22637-3^Final diagnosis^LN||    ||||||F\n" +
		"OBX|4|ST|8251-1^Service comment^LN||   left justified   ||||||F\n"
	obs := entriesOf[fhir.Observation](mustConvert(t, testConverter(t), msg))
	if len(obs) != 4 {
		t.Fatalf("%d observations", len(obs))
	}
	want := "ORGANISM: E. coli\n  Antibiotic     MIC   Interp\n  Ampicillin     >=32  R\n  Ciprofloxacin  <=0.25 S"
	if got := obs[0].ValueString; got != want {
		t.Errorf("TX table:\n%q\nwant\n%q", got, want)
	}
	if got := obs[1].ValueString; got != "   indented alone" {
		t.Errorf("TX one line: %q, want %q", got, "   indented alone")
	}
	if o := obs[2]; o.ValueString != "" || o.DataAbsentReason == nil {
		t.Errorf("TX of spaces: valueString %q, dataAbsentReason %+v; want none and one", o.ValueString, o.DataAbsentReason)
	}
	if got := obs[3].ValueString; got != "left justified" {
		t.Errorf("ST: %q, want %q", got, "left justified")
	}
}
