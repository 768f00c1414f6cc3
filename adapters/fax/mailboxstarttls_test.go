package fax

import (
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// TestMailboxTLSPortWithStartTLSSaysSo: README has the address "TLS
// from the first byte; 143 with starttls: true". A mailbox given the TLS
// port (993) with starttls: true had its STARTTLS taken by the server
// for a broken TLS handshake and the connection closed, and its poll
// failed with "unexpected EOF", naming neither cause nor setting, as the
// opposite mistake once did; it says the server wants TLS from the first
// byte and names starttls: false.
func TestMailboxTLSPortWithStartTLSSaysSo(t *testing.T) {
	site := startIMAP(t)
	cfg := MailboxConfig{Name: "efax", Address: site.addr, StartTLS: true, Username: "fax", PasswordFile: site.passFile}
	mb, err := NewMailbox(adapters.Settings{}, cfg, site.clientTLS, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = mb.Poll(t.Context())
	if err == nil || !strings.Contains(err.Error(), "starttls: false") || !strings.Contains(err.Error(), "TLS from the first byte") {
		t.Fatalf("poll of a TLS port with starttls: true: %v, want it to say the server wants TLS from the first byte and name starttls: false", err)
	}
	if got, want := mb.Stats().LastError, err.Error(); got != want {
		t.Errorf("status shows %q, want %q", got, want)
	}
}
