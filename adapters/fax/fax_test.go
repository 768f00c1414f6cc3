package fax

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
)

const faxDir = "../../testdata/fax"

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// collector is the next consumer: it converts each fax with the real
// converter, as the gateway does, and records Raw and bundle.
type collector struct {
	conv *faxfhir.Converter
	got  chan got
}

type got struct {
	raw      adapters.Raw
	bundle   map[string]any
	streamed bool // Body was nil: the content came through Raw.Open
}

func newCollector(t *testing.T) *collector {
	conv, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1", PatientSystem: "urn:oid:2.16.840.1.113883.3.999.1"})
	if err != nil {
		t.Fatal(err)
	}
	return &collector{conv: conv, got: make(chan got, 16)}
}

func (c *collector) Consume(ctx context.Context, in adapters.Raw) error {
	var buf bytes.Buffer
	if _, err := c.conv.WriteRaw(ctx, &buf, in); err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		return err
	}
	streamed := in.Body == nil
	in.Body = nil
	c.got <- got{raw: in, bundle: m, streamed: streamed}
	return nil
}

// next waits for the next consumed fax, rescanning meanwhile.
func (c *collector) next(t *testing.T, s *Source) got {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case g := <-c.got:
			return g
		case <-tick.C:
			s.Engine().Rescan()
		case <-deadline:
			t.Fatal("no fax consumed")
		}
	}
}

