package npi

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"1234567893":   true, // CMS's worked example
		"1234567890":   false,
		"5555555555":   false,
		"999999943252": false, // twelve digits
		"123456789":    false,
		"12345678 3":   false,
		"":             false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
