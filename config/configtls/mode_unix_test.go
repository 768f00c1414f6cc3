//go:build unix

package configtls

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestKeyFileModeRefused: a private key other accounts can read (or its
// group can change) is refused, server and client side alike, with the
// field, the file and the fix in the message; 0600 and the packaged
// layout's 0640 (group read only) are accepted. A renewed key with a bad
// mode is not picked up by the reload either.
func TestKeyFileModeRefused(t *testing.T) {
	p := demo(t)
	load := func() (error, error) {
		_, serr := ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey}.LoadTLSConfig()
		_, cerr := ClientConfig{CertFile: p.ClientCert, KeyFile: p.ServerKey}.LoadTLSConfig()
		return serr, cerr
	}
	for _, mode := range []os.FileMode{0o644, 0o604, 0o660, 0o666, 0o601} {
		if err := os.Chmod(p.ServerKey, mode); err != nil {
			t.Fatal(err)
		}
		serr, _ := load()
		if serr == nil {
			t.Errorf("mode %04o: server key accepted", mode)
			continue
		}
		for _, want := range []string{"key_file", p.ServerKey, "chmod 600"} {
			if !strings.Contains(serr.Error(), want) {
				t.Errorf("mode %04o: %q does not mention %q", mode, serr, want)
			}
		}
		if err := KeyFileMode(p.ServerKey); err == nil {
			t.Errorf("mode %04o: KeyFileMode accepts it", mode)
		}
	}
	if err := os.Chmod(p.ClientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (ClientConfig{CertFile: p.ClientCert, KeyFile: p.ClientKey}).LoadTLSConfig(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("client key 0644: %v", err)
	}
	for _, mode := range []os.FileMode{0o600, 0o400, 0o640, 0o440} {
		if err := os.Chmod(p.ServerKey, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := (ServerConfig{CertFile: p.ServerCert, KeyFile: p.ServerKey}).LoadTLSConfig(); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
		if err := KeyFileMode(p.ServerKey); err != nil {
			t.Errorf("mode %04o: KeyFileMode: %v", mode, err)
		}
	}

	// Reload: the pair in use stays when the key on disk turns world-readable.
	if err := os.Chmod(p.ServerKey, 0o600); err != nil {
		t.Fatal(err)
	}
	kp, err := newKeyPair(p.ServerCert, p.ServerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := kp.get()
	key, err := os.ReadFile(p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	// The "renewed" key is written anew, world-readable, with a new mtime.
	os.Remove(p.ServerKey)
	if err := os.WriteFile(p.ServerKey, key, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p.ServerKey, 0o644) // whatever the umask
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p.ServerKey, later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKeyPair(p.ServerCert, p.ServerKey, time.Now()); err == nil {
		t.Fatal("the world-readable renewed key loads")
	}
	if kp.get() != before {
		t.Error("a world-readable key was loaded on reload")
	}
}
