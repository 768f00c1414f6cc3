package config

import (
	"errors"
	"strings"
	"testing"
)

// TestParseListsEveryProblem: an unknown key and a mistyped value do not
// hide the other problems. Parse reports them with their field paths and
// the Validate problems of the rest of the file too, still refuses the
// file (no *Config), and a mistyped value is reported once, as a type,
// not again as whatever Validate makes of the zero it decoded to.
func TestParseListsEveryProblem(t *testing.T) {
	const file = `data_dir: /var/lib/ferry
sources:
  mllp:
    - name: main
      listen: [127.0.0.1, 2575]
      max_conn: 10
log:
  level: loud
exchange:
  url: ftp://hie.example
`
	c, err := Parse("ferry.yaml", []byte(file))
	if c != nil {
		t.Fatal("a file with problems gave a configuration")
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v", err, err)
	}
	paths := map[string]int{}
	for _, p := range ce.Problems {
		paths[p.Path]++
		if p.Line == 0 {
			t.Errorf("%s: no line", p)
		}
	}
	for _, want := range []string{"sources.mllp[0].listen", "sources.mllp[0].max_conn", "log.level", "exchange.url"} {
		if paths[want] == 0 {
			t.Errorf("no problem at %s:\n%v", want, err)
		}
	}
	if paths["sources.mllp[0].listen"] != 1 {
		t.Errorf("the mistyped listen is reported %d times:\n%v", paths["sources.mllp[0].listen"], err)
	}
	if !strings.Contains(ce.Problems[0].Msg, "cannot unmarshal") || !strings.Contains(ce.Problems[1].Msg, `unknown key "max_conn"`) {
		t.Errorf("decode problems first, in file order:\n%v", err)
	}
}

// TestParseSyntaxErrorStops: a file that is not YAML at all has nothing
// else to validate.
func TestParseSyntaxErrorStops(t *testing.T) {
	_, err := Parse("ferry.yaml", []byte("log:\n  level: [info\n"))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 {
		t.Fatalf("error %v", err)
	}
}
