package csvfhir

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestCarriageReturnLineEnds: Excel for Mac's "CSV (Macintosh)" and
// other classic Mac OS programs end each line with a carriage return
// alone (and a line break inside a cell with a line feed). The reader
// took the whole file for its header, and refused it as lacking a
// column the header has ("the header lacks the column(s) "DOB""). Such
// a file is read line by line, a cell's line feed kept, and its rows
// are named by their lines.
func TestCarriageReturnLineEnds(t *testing.T) {
	in := "MRN,Last,First,Sex,DOB\r7,\"A\nB\",C,M,1970-01-02\r8,D,E,F,1970-01-03\r"
	parts, err := Convert([]byte(in), patientsMapping(), Options{})
	if err != nil || len(parts) != 2 {
		t.Fatalf("%d parts, %v; want 2", len(parts), err)
	}
	if p := parts[0].Bundle.Entry[0].Resource.(*fhir.Patient); p.Name[0].Family != "A\nB" || p.BirthDate != "1970-01-02" {
		t.Errorf("first patient %+v", p.Name)
	}
	if p := parts[1].Bundle.Entry[0].Resource.(*fhir.Patient); p.Identifier[0].Value != "8" || p.BirthDate != "1970-01-03" {
		t.Errorf("second patient %+v", p.Identifier)
	}

	// A bad row is named by its line.
	_, err = Convert([]byte(strings.Replace(in, "1970-01-03", "3.1.1970", 1)), patientsMapping(), Options{})
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Rows) != 1 || fe.Rows[0].Line != 4 || fe.Rows[0].Column != "DOB" {
		t.Errorf("err %v, want line 4, column DOB", err)
	}
}