func start(t *testing.T, cfg Config, next adapters.Consumer) *Source {
	t.Helper()
	cfg.Settle = 20 * time.Millisecond
	cfg.Rescan = time.Hour
	cfg.RetryInitial = 10 * time.Millisecond
	cfg.RetryMax = 50 * time.Millisecond
	s, err := New(adapters.Settings{}, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func str(v any, path ...any) string { s, _ := get(v, path...).(string); return s }

// docRef returns the first DocumentReference of a bundle.
func docRef(b map[string]any) any {
	for _, e := range get(b, "entry").([]any) {
		if str(e, "resource", "resourceType") == "DocumentReference" {
			return get(e, "resource")
		}
	}
	return nil
}

// receipt returns the fax-receipt extension as name → value.
func receipt(d any) map[string]any {
	out := map[string]any{}
	for _, e := range get(d, "extension").([]any) {
		if str(e, "url") != faxfhir.FaxExtensionURL {
			continue
		}
		for _, s := range get(e, "extension").([]any) {
			for k, v := range s.(map[string]any) {
				if strings.HasPrefix(k, "value") {
					out[str(s, "url")] = v
				}
			}
		}
	}
	return out
}

func TestPlainInboxWithJSONSidecarAndPattern(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	cfg.Patterns = []string{`^(?P<doctype>[a-z]+)_(?P<mrn>\d+)_(?P<dob>\d{8})`}
	s := start(t, cfg, c)

	sidecar := `{"FaxId":"c-77","CallerNumber":"+15550100","CalledNumber":"+15550199","FaxPages":3,` +
		`"FaxSenderCSID":"CLINIC A","ReceivedAt":"2026-11-20T14:03:07-05:00","Partial":false}`
	if err := os.WriteFile(filepath.Join(dir, "referral_12345_19700101.json"), []byte(sidecar), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-3p.tif"), filepath.Join(dir, "referral_12345_19700101.tif"))

	g := c.next(t, s)
	if g.raw.Format != Format {
		t.Errorf("format %q", g.raw.Format)
	}
	fax := faxfhir.FaxFromMeta(g.raw.Meta)
	want := faxfhir.Fax{Received: time.Date(2026, 11, 20, 19, 3, 7, 0, time.UTC), CallerNumber: "+15550100", CalledNumber: "+15550199",
		CSID: "CLINIC A", CommID: "c-77", Pages: 3, DocType: "referral", MRN: "12345", DOB: "1970-01-01"}
	if !fax.Received.Equal(want.Received) {
		t.Errorf("received %v", fax.Received)
	}
	fax.Received = want.Received
	if !reflect.DeepEqual(fax, want) {
		t.Errorf("fax = %+v\nwant %+v", fax, want)
	}
	d := docRef(g.bundle)
	// The default patient link: the patient as a conditional create,
	// referred to by its fullUrl.
	p := get(g.bundle, "entry", 0)
	if str(d, "type", "coding", 0, "code") != "57133-1" ||
		str(d, "subject", "identifier", "value") != "12345" || str(d, "subject", "identifier", "system") != "urn:oid:2.16.840.1.113883.3.999.1" ||
		str(d, "subject", "reference") != str(p, "fullUrl") || str(p, "resource", "resourceType") != "Patient" {
		t.Errorf("docref type/subject: %v %v", get(d, "type"), get(d, "subject"))
	}
	if str(p, "request", "method") != "POST" || str(p, "request", "ifNoneExist") != "identifier=urn%3Aoid%3A2.16.840.1.113883.3.999.1%7C12345" ||
		str(p, "resource", "birthDate") != "1970-01-01" {
		t.Errorf("patient entry %v", p)
	}
	r := receipt(d)
	if r["callerNumber"] != "+15550100" || r["calledNumber"] != "+15550199" || r["csid"] != "CLINIC A" || r["pages"] != 3.0 {
		t.Errorf("receipt %v", r)
	}
	// Settled: the fax and its sidecar left the inbox.
	waitGone(t, s, filepath.Join(dir, "referral_12345_19700101.tif"), filepath.Join(dir, "referral_12345_19700101.json"))
}

func waitGone(t *testing.T, s *Source, paths ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range paths {
		for {
			if _, err := os.Stat(p); os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still in the inbox", filepath.Base(p))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestPlainInboxPDFWithXMLSidecar(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "inbox", dir, "America/New_York"
	s := start(t, cfg, c)

	xmlSidecar := `<?xml version="1.0"?><FaxMessage id="m-1"><Sender><CallerId>5550100</CallerId><CSID>LAB CORP</CSID></Sender>` +
		`<Recipient number="5550199"/><Pages>1</Pages><ReceiveTime>2026-11-20 14:03:07</ReceiveTime>` +
		`<Patient><MRN>A-9</MRN><DOB>1970-01-01</DOB></Patient><DocumentType>lab</DocumentType></FaxMessage>`
	if err := os.WriteFile(filepath.Join(dir, "msg1.xml"), []byte(xmlSidecar), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "msg1.pdf"), pdfOf(t, "g3-1d-normal-3p.tif"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := c.next(t, s)
	fax := faxfhir.FaxFromMeta(g.raw.Meta)
	if fax.CallerNumber != "5550100" || fax.CSID != "LAB CORP" || fax.Pages != 1 || fax.MRN != "A-9" || fax.DocType != "lab" ||
		fax.CommID != "m-1" || !fax.Received.Equal(time.Date(2026, 11, 20, 19, 3, 7, 0, time.UTC)) {
		t.Errorf("fax %+v", fax)
	}
	d := docRef(g.bundle)
	if str(d, "type", "coding", 0, "code") != "11502-2" || str(d, "content", 0, "attachment", "contentType") != "application/pdf" {
		t.Errorf("docref %v", d)
	}
	if n := len(get(g.bundle, "entry").([]any)); n != 4 {
		t.Errorf("a PDF fax gives Patient, List, DocumentReference, Binary; got %d entries", n)
	}
}

func TestBadSidecarDoesNotHoldTheFax(t *testing.T) {
	dir := t.TempDir()
	c := newCollector(t)
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path = "inbox", dir
	s := start(t, cfg, c)
	if err := os.WriteFile(filepath.Join(dir, "x.json"), []byte(`{"CallerNumber": `), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(faxDir, "g4-fine-1p.tif"), filepath.Join(dir, "x.tif"))
	g := c.next(t, s)
	if !strings.HasPrefix(g.raw.Meta[MetaSidecarError], "sidecar: json:") {
		t.Errorf("sidecar error %q", g.raw.Meta[MetaSidecarError])
	}
	if g.raw.Meta[faxfhir.MetaPages] != "1" {
		t.Errorf("pages from the TIFF: %q", g.raw.Meta[faxfhir.MetaPages])
	}
}

func pdfOf(t *testing.T, file string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(faxDir, file))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tiffpdf.Read(bytes.NewReader(body), int64(len(body)), file)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := tiffpdf.WritePDF(&buf, bytes.NewReader(body), f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig(KindFax)
	base.Name, base.Path = "x", "/tmp/x"
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Kind = "ehr" }, "kind: must be fax or hylafax"},
		{func(c *Config) { c.Patterns = []string{"("} }, "patterns[0]: error parsing regexp"},
		{func(c *Config) { c.Patterns = []string{`(?P<ssn>\d+)`} }, `patterns[0]: unknown group "ssn"`},
		{func(c *Config) { c.Patterns = []string{`\d+`} }, "patterns[0]: no named group"},
		{func(c *Config) { c.TimeZone = "Mars/Olympus" }, "time_zone:"},
		{func(c *Config) { c.Path = "" }, "path:"},
	}
	for _, tc := range tests {
		c := base
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestParseHelpers(t *testing.T) {
	if n, name := parseCallID([]string{"CIDNumber\t5550100", "CIDName\tTEST CLINIC"}); n != "5550100" || name != "TEST CLINIC" {
		t.Errorf("labelled: %q %q", n, name)
	}
	if n, name := parseCallID([]string{"5550100", "TEST CLINIC"}); n != "5550100" || name != "TEST CLINIC" {
		t.Errorf("bare: %q %q", n, name)
	}
	for in, want := range map[string]string{
		"1763665387":           "2025-11-20T19:03:07Z",
		"1763665387000":        "2025-11-20T19:03:07Z",
		"2026-11-20T14:03:07Z": "2026-11-20T14:03:07Z",
		"2026-11-20 14:03:07":  "2026-11-20T14:03:07Z",
		"11/20/2026 14:03":     "2026-11-20T14:03:00Z",
	} {
		got, ok := parseTime(in, time.UTC)
		if !ok || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("parseTime(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	var f faxfhir.Fax
	fromName(&f, mustPatterns(t, `^(?P<name>[A-Za-z_]+)-(?P<mrn>\d+)\.`), "DOE_JANE-778.pdf")
	if f.PatientName != "DOE JANE" || f.MRN != "778" {
		t.Errorf("fromName: %+v", f)
	}
}

func mustPatterns(t *testing.T, ps ...string) []*regexp.Regexp {
	t.Helper()
	out, err := compilePatterns(ps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
