package csvfhir

import (
	"errors"
	"strings"
	"testing"
)

// TestValueWithCommaNoDecimalComma: a lab export written with decimal
// commas (5,4), read by a mapping without decimal_separator: ",", had
// its valueQuantity.value and referenceRange cells refused ("set
// decimal_separator"), but its value column went to the exchange as
// the text "5,4", without its unit (mmol/L or mg/dL?), and the file
// passed; so did 10,500 written with a thousands separator. As with a
// '.' under a decimal comma, such a number is now a row error naming
// the setting; text that is no number ("Hämolyse 1,2") is text still.
func TestValueWithCommaNoDecimalComma(t *testing.T) {
	m := labsMapping()
	in := "MRN;LOINC;Test;Result;Units;Date;Flag\n" +
		"123;2345-7;Glucose;5,4;mmol/L;3/4/2024;N\n" +
		"123;718-7;Hgb;<0,1;g/dL;3/4/2024;N\n" +
		"123;6690-2;WBC;10,500;/uL;3/4/2024;N\n" +
		"123;718-7;Hgb;5.4;g/dL;3/4/2024;N\n" +
		"123;5196-1;HBsAg;Negative, confirmed;;3/4/2024;N\n"
	_, err := Convert([]byte(in), m, Options{})
	var fe *Error
	if !errors.As(err, &fe) || len(fe.Rows) != 3 {
		t.Fatalf("err %v, want lines 2 to 4 refused", err)
	}
	for i, line := range []int{2, 3, 4} {
		if r := fe.Rows[i]; r.Line != line || r.Column != "Result" || !strings.Contains(r.Msg, "decimal_separator") {
			t.Errorf("error %d: %s, want line %d, column Result, decimal_separator", i, r, line)
		}
	}
	parts, err := Convert([]byte(strings.Join(append(strings.SplitAfter(in, "\n")[:1], strings.SplitAfter(in, "\n")[4:]...), "")), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if obs := observations(parts); len(obs) != 2 || obs[0].ValueQuantity == nil || obs[1].ValueString != "Negative, confirmed" {
		t.Errorf("5.4 and text: %+v", obs)
	}
}
