package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/audit"
)

type okConsumer struct{ err error }

func (c okConsumer) Consume(context.Context, adapters.Raw) error { return c.err }

// TestAuditTrail sends the gateway's Import and Export events to a real
// UDP syslog receiver and checks what the hooks put in them.
func TestAuditTrail(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = "https://hie.example.org/fhir"
	// Never read here; set so that cfg stays a valid configuration.
	cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
	cfg.Audit = config.Audit{URL: "udp://" + pc.LocalAddr().String(), SourceID: "clinic-12-ferry"}
	g := &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	trail, err := g.newAuditTrail()
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer trail.Shutdown(context.Background())

	msg := "MSH|^~\\&|LAB|HOSP^1.2.3^ISO|FERRY|CLINIC|20260101||ORU^R01^ORU_R01|CTL-77|P|2.5\rPID|||MRN123^^^HOSP||Roe^Jane\r"
	c := trail.consumer(okConsumer{err: queue.Permanent(errors.New("no PID-3 for Jane Roe"))})
	c.Consume(context.Background(), adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1",
		Body: []byte(msg), Received: time.Now(), Meta: map[string]string{"remote": "10.1.2.3:40000"}})
	trail.delivered(&queue.Item{ID: "01JABC", Key: "k-8f2c", Attrs: map[string]string{"format": "fax", "control_id": "", "submission_set": "urn:oid:2.25.77"}})

	buf := make([]byte, 1<<16)
	var got []string
	for len(got) < 2 {
		pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := audit.Parse(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		var v struct{}
		if err := xml.Unmarshal(m.Msg, &v); err != nil {
			t.Fatalf("not XML: %v", err)
		}
		got = append(got, string(m.Msg))
	}
	imp, exp := got[0], got[1]
	for _, want := range []string{`csd-code="110107"`, `csd-code="ORU^R01"`, `UserID="LAB^HOSP"`, `NetworkAccessPointID="10.1.2.3"`,
		`EventOutcomeIndicator="8"`, `rejected; input quarantined`, `AuditSourceID="clinic-12-ferry"`, `ParticipantObjectID="CTL-77"`} {
		if !strings.Contains(imp, want) {
			t.Errorf("import event lacks %s:\n%s", want, imp)
		}
	}
	if strings.Contains(imp, "Jane") || strings.Contains(imp, "MRN123") {
		t.Errorf("import event carries message content:\n%s", imp)
	}
	for _, want := range []string{`csd-code="110106"`, `csd-code="ITI-65"`, `UserID="https://hie.example.org/fhir"`,
		`NetworkAccessPointID="hie.example.org"`, `ParticipantObjectID="k-8f2c"`, `ParticipantObjectID="urn:oid:2.25.77"`, `EventOutcomeIndicator="0"`} {
		if !strings.Contains(exp, want) {
			t.Errorf("export event lacks %s:\n%s", want, exp)
		}
	}
}

