package fhir

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// fill sets every field of v reachable from it to a pseudo-random value,
// including the awkward ones (HTML characters, control bytes, invalid
// UTF-8, U+2028, empty versus nil slices), so that Marshal is compared
// with encoding/json on every field of every struct in this package.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		if v.Type() == reflect.TypeFor[json.Number]() {
			nums := []string{"0", "1.50", "-3", "2e10", "0.0001", ""}
			v.SetString(nums[r.IntN(len(nums))])
			return
		}
		strs := []string{"", "plain", "a<b>&c", "quote\"back\\slash", "ctl\x01\x1f\b\f\n\r\t", "bad\xffutf8", "line\u2028para\u2029", "ümlaut €"}
		v.SetString(strs[r.IntN(len(strs))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(r.IntN(5)) - 2)
	case reflect.Pointer:
		if depth > 3 || r.IntN(4) == 0 {
			return
		}
		n := reflect.New(v.Type().Elem())
		fill(r, n.Elem(), depth+1)
		v.Set(n)
	case reflect.Slice:
		if depth > 3 || r.IntN(4) == 0 {
			return
		}
		n := r.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth)
			}
		}
	case reflect.Interface:
		if r.IntN(3) == 0 {
			v.Set(reflect.ValueOf(json.RawMessage(`{"resourceType":"Basic", "x" : [1, 2]}`)))
		} else if r.IntN(2) == 0 {
			p := &Patient{}
			fill(r, reflect.ValueOf(p).Elem(), depth+1)
			v.Set(reflect.ValueOf(p))
		}
	}
}

var allTypes = []any{
	Bundle{}, Patient{}, Encounter{}, Observation{}, DiagnosticReport{}, MessageHeader{}, Provenance{},
	Practitioner{}, Organization{}, Coverage{}, ServiceRequest{}, Appointment{}, AllergyIntolerance{},
	Condition{}, Medication{}, MedicationRequest{}, MedicationStatement{}, Immunization{}, Procedure{},
	DocumentReference{}, Binary{}, Composition{}, List{}, Extension{}, Attachment{}, Quantity{},
}

// TestMarshalMatchesEncodingJSON: for random values of every type, Marshal
// gives the same bytes (or the same failure) as encoding/json.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, proto := range allTypes {
		typ := reflect.TypeOf(proto)
		for i := 0; i < 300; i++ {
			v := reflect.New(typ)
			fill(r, v.Elem(), 0)
			want, werr := json.Marshal(v.Interface())
			want = controlsAsSpaces(want)
			got, gerr := Marshal(v.Interface())
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("%s: error mismatch: encoding/json %v, fhir %v", typ, werr, gerr)
			}
			if werr == nil && !bytes.Equal(got, want) {
				t.Fatalf("%s differs:\n got %s\nwant %s", typ, got, want)
			}
			// By value, too.
			got2, _ := Marshal(v.Elem().Interface())
			if werr == nil && !bytes.Equal(got2, want) {
				t.Fatalf("%s by value differs", typ)
			}
		}
	}
	for _, v := range []any{nil, (*Patient)(nil), []Coding(nil), []Coding{}, "x<y", 3, true, map[string]int{"a": 1}, 1.5} {
		want, _ := json.Marshal(v)
		got, err := Marshal(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var bundle Bundle
	fill(r, reflect.ValueOf(&bundle).Elem(), 0)
	b.Run("fhir", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(&bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendStringEveryPosition: each byte that needs escaping (and a few
// multi-byte runes) is found wherever it sits in strings long enough for
// the word-at-a-time scan.
func TestAppendStringEveryPosition(t *testing.T) {
	specials := []string{"\"", "\\", "<", ">", "&", "\x00", "\x01", "\x1f", "\n", "\x7f", "\x80", "\xff", "é", "€", "\u2028", "\u2029", " ", "~", "!"}
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos-1)
				want, _ := json.Marshal(s)
				want = controlsAsSpaces(want)
				want = controlsAsSpaces(want)
				if got := appendString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("%q: got %s, want %s", s, got, want)
				}
			}
		}
	}
}

// TestPlain8: the word test agrees with the byte table for every byte value
// at every position, alone and beside any other byte (borrows between
// bytes are where such tricks go wrong).
func TestPlain8(t *testing.T) {
	safe := func(w [8]byte) bool {
		for _, c := range w {
			if !safeByte[c] {
				return false
			}
		}
		return true
	}
	word := func(w [8]byte) uint64 {
		var x uint64
		for i := 7; i >= 0; i-- {
			x = x<<8 | uint64(w[i])
		}
		return x
	}
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			for pa := 0; pa < 8; pa++ {
				for _, pb := range []int{(pa + 1) % 8, (pa + 7) % 8, (pa + 3) % 8} {
					w := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
					w[pb] = byte(b)
					w[pa] = byte(a)
					if got, want := plain8(word(w)), safe(w); got != want {
						t.Fatalf("plain8(%q) = %v, want %v", w[:], got, want)
					}
				}
			}
		}
	}
}

