package fax

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// TestLinesGiveTheDocumentKind: the number dialled (compared by digits,
// with or without the country code) or the subaddress says what a fax is
// when neither its sidecar nor its file name does; a sidecar's kind wins,
// and a fax on no configured line stays unclassified.
func TestLinesGiveTheDocumentKind(t *testing.T) {
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "fax", t.TempDir(), "UTC"
	cfg.Patterns = []string{`^(?P<doctype>[a-z]+)_(?P<mrn>\d+)\.`}
	cfg.Lines = []Line{
		{Called: "+1 (555) 010-0100", DocType: "lab"},
		{SubAddress: "22", DocType: "referral"},
		{Called: "555-010-0199", SubAddress: "7", DocType: "consult"},
	}
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	describe := func(name, sidecar string) string {
		t.Helper()
		in := adapters.Raw{Name: name, Received: now, Meta: map[string]string{folder.MetaFile: name}}
		if sidecar != "" {
			in.Sidecars = map[string][]byte{strings.TrimSuffix(name, ".pdf") + ".json": []byte(sidecar)}
		}
		fax, err := s.Describe(in)
		if err != nil {
			t.Fatal(err)
		}
		return fax.DocType
	}
	for _, tc := range []struct {
		name, sidecar, want string
	}{
		{"a.pdf", `{"CalledNumber":"15550100100"}`, "lab"},
		{"b.pdf", `{"CalledNumber":"(555) 010 0100"}`, "lab"},
		{"c.pdf", `{"CalledNumber":"0100"}`, ""}, // four digits are not the line's number
		{"d.pdf", `{"SubAddress":"22"}`, "referral"},
		{"e.pdf", `{"CalledNumber":"5550100199"}`, ""}, // the consult line wants its subaddress too
		{"f.pdf", `{"CalledNumber":"5550100199","SubAddress":"7"}`, "consult"},
		{"g.pdf", `{"CalledNumber":"15550100100","DocType":"discharge"}`, "discharge"},
		{"progress_123.pdf", `{"CalledNumber":"15550100100"}`, "progress"},
		{"h.pdf", `{"CalledNumber":"15550109999"}`, ""},
		{"i.pdf", "", ""},
	} {
		if got := describe(tc.name, tc.sidecar); got != tc.want {
			t.Errorf("%s %s: kind %q, want %q", tc.name, tc.sidecar, got, tc.want)
		}
	}
}

func TestLinesValidate(t *testing.T) {
	base := DefaultConfig(KindFax)
	base.Name, base.Path = "x", "/tmp/x"
	for _, tc := range []struct {
		line Line
		want string
	}{
		{Line{DocType: "lab"}, "lines[0]: give called"},
		{Line{Called: "ext.", DocType: "lab"}, `lines[0].called: "ext." has no digits`},
		{Line{Called: "5550100100"}, "lines[0]: give doctype"},
		{Line{Called: "5550100100", Security: []string{"R", "NODSCLCD"}}, `lines[0].security[1]: "NODSCLCD" is not a confidentiality`},
		{Line{Called: "5550100100", Security: []string{"restricted"}}, `lines[0].security[0]: "restricted"`},
		{Line{Called: "5550100100", DocType: "bills"}, `lines[0].doctype: "bills" is not a kind ferry knows`},
	} {
		c := base
		c.Lines = []Line{tc.line}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.line, err, tc.want)
		}
	}
	c := base
	c.Lines = []Line{{Called: "+1 555 010 0100", SubAddress: "22", DocType: "Lab Results"},
		{Called: "5550100177", Security: []string{"R", "42CFRPart2", "SUD"}}}
	if err := c.Validate(); err != nil {
		t.Errorf("valid line refused: %v", err)
	}
}

