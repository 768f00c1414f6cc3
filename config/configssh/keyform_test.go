package configssh_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/config/configssh/sshtest"
)

// TestKeyFileOfAnotherForm: the two keys a contractor most often gives
// key_file by mistake, a PuTTY key (.ppk, as PuTTYgen saves it on
// Windows) and the public half (id_ed25519.pub), are named for what they
// are, with what to give instead; both were "is not an SSH private key:
// ssh: no key found".
func TestKeyFileOfAnotherForm(t *testing.T) {
	dir := t.TempDir()
	site := sshtest.NewSite(t, dir)
	tg, err := configssh.ParseURL("sftp://ferry@" + site.Server.Addr() + sshtest.URLPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	ppk := "PuTTY-User-Key-File-3: ssh-ed25519\r\nEncryption: none\r\nComment: eddsa-key-20261128\r\nPublic-Lines: 2\r\n" +
		"AAAAC3NzaC1lZDI1NTE5AAAAIN0pb1Ll9kbu8p/j0Xg6kJ3OTvcnw9Qt+x5NcJ+bV0n3\r\n"
	pub := string(ssh.MarshalAuthorizedKey(site.ClientKey.PublicKey()))
	for _, tc := range []struct{ name, body, want string }{
		{"ferry.ppk", ppk, "PuTTY"},
		{"id_ed25519.pub", pub, "holds a public key"},
	} {
		l := site.Login
		l.KeyFile = filepath.Join(dir, tc.name)
		if err := os.WriteFile(l.KeyFile, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := configssh.Dial(context.Background(), l, tg, 5*time.Second, "fetch")
		var ce *configssh.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.Problem, tc.want) || !strings.Contains(ce.Problem, "fetch.key_file") {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
}
