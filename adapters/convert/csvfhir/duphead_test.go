package csvfhir

import (
	"strings"
	"testing"
)

// TestAmbiguousHeaderRefused: a report export joined from two tables
// often repeats a header ("Date" of the order and of the result, "Name"
// of the patient and of the provider). A mapping naming such a column
// took the first silently, which may be the wrong one: the file is
// refused, naming the column and where it appears, so the operator
// renames one in the export. A repeated column the mapping does not use
// does not matter.
func TestAmbiguousHeaderRefused(t *testing.T) {
	_, err := Convert([]byte("MRN,Last,First,Sex,DOB,last\n1,A,B,M,1970-01-02,Z\n"), patientsMapping(), Options{})
	if err == nil || !strings.Contains(err.Error(), `"Last"`) || !strings.Contains(err.Error(), "columns 2 and 6") {
		t.Fatalf("Last twice: %v, want a refusal naming the column", err)
	}
	if _, err := Convert([]byte("MRN,Last,First,Sex,DOB,Note,Note\n1,A,B,M,1970-01-02,x,y\n"), patientsMapping(), Options{}); err != nil {
		t.Fatalf("an unmapped column twice: %v", err)
	}
}
