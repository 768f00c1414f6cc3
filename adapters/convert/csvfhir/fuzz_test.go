package csvfhir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/fhir"
)

// fuzzMappings are fixed valid mappings for FuzzConvert: the ones of the
// unit tests and of the golden cases.
func fuzzMappings(f *testing.F) ([]*Mapping, [][]byte) {
	ms := []*Mapping{labsMapping(), patientsMapping()}
	ins := [][]byte{[]byte(labsCSV), []byte("MRN;Last;First;Sex;DOB\r\n7;Müller;Zoë;F;1970-01-02\r\n")}
	dirs, _ := filepath.Glob("../../../testdata/convert/csv-*")
	for _, dir := range dirs {
		y, err := os.ReadFile(filepath.Join(dir, "mapping.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		var m Mapping
		if err := yaml.Unmarshal(y, &m); err != nil {
			f.Fatalf("%s: %v", dir, err)
		}
		in, err := os.ReadFile(filepath.Join(dir, "input.csv"))
		if err != nil {
			f.Fatal(err)
		}
		ms, ins = append(ms, &m), append(ins, in)
	}
	for _, m := range ms {
		if ps := m.Validate(); len(ps) > 0 {
			f.Fatalf("mapping %s: %v", m.Match, ps)
		}
	}
	return ms, ins
}

type encodedPart struct {
	meta Part // without the bundle
	js   []byte
}

func encodeParts(t *testing.T, parts []Part) []encodedPart {
	t.Helper()
	out := make([]encodedPart, len(parts))
	for i, p := range parts {
		js, err := fhir.Marshal(p.Bundle)
		if err != nil {
			t.Fatalf("part %d does not encode: %v", i+1, err)
		}
		p.Bundle = nil
		out[i] = encodedPart{p, js}
	}
	return out
}

// FuzzConvert: no file makes Convert panic; a file converts either to an
// error or to parts whose bundles encode and hold every entry once with
// every reference resolved; a file with any row error gives no part at
// all, not even to ConvertEach's emit; and ConvertEach emits what Convert
// returns.
func FuzzConvert(f *testing.F) {
	ms, ins := fuzzMappings(f)
	for i, in := range ins {
		f.Add(in, byte(i))
	}
	f.Add([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n1,2,3,4 \"x\" 5,6,7,8\n"), byte(0))
	f.Add([]byte("MRN,LOINC,Test,Result,Units,Date,Flag\n\"1\n2\",2345-7,G,5,mg,3/4/2024,\n,,,,,,\n123,2345-7,G,6,mg,3/4/2024,H\n123,2345-7,G,6,mg,3/4/2024,H\n"), byte(0))
	f.Fuzz(func(t *testing.T, in []byte, pick byte) {
		m := ms[int(pick)%len(ms)]
		opts := Options{Mode: Mode(pick / 16 % 3), PatientCreateOnly: pick&0x08 != 0, LogPHI: pick&0x80 != 0}
		if pick&0x40 != 0 {
			opts.MaxEntries = 2
		}
		parts, err := Convert(in, m, opts)
		var emitted []Part
		errEach := ConvertEach(in, m, opts, func(p Part) error {
			emitted = append(emitted, p)
			return nil
		})
		if (err == nil) != (errEach == nil) || err != nil && err.Error() != errEach.Error() {
			t.Fatalf("Convert: %v; ConvertEach: %v", err, errEach)
		}
		if err != nil {
			if parts != nil {
				t.Fatalf("%d parts with error %v", len(parts), err)
			}
			if strings.Contains(err.Error(), "read again") {
				t.Fatalf("the second pass read a row differently: %v", err)
			}
			var re *Error
			if errors.As(err, &re) {
				if len(re.Rows) == 0 {
					t.Fatalf("row error without rows: %v", err)
				}
				if len(emitted) > 0 {
					t.Fatalf("%d parts emitted for a file with row errors: %v", len(emitted), err)
				}
			}
			return
		}
		if len(parts) == 0 {
			t.Fatal("no error and no part")
		}
		got, want := encodeParts(t, emitted), encodeParts(t, parts)
		if len(got) != len(want) {
			t.Fatalf("ConvertEach emitted %d parts, Convert returned %d", len(got), len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i].meta, want[i].meta) || !bytes.Equal(got[i].js, want[i].js) {
				t.Fatalf("part %d: ConvertEach\n%+v %s\nConvert\n%+v %s", i+1, got[i].meta, got[i].js, want[i].meta, want[i].js)
			}
		}
		for _, p := range parts {
			checkBundle(t, p)
		}
	})
}

// fhirDate and fhirDateTime are FHIR R4's date and dateTime.
var (
	fhirDate     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	fhirDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
)

// FuzzDates: no date format or cell makes ParseLayout or the cell reader
// panic, and a cell that reads gives a FHIR date (or dateTime).
func FuzzDates(f *testing.F) {
	for _, c := range [][2]string{
		{"M/D/YYYY", "3/4/2024"}, {"DD.MM.YYYY HH:mm", "04.03.2024 14:30"}, {"MM/DD/YYYY hh:mm A", "03/04/2024 02:30 PM"},
		{"YYYY-MM-DDTHH:mm:ssZ", "2024-07-01T10:00:00-04:00"}, {"YYYY-MM", "2024-07"}, {"YYYYMMDD", "20240229"},
		{"YYYY", "0999"}, {"YYYY-MM-DDTHH:mm:ssZ", "2024-07-01T10:00:00+23:59"}, {"D/M/YYYY H:mm", "31/12/9999 23:59"},
	} {
		f.Add(c[0], c[1], false)
		f.Add(c[0], c[1], true)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, format, cell string, dateOnly bool) {
		l, err := ParseLayout(format)
		if err != nil {
			return
		}
		dp := &cellReader{layouts: []Layout{l}, loc: berlin}
		got, err := dp.parse(cell, dateOnly)
		if err != nil {
			return
		}
		re := fhirDateTime
		if dateOnly {
			re = fhirDate
		}
		if !re.MatchString(got) {
			t.Fatalf("format %q, cell %q (date only %v): %q is not a FHIR date", format, cell, dateOnly, got)
		}
	})
}

// FuzzDecode: any bytes in any encoding decode without a panic to valid
// UTF-8, or to an error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("MRN;Last\r\n7;Müller\r\n"), byte(0))
	f.Add([]byte{0xEF, 0xBB, 0xBF, 'a', ',', 0xC3}, byte(1))
	f.Add([]byte{0xFF, 0xFE, 'a', 0, 0x00, 0xD8, ',', 0}, byte(2))
	f.Add([]byte{0xFE, 0xFF, 0, 'a', 0xD8}, byte(0))
	f.Add([]byte{'M', 0x81, 0xFC, 0x9D}, byte(3))
	f.Fuzz(func(t *testing.T, in []byte, which byte) {
		encs := append([]string{""}, Encodings...)
		enc := encs[int(which)%len(encs)]
		if which >= 128 {
			enc = strings.ToUpper(enc)
		}
		text, name, err := Decode(in, enc)
		if err != nil {
			return
		}
		if !utf8.ValidString(text) {
			t.Fatalf("%q in %q: invalid UTF-8 %q", in, enc, text)
		}
		if !slices.Contains(Encodings, name) {
			t.Fatalf("%q in %q: read as %q", in, enc, name)
		}
		_ = SniffDelimiter(text)
	})
}