// TestHylaFAXLineFromXferfaxlog: a HylaFAX inbox learns the number dialled
// from xferfaxlog's RECV record (the local number of the modem that took
// the call), and the line with that number gives the fax its kind.
func TestHylaFAXLineFromXferfaxlog(t *testing.T) {
	root := t.TempDir()
	logPath := filepath.Join(root, "xferfaxlog")
	rec := "11/20/26 14:02\tRECV\t000000042\tttyS1\trecvq/fax000000007.tif\t\tfax\t\"555-0199\"\t\"REFERRING MD\"\t4199434\t2\t0:01:10\t0:01:02\t\"\"\t\"OTHER PRACTICE\"\t\"5550777\"\t\"\"\t\"\"\n"
	if err := os.WriteFile(logPath, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(KindHylaFAX)
	cfg.Name, cfg.Path, cfg.XferFaxLog, cfg.TimeZone = "hylafax", root, logPath, "UTC"
	cfg.Lines = []Line{{Called: "+1 555 010 0100", DocType: "lab"}, {Called: "5550199", DocType: "referral"}}
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 14, 3, 0, 0, time.UTC)
	in := adapters.Raw{Name: "fax000000007.tif", Received: now, Meta: map[string]string{
		folder.MetaFile: "fax000000007.tif", folder.MetaModTime: now.Format(time.RFC3339Nano)}}
	fax, err := s.Describe(in)
	if err != nil {
		t.Fatal(err)
	}
	if fax.CalledNumber != "555-0199" || fax.DocType != "referral" {
		t.Errorf("called %q, kind %q; want 555-0199 and referral", fax.CalledNumber, fax.DocType)
	}
}

// TestLineSecurityLabelsTheFax: the labels of a line go with every fax it
// receives, through Raw.Meta, into the bundle: the DocumentReference and
// the Bundle carry them (so exchange.hold sees a Part 2 program's faxes),
// and a fax on another line gets the inbox's confidentiality only.
func TestLineSecurityLabelsTheFax(t *testing.T) {
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "fax", t.TempDir(), "UTC"
	cfg.Lines = []Line{{Called: "5550100177", Security: []string{"R", "42CFRPart2"}}}
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	conv, err := faxfhir.New(faxfhir.Config{SourceID: "1.3.6.1.4.1.21367.2026.1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ called, want string }{
		{"+1 555 010 0177", "R,42CFRPart2"},
		{"5550100100", "N"},
	} {
		in := adapters.Raw{Name: "a.pdf", Received: now, Meta: map[string]string{folder.MetaFile: "a.pdf"},
			Sidecars: map[string][]byte{"a.json": []byte(`{"CalledNumber":"` + tc.called + `"}`)}}
		fax, err := s.Describe(in)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out := adapters.Raw{Name: "a.pdf", Format: Format, Received: now, Body: pdfOf(t, "g3-1d-normal-3p.tif"), Meta: fax.Meta()}
		if _, err := conv.WriteRaw(context.Background(), &buf, out); err != nil {
			t.Fatal(err)
		}
		var b struct {
			Meta struct{ Security []struct{ Code string } }
		}
		if err := json.Unmarshal(buf.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range b.Meta.Security {
			got = append(got, c.Code)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("called %s: Bundle labelled %v, want %s", tc.called, got, tc.want)
		}
	}
}

// TestEveryMatchingLineLabelsTheFax: a practice whose substance use
// disorder program takes its faxes on the main number's subaddress 22
// lists the main number as its lab line and the program's subaddress with
// its labels. A fax to that number and subaddress matches both lines:
// the first gives its kind, and the program's labels go with it all the
// same, or a Part 2 fax would walk past exchange.hold labelled N.
func TestEveryMatchingLineLabelsTheFax(t *testing.T) {
	cfg := DefaultConfig(KindFax)
	cfg.Name, cfg.Path, cfg.TimeZone = "fax", t.TempDir(), "UTC"
	cfg.Lines = []Line{
		{Called: "+1 555 010 0100", DocType: "lab"},
		{Called: "+1 555 010 0100", SubAddress: "22", Security: []string{"R", "42CFRPart2"}},
		{SubAddress: "22", Security: []string{"SUD", "R"}},
	}
	s, err := New(adapters.Settings{}, cfg, newCollector(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ sidecar, kind, labels string }{
		{`{"CalledNumber":"15550100100","SubAddress":"22"}`, "lab", "R,42CFRPart2,SUD"},
		{`{"CalledNumber":"15550100100"}`, "lab", ""},
	} {
		in := adapters.Raw{Name: "a.pdf", Received: now, Meta: map[string]string{folder.MetaFile: "a.pdf"},
			Sidecars: map[string][]byte{"a.json": []byte(tc.sidecar)}}
		fax, err := s.Describe(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(fax.Security, ","); fax.DocType != tc.kind || got != tc.labels {
			t.Errorf("%s: kind %q, labels %q; want %q and %q", tc.sidecar, fax.DocType, got, tc.kind, tc.labels)
		}
	}
}
