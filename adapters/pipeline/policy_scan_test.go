package pipeline

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

const confR = `{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}`

// heldCases is the one table Held (a bundle in memory) and HeldReader (a
// spilled bundle, read as a stream) must both answer alike.
var heldCases = []struct {
	name   string
	hold   []string
	bundle string
	label  string // "" and held false: sent
	held   bool
}{
	{"unlabelled", []string{"R"}, `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Observation","status":"final"}}]}`, "", false},
	{"bundle meta", []string{"R"}, `{"resourceType":"Bundle","meta":{"security":[` + confR + `]},"entry":[]}`, "R", true},
	{"V held by R", []string{"R"}, `{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"}]}}`, "V", true},
	{"N not held by R", []string{"R"}, `{"resourceType":"Bundle","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]}}`, "", false},
	{"bundle meta after the entries", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation"}}],"meta":{"security":[` + confR + `]}}`, "R", true},
	{"entry meta", []string{"HIV"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]}}}]}`, "HIV", true},
	{"contained", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","contained":[{"resourceType":"Patient","meta":{"security":[` + confR + `]}}]}}]}`, "R", true},
	{"nested bundle", []string{"42CFRPart2"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","type":"document","entry":[{"resource":{"resourceType":"Composition","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]}}}]}}]}`, "42CFRPart2", true},
	{"DocumentReference securityLabel", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"DocumentReference","securityLabel":[{"coding":[` + confR + `]}],"content":[{"attachment":{"data":"eA=="}}]}}]}`, "R", true},
	{"securityLabel before resourceType", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"securityLabel":[{"coding":[` + confR + `]}],"resourceType":"DocumentReference"}}]}`, "R", true},
	{"securityLabel elsewhere does not count", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Consent","securityLabel":[{"coding":[` + confR + `]}]}}]}`, "", false},
	{"securityLabel of another shape elsewhere", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Basic","securityLabel":"R"}}]}`, "", false},
	{"DocumentReference securityLabel of another shape", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"DocumentReference","securityLabel":{"coding":[` + confR + `]}}}]}`, "unreadable labels", true},
	{"meta not an object", []string{"R"}, `{"resourceType":"Bundle","meta":"R"}`, "unreadable labels", true},
	{"security entry not a Coding", []string{"R"}, `{"resourceType":"Bundle","meta":{"security":["R"]}}`, "unreadable labels", true},
	{"code not a string", []string{"R"}, `{"resourceType":"Bundle","meta":{"security":[{"code":5}]}}`, "unreadable labels", true},
	{"null meta and security", []string{"R"}, `{"resourceType":"Bundle","meta":null,"entry":[{"resource":{"meta":{"security":null}}}]}`, "", false},
	{"truncated", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation"`, "unreadable labels", true},
	{"not an object", []string{"R"}, `[{"meta":{"security":[` + confR + `]}}]`, "unreadable labels", true},
	{"not JSON", []string{"R"}, `MSH|^~\&|`, "unreadable labels", true},
	{"bad literal", []string{"R"}, `{"resourceType":"Bundle","active":tru}`, "unreadable labels", true},
	{"escaped key and code", []string{"R"}, `{"resourceType":"Bundle","\u006deta":{"security":[{"code":"\u0052"}]}}`, "R", true},
	{"label-like text in a string", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","note":[{"text":"\"meta\":{\"security\":[` + strings.ReplaceAll(confR, `"`, `\"`) + `]} \\ \ud83d\ude00 \/"}]}}]}`, "", false},
	{"long strings around the label", []string{"R"}, `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Binary","data":"` + strings.Repeat("QUJD", 5000) + `","contained":[{"meta":{"security":[{"code":"` + strings.Repeat("x", 3000) + `"},` + confR + `]}}]}}]}`, "R", true},
	{"numbers and literals", []string{"R"}, `{"resourceType":"Bundle","total":-1.5e3,"x":[true,false,null,0],"meta":{"security":[` + confR + `]}}`, "R", true},
	{"nothing held", nil, `{"resourceType":"Bundle","meta":{"security":[` + confR + `]}}`, "", false},
}

// TestHeldAndHeldReaderAgree runs the table through Held and through
// HeldReader, the latter whole, one byte at a time and in halves (every
// buffer boundary, escapes split across reads included).
func TestHeldAndHeldReaderAgree(t *testing.T) {
	for _, tc := range heldCases {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Hold: tc.hold}
			check := func(how string, label string, held bool) {
				t.Helper()
				if label != tc.label || held != tc.held {
					t.Errorf("%s = %q, %v; want %q, %v", how, label, held, tc.label, tc.held)
				}
			}
			b := []byte(tc.bundle)
			l, h := p.Held(b)
			check("Held", l, h)
			l, h = p.HeldReader(bytes.NewReader(b))
			check("HeldReader", l, h)
			l, h = p.HeldReader(iotest.OneByteReader(bytes.NewReader(b)))
			check("HeldReader one byte at a time", l, h)
			l, h = p.HeldReader(iotest.HalfReader(bytes.NewReader(b)))
			check("HeldReader in halves", l, h)
			path := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			l, h = p.HeldFile(path)
			check("HeldFile", l, h)
		})
	}
}

// TestHeldReaderTooDeep: nesting beyond what encoding/json allows is
// unreadable, not a stack overflow.
func TestHeldReaderTooDeep(t *testing.T) {
	b := strings.Repeat(`{"a":[`, 20000)
	if l, h := (Policy{Hold: []string{"R"}}).HeldReader(strings.NewReader(`{"x":` + b)); l != "unreadable labels" || !h {
		t.Fatalf("HeldReader = %q, %v", l, h)
	}
}

// TestHeldFileLargeAttachment: a spilled pass-through bundle with a
// 200 MB base64 attachment and the label on a contained resource after
// it. The label is found, and the scan allocates next to nothing: the
// attachment is skipped, never held in memory.
func TestHeldFileLargeAttachment(t *testing.T) {
	const size = 200 << 20
	path := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"DocumentReference",` +
		`"status":"current","content":[{"attachment":{"contentType":"application/pdf","data":"`)
	raw := make([]byte, 48<<10)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	chunk := []byte(base64.StdEncoding.EncodeToString(raw))
	for n := 0; n < size; n += len(chunk) {
		w.Write(chunk)
	}
	w.WriteString(`"}}],"contained":[{"resourceType":"Patient","meta":{"security":[` + confR + `]}}]},"request":{"method":"POST","url":"DocumentReference"}}]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	p := Policy{Hold: []string{"R"}}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	label, held := p.HeldFile(path)
	runtime.ReadMemStats(&after)
	if label != "R" || !held {
		t.Fatalf("HeldFile = %q, %v; want R, held", label, held)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("scanning %d MB allocated %d bytes in total", size>>20, alloc)
	if alloc > 1<<20 {
		t.Errorf("scanning a %d MB bundle allocated %d bytes; want the buffer and a few labels (< 1 MiB)", size>>20, alloc)
	}
}
