package v2fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// TestBirthTimeKept: PID-7 is a DTM, and a newborn's gives the time of
// birth, which tells twins apart as nothing else in the PID may. The IG
// (PID[Patient]: "IF PID-7 LENGTH GREATER THAN 8") writes it as the
// patient-birthTime extension on birthDate; it was dropped, birthDate
// keeping the day alone. A date alone, or a day padded with a midnight
// of zeros as many systems send a date, gives no birth time.
func TestBirthTimeKept(t *testing.T) {
	for _, tc := range []struct{ pid7, date, birthTime string }{
		{"202403150742", "2024-03-15", "2024-03-15T07:42:00-05:00"},
		{"20240315074230-0600", "2024-03-15", "2024-03-15T07:42:30-06:00"},
		{"2024031507", "2024-03-15", "2024-03-15T07:00:00-05:00"},
		{"20240315", "2024-03-15", ""},
		{"20240315000000", "2024-03-15", ""},
		{"202403", "2024-03", ""},
	} {
		t.Run(tc.pid7, func(t *testing.T) {
			msg := "MSH|^~\\&|A|F|||20240316120000||ADT^A08|C1|P|2.5.1\nPID|1||123^^^HOSP^MR||Doe^Baby||" + tc.pid7 + "|F"
			b := mustConvert(t, testConverter(t), msg)
			p, _ := patientOf(t, b)
			if p.BirthDate != tc.date {
				t.Errorf("birthDate %q, want %q", p.BirthDate, tc.date)
			}
			j, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				BirthDate *struct {
					Extension []struct{ URL, ValueDateTime string }
				} `json:"_birthDate"`
			}
			if err := json.Unmarshal(j, &got); err != nil {
				t.Fatal(err)
			}
			bt := ""
			if got.BirthDate != nil {
				for _, e := range got.BirthDate.Extension {
					if e.URL == "http://hl7.org/fhir/StructureDefinition/patient-birthTime" {
						bt = e.ValueDateTime
					}
				}
			}
			if bt != tc.birthTime {
				t.Errorf("birth time %q, want %q (%s)", bt, tc.birthTime, j)
			}
			sent, err := fhir.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if tc.birthTime != "" && !strings.Contains(string(sent), `"_birthDate"`) {
				t.Error("the bundle as sent has no _birthDate")
			}
			strictR4(t, sent)
		})
	}
}
