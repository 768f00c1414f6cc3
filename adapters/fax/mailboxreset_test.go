package fax

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
)

// resettingIMAP is the address of a server that reads the client's first
// bytes (its TLS ClientHello) and resets the connection, as a server at
// its connection limit or a firewall that does not let ferry in does.
func resettingIMAP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 512))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestMailboxResetWarnedOnce: a mailbox whose server resets every
// connection logs one warning while it lasts, as any failure that does
// not change. The error named the connection's own port ("read tcp
// 10.0.0.5:51234->...: connection reset by peer"), a new one at each
// poll, so each poll was taken for a new reason and logged a WARN.
func TestMailboxResetWarnedOnce(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "imap.pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	set := adapters.Settings{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	cfg := MailboxConfig{Name: "efax", Address: resettingIMAP(t), Username: "fax", PasswordFile: pass}
	mb, err := NewMailbox(set, cfg, &tls.Config{ServerName: "localhost"}, newCollector(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Linux reports each reset as "read tcp 127.0.0.1:51234->...:
	// connection reset by peer"; Windows under wine has reported some as
	// EOF, a failure of another kind that is rightly warned on its own.
	// Every reset that names its connection is one failure; a warning
	// comes at each change of failure, not at each poll.
	var resetKey string
	var changes, resets int
	prev := ""
	for range 5 {
		err := mb.Poll(t.Context())
		if err == nil {
			t.Fatal("a poll of a server that resets every connection succeeded")
		}
		key := adapters.FailureKey(err, err.Error())
		if strings.Contains(err.Error(), "->") {
			resets++
			if resetKey != "" && key != resetKey {
				t.Errorf("two resets taken for two failures:\n%s\n%s", resetKey, key)
			}
			resetKey = key
		}
		if key != prev {
			changes++
			prev = key
		}
	}
	if resets == 0 {
		t.Skip("this platform reported no reset naming its connection")
	}
	if warns := strings.Count(logs.String(), "level=WARN"); warns != changes {
		t.Errorf("%d warnings for %d changes of failure over 5 polls (%d resets), want one a change:\n%s", warns, changes, resets, logs.String())
	}
}
