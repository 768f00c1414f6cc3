package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestVersionRefusesArguments: README's exit statuses say a flag a
// command does not know is a usage mistake (2); `ferry version` ignored
// whatever followed it and printed the version with 0. --help still
// succeeds.
func TestVersionRefusesArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0}, {[]string{"version", "--help"}, 0},
		{[]string{"version", "--bogus"}, 2}, {[]string{"version", "extra"}, 2},
	} {
		var out, errOut bytes.Buffer
		if code := runMain(context.Background(), tc.args, &out, &errOut); code != tc.code {
			t.Errorf("ferry %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, errOut.String())
		}
	}
}
