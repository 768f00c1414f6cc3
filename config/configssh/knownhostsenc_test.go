package configssh_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestKnownHostsSavedByWindows: a known_hosts made on Windows with
// PowerShell 5 (`ssh-keyscan host > known_hosts`, Out-File) is UTF-16, and
// one saved by Notepad before 2019 begins with a UTF-8 byte-order mark.
// The first was "no valid entries, line 1: missing key type pattern"; the
// second hid its first line, so a file of one host key was "names no key
// for" the server, with the advice to add the very key the contractor
// sees in the file. Both are now named for what they are, with how to
// save the file.
func TestKnownHostsSavedByWindows(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	line, err := os.ReadFile(site.Login.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(line), "\n", "\r\n")
	u16 := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(text)) {
		u16 = append(u16, byte(u), byte(u>>8))
	}
	target := configssh.Target{User: "ferry", Addr: site.Server.Addr(), Dir: sshtest.URLPath(dir)}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"utf-16":         {u16, "UTF-16"},
		"utf-8 with bom": {append([]byte("\xef\xbb\xbf"), text...), "byte-order mark"},
	} {
		if err := os.WriteFile(site.Login.KnownHosts, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := configssh.Dial(context.Background(), site.Login, target, 5*time.Second, "exchange.sftp")
		if err == nil {
			s.Close()
			t.Errorf("%s: logged in", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "exchange.sftp.known_hosts") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "ASCII") {
			t.Errorf("%s: %v; want it named %s, with how to save it", name, err, tc.want)
		}
	}
	// Saved plainly, with Windows line ends, it logs in.
	if err := os.WriteFile(site.Login.KnownHosts, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := configssh.Dial(context.Background(), site.Login, target, 5*time.Second, "exchange.sftp")
	if err != nil {
		t.Fatalf("known_hosts with CRLF: %v", err)
	}
	s.Close()
}