func TestAuditOffIsNil(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	g := &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	trail, err := g.newAuditTrail()
	if err != nil || trail != nil {
		t.Fatalf("audit off: %v, %v", trail, err)
	}
	next := okConsumer{}
	if trail.consumer(next) != adapters.Consumer(next) {
		t.Error("consumer wrapped with audit off")
	}
	trail.delivered(&queue.Item{ID: "x"}) // no panic
	trail.received(adapters.Raw{}, nil)
	if err := trail.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestMSHFacts(t *testing.T) {
	for _, c := range []struct{ in, sender, typ, ctl string }{
		{"MSH|^~\\&|LAB|HOSP|A|B|2026||ADT^A01^ADT_A01|C1|P|2.5\rPID|", "LAB^HOSP", "ADT^A01", "C1"},
		// Other encoding characters: the type is still written as
		// HL7 writes it, and as the pipeline and the Export name it
		// (ORU^R01), so that the repository finds both by one code.
		{"MSH#$~\\&#APP##A#B#2026##ORU$R01#C2", "APP", "ORU^R01", "C2"},
		{"MSH#$~\\&#APP#FAC#A#B#2026##ADT$A04$ADT_A01#C3", "APP^FAC", "ADT^A04", "C3"},
		{"MSH|^~\\&", "", "", ""},
		{"PID|1", "", "", ""},
		// What Parse skips before the MSH (two byte-order marks, a
		// line end), with which the message is stored and answered AA.
		{"\xef\xbb\xbf\xef\xbb\xbf\r\nMSH|^~\\&|LAB|HOSP|A|B|2026||ADT^A01|C4|P|2.5\rPID|", "LAB^HOSP", "ADT^A01", "C4"},
	} {
		s, typ, ctl := mshFacts([]byte(c.in))
		if s != c.sender || typ != c.typ || ctl != c.ctl {
			t.Errorf("mshFacts(%q) = %q %q %q", c.in, s, typ, ctl)
		}
	}
}

// TestImportEventNamesNoFile: a fax named after the patient is recorded
// by its content hash; the file name appears nowhere in the event.
func TestImportEventNamesNoFile(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Audit = config.Audit{URL: "udp://" + pc.LocalAddr().String(), SourceID: "clinic-12-ferry"}
	g := &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	trail, err := g.newAuditTrail()
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer trail.Shutdown(context.Background())

	body := []byte("II*\x00 not really a tiff")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	name := "DOE_JANE_MRN777123.tif"
	c := trail.consumer(okConsumer{})
	// As the folder engine hands it over: the digest in Meta.
	c.Consume(context.Background(), adapters.Raw{Source: "folder/fax", Format: "fax", Name: name, Body: body,
		Received: time.Now(), Meta: map[string]string{"file": name, "sha256": hash}})
	// Without the digest in Meta (another source): computed from the body.
	c.Consume(context.Background(), adapters.Raw{Source: "folder/fax", Format: "fax", Name: name, Body: body, Received: time.Now()})

	buf := make([]byte, 1<<16)
	for i := 0; i < 2; i++ {
		pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := audit.Parse(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		ev := string(m.Msg)
		for _, bad := range []string{"DOE", "JANE", "MRN777123", ".tif"} {
			if strings.Contains(ev, bad) {
				t.Errorf("event %d carries the file name (%s):\n%s", i, bad, ev)
			}
		}
		if want := `ParticipantObjectID="sha256:` + hash + `"`; !strings.Contains(ev, want) {
			t.Errorf("event %d lacks %s:\n%s", i, want, ev)
		}
		if !strings.Contains(ev, `csd-code="input-sha256"`) {
			t.Errorf("event %d: input object not typed as a content hash:\n%s", i, ev)
		}
	}
}

// TestImportNamesSourceMedia: DICOM PS3.15 A.5.3.5 (Data Import) has one
// "Source Media" active participant, its MediaIdentifier and MediaType
// mandatory: a fax taken from a watched folder names the folder (a URI,
// 110037), one from a fax mailbox the mailbox (e-mail, 110031), never the
// file; an input over the network (MLLP) names none.
func TestImportNamesSourceMedia(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	inbox := filepath.Join(t.TempDir(), "fax-in")
	cfg.Sources.Folders = []config.Folder{{}}
	cfg.Sources.Folders[0].Name, cfg.Sources.Folders[0].Kind, cfg.Sources.Folders[0].Path = "faxes", "fax", inbox
	cfg.Sources.Mailboxes = []config.Mailbox{{}}
	cfg.Sources.Mailboxes[0].Name, cfg.Sources.Mailboxes[0].Address = "efax", "imap.example.org:993"
	cfg.Audit = config.Audit{URL: "udp://" + pc.LocalAddr().String(), SourceID: "clinic-12-ferry"}
	g := &gateway{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	trail, err := g.newAuditTrail()
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer trail.Shutdown(context.Background())

	c := trail.consumer(okConsumer{})
	name := "DOE_JANE_MRN777123.tif"
	c.Consume(context.Background(), adapters.Raw{Source: "folder/faxes", Format: "fax", Name: name, Body: []byte("II*"),
		Received: time.Now(), Meta: map[string]string{"folder": "faxes", "file": name, "path": filepath.Join(inbox, ".ferry", "processing", name)}})
	c.Consume(context.Background(), adapters.Raw{Source: "mailbox/efax", Format: "fax", Name: "1/7", Body: []byte("%PDF"),
		Received: time.Now(), Meta: map[string]string{"folder": "efax", "fax.mailbox": "efax"}})
	c.Consume(context.Background(), adapters.Raw{Source: "mllp/main", Format: "hl7v2", Name: "conn 1 msg 1",
		Body: []byte("MSH|^~\\&|LAB|HOSP|A|B|2026||ADT^A01|C1|P|2.5\r"), Received: time.Now(), Meta: map[string]string{"remote": "10.1.2.3:40000"}})

	type participant struct {
		UserID    string `xml:"UserID,attr"`
		Requestor bool   `xml:"UserIsRequestor,attr"`
		Role      struct {
			Code string `xml:"csd-code,attr"`
		} `xml:"RoleIDCode"`
		Media *struct {
			Type struct {
				Code   string `xml:"csd-code,attr"`
				System string `xml:"codeSystemName,attr"`
			} `xml:"MediaType"`
		} `xml:"MediaIdentifier"`
	}
	buf := make([]byte, 1<<16)
	for i, want := range []struct{ id, mediaType string }{
		{"file:" + inbox, "110037"},
		{"imap://imap.example.org:993/INBOX", "110031"},
		{"", ""},
	} {
		pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := audit.Parse(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Participants []participant `xml:"ActiveParticipant"`
		}
		if err := xml.Unmarshal(m.Msg, &msg); err != nil {
			t.Fatal(err)
		}
		var media []participant
		for _, p := range msg.Participants {
			if p.Role.Code == "110155" || p.Media != nil {
				media = append(media, p)
			}
		}
		if want.id == "" {
			if len(media) != 0 {
				t.Errorf("event %d (MLLP) names source media: %+v", i, media)
			}
			continue
		}
		if len(media) != 1 {
			t.Errorf("event %d: %d Source Media participants, want 1:\n%s", i, len(media), m.Msg)
			continue
		}
		p := media[0]
		if p.UserID != want.id || p.Requestor || p.Role.Code != "110155" || p.Media == nil ||
			p.Media.Type.Code != want.mediaType || p.Media.Type.System != "DCM" {
			t.Errorf("event %d: Source Media = %+v, want UserID %q, not the requestor, role 110155, MediaType %s (DCM)", i, p, want.id, want.mediaType)
		}
		if strings.Contains(string(m.Msg), "MRN777123") {
			t.Errorf("event %d names the file:\n%s", i, m.Msg)
		}
	}
}
