package csvfhir

import (
	"slices"
	"testing"
)

// TestSpaceBeforeQuotedField: report writers that separate fields with
// ", " quote a field holding the delimiter after that space
// (MRN, "Last", First). The csv reader took the quote for one inside an
// unquoted field and refused the whole file at the header ("bare \" in
// non-quoted-field"). Cells are trimmed anyway, so a space before the
// opening quote is now skipped; with a tab delimiter, where a leading
// tab is an empty field, nothing is skipped.
func TestSpaceBeforeQuotedField(t *testing.T) {
	p := onePatient(t, []byte("MRN, \"Last\", First, Sex, DOB\r\n"+
		"7, \"O'Brien, Jr\", \"Mary Ann\", F, 1970-01-02\r\n"), patientsMapping())
	if p.Name[0].Family != "O'Brien, Jr" || !slices.Equal(p.Name[0].Given, []string{"Mary Ann"}) || p.Gender != "female" || p.BirthDate != "1970-01-02" {
		t.Fatalf("patient %+v", p)
	}
	// Tab-delimited: an empty first name stays a field of its own.
	p = onePatient(t, []byte("MRN\tLast\tFirst\tSex\tDOB\n7\tSmith\t\tF\t1970-01-02\n"), patientsMapping())
	if p.Name[0].Family != "Smith" || len(p.Name[0].Given) != 0 || p.Gender != "female" {
		t.Fatalf("tab-delimited patient %+v", p)
	}
}
