package configssh_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestKeyFileSavedByWindows: ferry's key opened in Notepad and saved
// (before 2019, "UTF-8 with BOM"; PowerShell 5's Set-Content -Encoding
// UTF8 writes the same) logs in, as a TLS key_file so saved does
// (configtls.TrimBOM); and one saved as UTF-16 (PowerShell 5's > and
// Out-File) is named as such. Both were "is not an SSH private key: ssh:
// no key found", though the file holds ferry's key.
func TestKeyFileSavedByWindows(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(site.Login.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	l := site.Login
	l.KeyFile = filepath.Join(dir, "bom_ed25519")
	crlf := strings.ReplaceAll(string(key), "\n", "\r\n")
	if err := os.WriteFile(l.KeyFile, []byte("\xef\xbb\xbf"+crlf), 0o600); err != nil {
		t.Fatal(err)
	}
	sess, err := configssh.Dial(context.Background(), l, tg, 5*time.Second, "fetch")
	if err != nil {
		t.Fatalf("key behind a byte-order mark: %v", err)
	}
	sess.Close()

	u16 := []byte{0xff, 0xfe}
	for _, c := range utf16.Encode([]rune(crlf)) {
		u16 = append(u16, byte(c), byte(c>>8))
	}
	if err := os.WriteFile(l.KeyFile, u16, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = configssh.Dial(context.Background(), l, tg, 5*time.Second, "fetch")
	var ce *configssh.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.Problem, "fetch.key_file") || !strings.Contains(ce.Problem, "UTF-16") {
		t.Errorf("UTF-16 key: %v; want a problem naming fetch.key_file as UTF-16", err)
	}
}
