package hl7v2

import "testing"

// TestFormattingSkip: the FT formatting command .sk <number> means "skip
// <number> spaces to the right" (HL7 v2.5.1 §2.7.6), which lab systems
// use to lay out a report line. It was dropped like the indentation
// commands, so "Glucose\.sk 4\95 mg/dL" read "Glucose95 mg/dL". It now
// reads as that many spaces (one when the number is absent).
func TestFormattingSkip(t *testing.T) {
	for in, want := range map[string]string{
		`Glucose\.sk 4\95 mg/dL`: "Glucose    95 mg/dL",
		`Glucose\.sk4\95 mg/dL`:  "Glucose    95 mg/dL",
		`Glucose\.sk\95 mg/dL`:   "Glucose 95 mg/dL",
		`Glucose\.sk+2\95 mg/dL`: "Glucose  95 mg/dL",
		`a\.sk 999\b`:            "a" + spaces(100) + "b",
		`Glucose\.skx\95 mg/dL`:  `Glucose\.skx\95 mg/dL`,
		`Glucose\.in+4\95 mg/dL`: "Glucose95 mg/dL",
		`Glucose\.ti-2\95 mg/dL`: "Glucose95 mg/dL",
	} {
		m := mustParse(t, "MSH|^~\\&|A\rOBX|1|FT|||"+in+"\r")
		if got := m.Get("OBX-5"); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}
