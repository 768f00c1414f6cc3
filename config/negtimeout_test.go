package config

import (
	"errors"
	"testing"
)

// TestNegativeTimeoutOneProblem: exchange.timeout written negative (-30s)
// was refused, and exchange.retry.unknown_outcome_delay, whose default it
// is, with it ("must not be negative"), though the file does not set it,
// sending the contractor after a key that is not there; the timeout's
// problem is the only one.
func TestNegativeTimeoutOneProblem(t *testing.T) {
	_, err := Parse("t.yaml", []byte("exchange:\n  timeout: -30s\n"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a problem", err)
	}
	if len(ce.Problems) != 1 || ce.Problems[0].Path != "exchange.timeout" {
		t.Errorf("problems:\n%v\nwant exchange.timeout's alone", err)
	}
}
