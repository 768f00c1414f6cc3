package main

import (
	"bytes"
	"context"
	"testing"
)

// TestDemoRefusesArguments: `ferry demo keep` (the flag's dashes
// forgotten) ran the demo and removed the folder it was asked to keep,
// with status 0; like `ferry version extra` it is a usage mistake (2).
func TestDemoRefusesArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain(context.Background(), []string{"demo", "keep"}, &out, &errOut); code != 2 {
		t.Errorf("ferry demo keep: exit %d, want 2\n%s%s", code, &out, &errOut)
	}
	if out.Len() > 0 {
		t.Errorf("the demo ran:\n%s", &out)
	}
}
