package ehrdrop

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func TestSniff(t *testing.T) {
	ccd := `<?xml version="1.0"?><!-- c --><ClinicalDocument xmlns="urn:hl7-org:v3"><id/></ClinicalDocument>`
	cases := []struct {
		name, file string
		data       []byte
		want       string
		charset    string
	}{
		{"ccda", "a.xml", []byte(ccd), FormatCCDA, ""},
		{"ccda with BOM and blank lines", "a.cda", append([]byte{0xEF, 0xBB, 0xBF}, "\r\n\n  "+ccd...), FormatCCDA, ""},
		{"ccda utf-16", "a.xml", utf16LE(`<?xml version="1.0" encoding="UTF-16"?>` + "\n" + ccd), FormatCCDA, "utf-16le"},
		{"ccda prefixed root", "a.xml", []byte(`<v3:ClinicalDocument xmlns:v3="urn:hl7-org:v3"/>`), FormatCCDA, ""},
		{"ccda wrong extension", "export.dat", []byte(ccd), FormatCCDA, ""},
		{"msh", "m.hl7", []byte("MSH|^~\\&|A|B\rPID|1\r"), FormatHL7v2Batch, ""},
		{"msh after whitespace", "m.txt", []byte("\n\r\n MSH|^~\\&|A\r"), FormatHL7v2Batch, ""},
		{"msh with BOM", "m", append([]byte{0xEF, 0xBB, 0xBF}, "MSH|^~\\&|A\r"...), FormatHL7v2Batch, ""},
		{"fhs", "b.hl7", []byte("FHS|^~\\&|\rBHS|^~\\&|\rMSH|^~\\&|\rBTS|1\rFTS|1\r"), FormatHL7v2Batch, ""},
		{"bhs", "b.hl7", []byte("BHS|^~\\&|\rMSH|^~\\&|\r"), FormatHL7v2Batch, ""},
		{"msh other separator", "b.hl7", []byte("MSH#^~\\&#A\r"), FormatHL7v2Batch, ""},
		{"fhir json pretty", "b.json", []byte("{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"collection\"\n}\n"), FormatFHIRJSON, ""},
		{"fhir json resourceType late", "b.json", []byte("{\n \"id\": \"x\", \"meta\": {\"resourceType\": 1, \"a\": [1,{\"b\":2}]},\n \"resourceType\": \"Patient\"\n}"), FormatFHIRJSON, ""},
		{"fhir json one line", "b.json", []byte(`{"resourceType":"Bundle","type":"collection"}`), FormatFHIRJSON, ""},
		{"fhir json one line newline", "b.json", []byte("{\"resourceType\":\"Bundle\"}\n\n"), FormatFHIRJSON, ""},
		{"ndjson", "Patient.ndjson", []byte("{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\"}\n"), FormatFHIRNDJSON, ""},
		{"ndjson parts joined", "export", []byte("\xEF\xBB\xBF{\"resourceType\":\"Patient\"}\n\xEF\xBB\xBF{\"resourceType\":\"Patient\"}\n"), FormatFHIRNDJSON, ""},
		{"ndjson crlf no extension", "export", []byte("{\"resourceType\":\"Patient\"}\r\n{\"resourceType\":\"Observation\"}"), FormatFHIRNDJSON, ""},
		{"ndjson single line by extension", "Patient.NDJSON", []byte("{\"resourceType\":\"Patient\"}\n"), FormatFHIRNDJSON, ""},
		// The pipeline refuses a bad line by its number, the others sent.
		{"ndjson bad second line", "a.ndjson", []byte("{\"resourceType\":\"Patient\"}\n{\"name\":1}\n"), FormatFHIRNDJSON, ""},
		{"ndjson text second line", "a.ndjson", []byte("{\"resourceType\":\"Patient\"}\nhello\n"), FormatFHIRNDJSON, ""},
		{"zip", "xdm.zip", []byte("PK\x03\x04rest"), FormatZIP, ""},
		{"empty zip", "empty.zip", []byte("PK\x05\x06\x00\x00"), FormatZIP, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(bytes.NewReader(tc.data), tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if got.Format != tc.want || got.Charset != tc.charset {
				t.Fatalf("Sniff = %+v, want %s %s", got, tc.want, tc.charset)
			}
		})
	}
}

