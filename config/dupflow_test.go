package config

import (
	"errors"
	"testing"
)

// TestDuplicateKeyPath: a key given twice in a flow mapping, as README
// writes folders ({name: ehr, kind: ehr, path: /srv/a, path: /srv/b}),
// was reported under the path of the first key on its line
// ("sources.folders[0].name: mapping key \"path\" already defined"), so
// the problem named a field that is fine; it names the key given twice,
// as an unknown or mistyped key's problem does.
func TestDuplicateKeyPath(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{"sources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/a, path: /srv/b}\n", "sources.folders[0].path"},
		{"sources:\n  mllp:\n    - {listen: 127.0.0.1:2575, name: a, name: b}\n", "sources.mllp[0].name"},
		{"log:\n  level: info\n  level: debug\n", "log.level"},
	} {
		_, err := Parse("t.yaml", []byte(tc.yml))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Errorf("%q: %v, want one problem", tc.yml, err)
			continue
		}
		if p := ce.Problems[0]; p.Path != tc.want {
			t.Errorf("%q: the problem is at %q (%s), want %s", tc.yml, p.Path, p.Msg, tc.want)
		}
	}
}
