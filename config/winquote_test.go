package config

import (
	"errors"
	"strings"
	"testing"
)

// TestWindowsPathInDoubleQuotes: in a double-quoted YAML value a backslash
// starts an escape, so a Windows path written so ("C:\ProgramData\ferry",
// "\\fileserver\new\ehr") was taken with a paragraph separator, a form
// feed, a new line or an escape character where its backslashes were, and
// no word: ferry then used a folder nobody named. Such a value is refused
// naming its key and line and saying how to write it; one whose escape is
// none YAML knows ("D:\ferry\data": \d) says the same, not only yaml.v3's
// "found unknown escape character".
func TestWindowsPathInDoubleQuotes(t *testing.T) {
	const how = "single quotes"
	for _, tc := range []struct {
		yaml string
		path string
		line int
	}{
		{"log:\n  level: info\ndata_dir: \"C:\\ProgramData\\ferry\"\n", "data_dir", 3},
		{"data_dir: \"D:\\temp\\new\"\n", "data_dir", 1},
		{"data_dir: 'D:\\ferry'\nsources:\n  folders:\n    - name: ehr\n      kind: ehr\n      path: \"\\\\fileserver\\new\\ehr\"\n",
			"sources.folders[0].path", 6},
		{"log:\n  level: info\ndata_dir: \"D:\\ferry\\data\"\n", "", 3},
		{"data_dir: \"D:\\ferry\\data\"\n", "", 1},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: Parse = %v, want one problem", tc.yaml, err)
			continue
		}
		p := ce.Problems[0]
		if p.Path != tc.path || p.Line != tc.line || !strings.Contains(p.Msg, how) || !strings.Contains(p.Msg, "backslash") {
			t.Errorf("%q: problem %q, want line %d, path %q and a word on backslashes and %s", tc.yaml, p, tc.line, tc.path, how)
		}
	}
	// The same paths in single quotes, with forward slashes, or with their
	// backslashes doubled in double quotes are what they say.
	for _, s := range []string{
		"data_dir: 'C:\\ProgramData\\ferry'\n",
		"data_dir: C:\\ProgramData\\ferry\n",
		"data_dir: \"C:/ProgramData/ferry\"\n",
		"data_dir: \"C:\\\\ProgramData\\\\ferry\"\n",
	} {
		c, err := Parse("ferry.yaml", []byte(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if c.DataDir != `C:\ProgramData\ferry` && c.DataDir != `C:/ProgramData/ferry` {
			t.Errorf("%q: data_dir %q", s, c.DataDir)
		}
	}
	// A double-quoted escape in a value that is no Windows path is what
	// it says (ferry init quotes a data folder with a tab so).
	if c, err := Parse("ferry.yaml", []byte("data_dir: \"/srv/tab\\there\"\n")); err != nil || c.DataDir != "/srv/tab\there" {
		t.Errorf("a tab in a Unix path: %v", err)
	}
}
