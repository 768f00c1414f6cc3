package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport/audit"
)

// TestOutboxExportNamesNoRequestID: without exchange.url, bundles are
// written to <data_dir>/outbox; no HTTP request carries them, so their
// Export event names no X-Request-Id (BALP's XrequestId entity), as for
// an SFTP drop, only the bundle written (<item id>.json).
func TestOutboxExportNamesNoRequestID(t *testing.T) {
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
	trail.delivered(&queue.Item{ID: "01JOUT", Key: "k-8f2c", Attrs: map[string]string{"format": "hl7v2"}})

	buf := make([]byte, 1<<16)
	pc.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := audit.Parse(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	exp := string(m.Msg)
	if !strings.Contains(exp, `ParticipantObjectID="01JOUT"`) || !strings.Contains(exp, `UserID="file:`) {
		t.Errorf("export event does not name the bundle written to the outbox:\n%s", exp)
	}
	if strings.Contains(exp, "XrequestId") {
		t.Errorf("export event to the outbox names an X-Request-Id no HTTP request carried:\n%s", exp)
	}
}
