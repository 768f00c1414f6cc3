package v2fhir

import (
	"errors"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestContactPeriod: NK1-8 and NK1-9 give when the next of kin or
// associated party began and stopped being one (HL7 v2.5.1 3.4.5.8 "the
// start date of the contact role", 3.4.5.9 "the end date of the contact
// role"), and the v2-to-FHIR IG's NK1[Patient] map writes them as
// contact.period.start and .end. They were read past, so a contact whose
// role had ended (the corpus's mother, a contact from 1 January to 1
// February 2021) reached the exchange as one without end, to be called
// today. An end before the start is left out (FHIR R4 per-1), and a date
// that is none is refused naming its field, as IN1-12's is.
func TestContactPeriod(t *testing.T) {
	c := testConverter(t)
	b, _, err := c.ConvertRaw(corpusMessage(t, "ADT-A06-01.hl7"))
	if err != nil {
		t.Fatal(err)
	}
	p := entriesOf[fhir.Patient](b)
	if len(p) == 0 || len(p[0].Contact) == 0 {
		t.Fatal("no Patient contact")
	}
	got := p[0].Contact[0].Period
	if got == nil || got.Start != "2021-01-01" || got.End != "2021-02-01" {
		t.Errorf("contact period %s, want 2021-01-01 to 2021-02-01", toJSON(got))
	}

	msg := func(nk1 string) string {
		return "MSH|^~\\&|EHR|CLINIC|FERRY|HIE|20240403140000||ADT^A08^ADT_A01|NK-1|P|2.5.1\r" +
			"EVN|A08|20240403140000\r" +
			"PID|1||MRN1^^^CLINIC^MR||Rivera^Ana||19780214|F\r" +
			nk1 + "\r"
	}
	b = mustConvert(t, c, msg("NK1|1|Rivera^Carlos|SPO^Spouse^HL70063|||||20240301|20230101"))
	if got := entriesOf[fhir.Patient](b)[0].Contact[0].Period; got == nil || got.Start != "2024-03-01" || got.End != "" {
		t.Errorf("end before start: period %s, want the start alone", toJSON(got))
	}
	_, _, err = c.ConvertRaw([]byte(msg("NK1|1|Rivera^Carlos|SPO^Spouse^HL70063|||||2024-03-01")))
	var ce *ContentError
	if !errors.As(err, &ce) || ce.Field != "NK1-8" {
		t.Errorf("NK1-8 that is no date: %v, want an error naming NK1-8", err)
	}
}
