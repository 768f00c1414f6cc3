package config

import (
	"errors"
	"testing"
)

// TestTabIndentation: a tab in a line's indentation (Notepad's Tab key) is
// not YAML; the problem must say so and give the line the tab is on, which
// yaml.v3's "found character that cannot start any token" does not, and
// its line is sometimes the one before or, on line 1, none.
func TestTabIndentation(t *testing.T) {
	const want = "a tab indents this line; YAML indents with spaces only: replace the tab with spaces"
	for _, tc := range []struct {
		yaml string
		line int
	}{
		{"data_dir: /tmp/x\nsources:\n\tmllp:\n    - listen: 127.0.0.1:2575\n", 3},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n\t- listen: 127.0.0.1:2575\n", 4},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n\t  name: a\n", 5},
		{"data_dir: /tmp/x\nsources:\n  mllp:\n    - listen: 127.0.0.1:2575\n      \tname: a\n", 5},
		{"data_dir: /tmp/x\nlog:\n \t level: info\n", 3},
		{"\tdata_dir: /tmp/x\n", 1},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: Parse = %v, want one problem", tc.yaml, err)
			continue
		}
		if p := ce.Problems[0]; p.Line != tc.line || p.Msg != want {
			t.Errorf("%q: problem %q, want line %d: %s", tc.yaml, p, tc.line, want)
		}
	}
	// A tab after a key's colon separates; it is fine.
	if _, err := Parse("ferry.yaml", []byte("data_dir:\t/tmp/x\nlog:\n  level:\tinfo\n")); err != nil {
		t.Errorf("tab after a colon: %v", err)
	}
}

// TestTabAfterDashOrBlankLines: a tab after a list item's "-" (Tab
// pressed after the dash in Notepad), and a tab on a line below blank
// ones, were reported as yaml.v3's "found character that cannot start any
// token" or "found a tab character that violates indentation", since the
// tab was looked for only in the indentation of the line yaml.v3 gave and
// the one after it; they are said to be tabs, on the tab's line.
func TestTabAfterDashOrBlankLines(t *testing.T) {
	const want = "a tab indents this line; YAML indents with spaces only: replace the tab with spaces"
	for _, tc := range []struct {
		yaml string
		line int
	}{
		{"sources:\n  mllp:\n    -\tlisten: 127.0.0.1:2575\n      name: a\n", 3},
		{"sources:\n  mllp:\n    - \tlisten: 127.0.0.1:2575\n", 3},
		{"log:\n  level: info\n\n\t\nstatus:\n  listen: 127.0.0.1:8089\n", 4},
		{"log:\r\n  level: info\r\n\r\n  \r\n\t\r\n  phi: true\r\n", 5},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: Parse = %v, want one problem", tc.yaml, err)
			continue
		}
		if p := ce.Problems[0]; p.Line != tc.line || p.Msg != want {
			t.Errorf("%q: problem %q, want line %d: %s", tc.yaml, p, tc.line, want)
		}
	}
}
