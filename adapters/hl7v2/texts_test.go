package hl7v2

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTextsAgreesWithText: Texts gives each component what Text and a
// plain strings.TrimSpace of Comp(n).String() give, for random fields
// made of delimiters, escapes, the explicit null, ASCII and Unicode
// white space and other text.
func TestTextsAgreesWithText(t *testing.T) {
	pieces := []string{"^", "^", "~", "&", `\`, `\T\`, `\X41\`, `""`, " ", "\t", "\u00a0", "\u2003", "é", "A", "bc", "12", "!", "\x7f", "~x"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		field := b.String()
		m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||" + field + "\r"))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []Value{m.segs[1].Field(3), m.segs[1].Field(3).Rep(1), m.segs[1].Field(3).Rep(2)} {
			var got [6]string
			v.Texts(got[:])
			for i := range got {
				if want := v.Text(i + 1); got[i] != want {
					t.Fatalf("%q: Texts[%d] = %q, Text(%d) = %q", field, i, got[i], i+1, want)
				}
				if want := strings.TrimSpace(v.Comp(i + 1).String()); got[i] != want {
					t.Fatalf("%q: Texts[%d] = %q, TrimSpace = %q", field, i, got[i], want)
				}
			}
		}
	}
}