func TestSniffUnknown(t *testing.T) {
	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"empty", "e.xml", nil, "empty"},
		{"blank", "e.hl7", []byte(" \r\n\t"), "empty"},
		{"pdf", "scan.pdf", []byte("%PDF-1.7\n"), "fax folder"},
		{"tiff", "fax.tif", []byte("II*\x00\x08\x00"), "fax folder"},
		{"other xml", "a.xml", []byte(`<?xml version="1.0"?><Report><x/></Report>`), "<Report> is not a C-CDA ClinicalDocument"},
		{"fhir xml", "a.xml", []byte(`<Bundle xmlns="http://hl7.org/fhir"><type value="x"/></Bundle>`), "FHIR XML"},
		{"xml no root", "a.xml", []byte(`<?xml version="1.0"?><!-- only -->`), "without a root element"},
		{"json no resourceType", "a.json", []byte(`{"name":"x"}`), "without resourceType"},
		{"pretty json no resourceType", "a.json", []byte("{\n \"name\": {\"resourceType\": \"Patient\"}\n}"), "without resourceType"},
		{"resourceType not string", "a.json", []byte(`{"resourceType":5}`), "not a string"},
		{"json array", "a.json", []byte(`[{"resourceType":"Patient"}]`), "JSON array"},
		{"broken json", "a.json", []byte("{\n \"resourceType\" \"Patient\"\n}"), "not valid JSON"},
		{"json bad second line", "a.json", []byte("{\"resourceType\":\"Patient\"}\n{\"name\":1}\n"), "line 2"},
		{"text after object", "a.json", []byte("{\"resourceType\":\"Patient\"}\nhello\n"), "text follows"},
		{"hl7 name, other content", "adt.hl7", []byte("PID|1||x\r"), "named .hl7 but does not start with an MSH"},
		{"lowercase msh", "adt.hl7", []byte("msh|^~\\&|\r"), "named .hl7"},
		{"MSH without separator", "adt.hl7", []byte("MSHA^~\\&|\r"), "named .hl7"},
		{"csv", "patients.csv", []byte("id,name\n1,x\n"), "none of C-CDA XML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sniff(bytes.NewReader(tc.data), tc.file)
			if err == nil {
				t.Fatalf("Sniff = %+v, want an error", got)
			}
			if !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("error %v does not wrap ErrUnknownFormat", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("error %q lacks %q or the file name", err, tc.want)
			}
		})
	}
}

func TestSniffTestdata(t *testing.T) {
	want := map[string]string{
		"ccd.xml":        FormatCCDA,
		"batch.hl7":      FormatHL7v2Batch,
		"bundle.json":    FormatFHIRJSON,
		"Patient.ndjson": FormatFHIRNDJSON,
	}
	for name, format := range want {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Sniff(bytes.NewReader(data), name)
		if err != nil || got.Format != format {
			t.Errorf("%s: %+v %v, want %s", name, got, err, format)
		}
	}
}

// A multi-megabyte single-line JSON document longer than the NDJSON line
// limit is still read as one resource without holding it in memory twice.
func TestSniffHugeSingleLineJSON(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"id":"x","data":"`)
	b.Write(bytes.Repeat([]byte("a"), maxNDJSONLine+1024))
	b.WriteString(`","resourceType":"Binary"}`)
	got, err := Sniff(&b, "big.json")
	if err != nil || got.Format != FormatFHIRJSON {
		t.Fatalf("Sniff = %+v, %v", got, err)
	}
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"MSH|^~\\&|", "<ClinicalDocument/>", `{"resourceType":"Patient"}`, "{\n}\n", "\xff\xfe<\x00"} {
		f.Add([]byte(s), "x.dat")
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		got, err := Sniff(bytes.NewReader(data), name)
		if err == nil && got.Format == "" {
			t.Fatal("no error and no format")
		}
	})
}
