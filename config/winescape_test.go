package config

import (
	"errors"
	"strings"
	"testing"
)

// TestWindowsPathEscapeToPrintable: a double-quoted Windows path whose
// backslash makes an escape of a printable character ("D:\_archive": \_ is
// a no-break space; "C:\xfer": \xfe is þ; "C:\ ferry": \ and a space is a
// space) was taken as that character, no word said, since only control
// characters were looked for: ferry then used a folder nobody named. Such
// a value is refused as the others are, naming its key and line.
func TestWindowsPathEscapeToPrintable(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		path string
		line int
	}{
		{"data_dir: \"D:\\_archive\"\n", "data_dir", 1},
		{"log:\n  level: info\ndata_dir: \"\\\\nas\\_ferry\"\n", "data_dir", 3},
		{"data_dir: \"C:\\xfer\"\n", "data_dir", 1},
		{"data_dir: \"C:\\ ferry\"\n", "data_dir", 1},
		{"data_dir: 'D:\\ferry'\nsources:\n  folders:\n    - {name: ehr, kind: ehr, path: \"E:\\_exports\"}\n", "sources.folders[0].path", 4},
		{"data_dir: 'D:\\ferry'\r\nsources:\r\n  folders:\r\n    - name: ehr\r\n      path: \"E:\\\\exports\\_new\"\r\n", "sources.folders[0].path", 5},
	} {
		_, err := Parse("ferry.yaml", []byte(tc.yaml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: Parse = %v, want one problem", tc.yaml, err)
			continue
		}
		p := ce.Problems[0]
		if p.Path != tc.path || p.Line != tc.line || !strings.Contains(p.Msg, "single quotes") || !strings.Contains(p.Msg, "backslash") {
			t.Errorf("%q: problem %q, want line %d, path %q and a word on backslashes and single quotes", tc.yaml, p, tc.line, tc.path)
		}
	}
	// Doubled backslashes, and escapes in a value that is no Windows
	// path, are what they say.
	for _, tc := range []struct{ yaml, want string }{
		{"data_dir: \"D:\\\\_archive\"\n", `D:\_archive`},
		{"data_dir: \"\\\\\\\\nas\\\\_ferry\"\n", `\\nas\_ferry`},
		{"data_dir: \"/srv/a\\_b\"\n", "/srv/a\u00a0b"},
	} {
		c, err := Parse("ferry.yaml", []byte(tc.yaml))
		if err != nil || c.DataDir != tc.want {
			t.Errorf("%q: %v, data_dir %q, want %q", tc.yaml, err, c.DataDir, tc.want)
		}
	}
}
