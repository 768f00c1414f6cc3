package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// familyHistoryDoc is the C-CDA problem test document with a family
// history section of two organizers, a template ferry does not map.
func familyHistoryDoc(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/convert/ccda-problem/input.xml")
	if err != nil {
		t.Fatal(err)
	}
	const fh = `<component><section>
 <templateId root="2.16.840.1.113883.10.20.22.2.15" extension="2015-08-01"/>
 <code code="10157-6" codeSystem="2.16.840.1.113883.6.1"/>
 <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.45"/><statusCode code="completed"/></organizer></entry>
 <entry><organizer classCode="CLUSTER" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.45"/><statusCode code="completed"/></organizer></entry>
</section></component>`
	doc := bytes.Replace(raw, []byte("</structuredBody>"), []byte(fh+"</structuredBody>"), 1)
	if bytes.Equal(doc, raw) {
		t.Fatal("test document changed: no structuredBody end tag")
	}
	return doc
}

// `ferry convert` names on standard error, by section code and template
// id, what of a C-CDA document went only as the attached document.
func TestConvertNamesUnconverted(t *testing.T) {
	in := filepath.Join(t.TempDir(), "fh.xml")
	if err := os.WriteFile(in, familyHistoryDoc(t), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := cmdConvert(context.Background(), []string{in}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	want := in + ": not converted, sent only in the attached document: 10157-6 organizer 2.16.840.1.113883.10.20.22.4.45 x2\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%q\nwant\n%q", stderr.String(), want)
	}
}

// TestGatewayCountsUnconverted: a running gateway counts the entries of a
// dropped C-CDA document that went only as the attached document, on
// the status page, in /metrics and in `ferry status`.
func TestGatewayCountsUnconverted(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, filepath.Join(root, "data"), ehr, url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)
	if err := os.WriteFile(filepath.Join(ehr, "patient-1.xml"), familyHistoryDoc(t), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the document delivered", func() bool {
		return len(recv.Resources("DocumentReference")) >= 1 && gw.q.Len() == 0
	})
	r := gw.report()
	if r.Ingest.Unconverted != 2 {
		t.Errorf("Ingest.Unconverted = %d, want 2", r.Ingest.Unconverted)
	}
	var metrics strings.Builder
	writeMetrics(&metrics, r)
	if !strings.Contains(metrics.String(), "ferry_ingest_unconverted_entries_total 2\n") {
		t.Errorf("/metrics lacks ferry_ingest_unconverted_entries_total 2")
	}
	r.Online = true
	var text strings.Builder
	ops.PrintStatus(&text, &r)
	if !strings.Contains(text.String(), "not converted:     2 document entries") {
		t.Errorf("ferry status lacks the count:\n%s", text.String())
	}
}
