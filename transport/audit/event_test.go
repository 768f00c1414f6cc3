package audit

import (
	"bytes"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestXMLElementOrder checks the top-level order the DICOM PS3.15 A.5.1
// schema requires and that hostile values are escaped.
func TestXMLElementOrder(t *testing.T) {
	ev := exportN(1)
	ev.AuditSourceID = `gw"<&>`
	ev.OutcomeDesc = "</AuditMessage><x>"
	b, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration: %.60s", b)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var order []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid XML: %v\n%s", err, b)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 1 {
				order = append(order, tk.Name.Local)
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	want := "EventIdentification,ActiveParticipant,ActiveParticipant,AuditSourceIdentification,ParticipantObjectIdentification,ParticipantObjectIdentification"
	if got := strings.Join(order, ","); got != want {
		t.Errorf("order\n %s\nwant\n %s", got, want)
	}
	var a auditXML
	if err := xml.Unmarshal(b, &a); err != nil || a.Source.ID != `gw"<&>` {
		t.Errorf("round trip: %v %q", err, a.Source.ID)
	}
}

func TestXMLRequiresSourceAndParticipant(t *testing.T) {
	if _, err := (&Event{Participants: []Participant{{UserID: "x"}}}).XML(); err == nil {
		t.Error("no source id accepted")
	}
	if _, err := (&Event{AuditSourceID: "x"}).XML(); err == nil {
		t.Error("no participant accepted")
	}
}

func TestSyslogHeaderFields(t *testing.T) {
	h := Header{Hostname: "clinic gw\x01é", ProcID: ""}
	m, err := Parse(h.Format(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), []byte("<a/>")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Hostname != "clinicgw" || m.ProcID != "-" || m.Time.UTC() != time.Date(2026, 1, 2, 2, 4, 5, 6000, time.UTC) || string(m.Msg) != "<a/>" {
		t.Errorf("parsed %+v", m)
	}
}

// BenchmarkRecord measures the data path's cost of auditing one delivery:
// building the event and handing it to the channel (the sender is not
// started, so the benchmark drains the channel itself).
func BenchmarkRecord(b *testing.B) {
	s, err := New(Options{URL: "tls://127.0.0.1:1", SourceID: "ferry-bench", SpoolDir: filepath.Join(b.TempDir(), "spool"), QueueSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Record(exportN(i))
		<-s.ch
	}
}

// BenchmarkEncode measures the sender's cost per event: DICOM XML and the
// RFC 5424 header.
func BenchmarkEncode(b *testing.B) {
	h := Header{Hostname: "gw", ProcID: "1"}
	ev := exportN(1)
	ev.AuditSourceID = "ferry-bench"
	b.ReportAllocs()
	for b.Loop() {
		x, err := ev.XML()
		if err != nil {
			b.Fatal(err)
		}
		h.Format(ev.Time, x)
	}
}

// BenchmarkTLSDelivery measures end-to-end throughput to a local mutual
// TLS repository: b.N events recorded and all received.
func BenchmarkTLSDelivery(b *testing.B) {
	p := demoPKI(b)
	r, addr := startTLSRepo(b, p, "127.0.0.1:0")
	s := newSink(b, "tls://"+addr, clientTLS(p), filepath.Join(b.TempDir(), "spool"), func(o *Options) { o.QueueSize = 1 << 16 })
	if err := s.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	ev := exportN(1)
	r.waitN(b, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Record(ev)
		if i%(1<<15) == 1<<15-1 {
			r.waitN(b, i+1) // stay under the channel's bound
		}
	}
	r.waitN(b, b.N)
	b.StopTimer()
	if st := s.Stats(); st.Dropped != 0 {
		b.Fatalf("dropped %d", st.Dropped)
	}
}