// TestAppendStringTwoSpecials: strings with two bytes or runes that need
// care, at every pair of positions, so that every scan (eight bytes at a
// time, the overlapping last word, the four-byte halves, byte by byte)
// resumes correctly after an escape.
func TestAppendStringTwoSpecials(t *testing.T) {
	specials := []string{"\"", "\\", "<", ">", "&", "\x00", "\x1f", "\n", "\x7f", "\xff", "é", "\u2028", "~", "\xe2\x80", "\xc3"}
	for n := 2; n <= 20; n++ {
		for p1 := 0; p1 < n; p1++ {
			for p2 := p1 + 1; p2 < n; p2++ {
				for _, s1 := range specials {
					for _, s2 := range specials {
						s := strings.Repeat("a", p1) + s1 + strings.Repeat("b", p2-p1-1) + s2 + strings.Repeat("c", n-p2-1)
						want, _ := json.Marshal(s)
						want = controlsAsSpaces(want)
						want = controlsAsSpaces(want)
						want = controlsAsSpaces(want)
						if got := appendString(nil, s); !bytes.Equal(got, want) {
							t.Fatalf("%q: got %s, want %s", s, got, want)
						}
					}
				}
			}
		}
	}
}

// TestAppendStringRandom: random strings over bytes that need care (every
// escape class, HTML characters, invalid and truncated UTF-8, U+2028/9)
// mixed with plain ones, in lengths around the eight-byte word, encode as
// encoding/json does.
func TestAppendStringRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"a", "Z", "0", " ", "~", "/", ":", "\"", "\\", "<", ">", "&", "\x00", "\b", "\f", "\n", "\r", "\t", "\x1f", "\x7f",
		"\x80", "\xbf", "\xc3", "\xe2\x80", "\xff", "é", "€", "\u2028", "\u2029", "𝄞", "\xf0\x9d\x84"}
	for iter := 0; iter < 20000; iter++ {
		var sb strings.Builder
		n := r.IntN(40)
		plain := r.IntN(2) == 0 // mostly plain, like real bundles, or anything
		for sb.Len() < n {
			if plain && r.IntN(10) > 0 {
				sb.WriteString(pieces[r.IntN(7)])
			} else {
				sb.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		s := sb.String()
		want, _ := json.Marshal(s)
		want = controlsAsSpaces(want)
		if got := appendString([]byte("prefix"), s); !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("%q: got %s, want %s", s, got[len("prefix"):], want)
		}
	}
}

// BenchmarkAppendString: the string shapes of a real bundle (ids, URLs,
// short codes) and of the awkward ones BenchmarkMarshal fills in.
func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"code", "final"},
		{"urn", "urn:uuid:84e51a82-c443-5a2b-a773-b7adc9a7f5cb"},
		{"text", "Leukocytes [#/volume] in Blood by Automated count"},
		{"escapes", "ctl\x01\x1f\b\f\n\r\t a<b>&c quote\"back\\slash"},
		{"utf8", "ümlaut € line\u2028para\u2029 bad\xffutf8"},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = appendString(buf[:0], c.s)
			}
		})
	}
}

// controlsAsSpaces turns encoding/json's output into what Marshal writes:
// the escapes of control characters a FHIR string may not hold (all below
// U+0020 but tab, CR and LF: \b, \f, \u0000-\u001f) become spaces, the
// one place where Marshal departs from encoding/json on purpose.
func controlsAsSpaces(j []byte) []byte {
	out := make([]byte, 0, len(j))
	for i := 0; i < len(j); i++ {
		if j[i] != '\\' || i+1 >= len(j) {
			out = append(out, j[i])
			continue
		}
		switch e := j[i+1]; {
		case e == 'b' || e == 'f':
			out = append(out, ' ')
			i++
		case e == 'u' && i+5 < len(j) && string(j[i+2:i+4]) == "00" && (j[i+4] == '0' || j[i+4] == '1'):
			out = append(out, ' ')
			i += 5
		default:
			out = append(out, j[i], e)
			i++
		}
	}
	return out
}

// TestControlCharactersAreSpaces: a FHIR string holds no control
// character but tab, CR and LF; an HL7 v2 \X07\ or \X0C\ (or a raw one in
// a CSV cell) in a name or a note made the resource, and with it the
// whole transaction, invalid at a validating exchange. Each is written as
// a space; tab, CR and LF keep their escapes.
func TestControlCharactersAreSpaces(t *testing.T) {
	got, err := Marshal(&Patient{ResourceType: "Patient", Name: []HumanName{{Family: "Do\x07e", Given: []string{"Jo\x0c\x00\x1f\b"}, Text: "a\tb\r\nc<&>"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"resourceType":"Patient","name":[{"text":"a\tb\r\nc\u003c\u0026\u003e","family":"Do e","given":["Jo    "]}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
