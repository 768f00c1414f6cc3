package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

// cmdKeygen implements `ferry keygen PATH`: a new data-at-rest key, mode
// 0600, never over an existing file (that would make everything sealed
// with the old key unreadable).
func cmdKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	pos, err := splitArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage
	}
	// The folder the key was meant to go in (/etc/ferry for
	// /etc/ferry/ferry.key) is no key kept on purpose, which is what the
	// refusal below says.
	if fi, err := os.Stat(pos[0]); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder; give the key file's path in it: ferry keygen %s", pos[0], filepath.Join(pos[0], "ferry.key"))
	}
	k, err := seal.GenerateKeyFile(pos[0])
	if errors.Is(err, iofs.ErrExist) {
		return fmt.Errorf("%s already exists and is left as it is: keygen never writes over a file, since with a key there whatever ferry sealed with it (queue, dead letters, quarantine, held bundles, backups) would be unreadable; "+
			"to keep using it, there is nothing to do; to rotate, write the new key to another file and name this one in encryption.previous_key_files (README, \"Rotating the key\")", pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote key %s to %s\n", k.ID(), pos[0])
	// Made with sudo, the key would be root's and the service, which
	// runs as the ferry account, could not read it.
	if given, err := installer.GiveKeyToService(pos[0]); err != nil {
		return fmt.Errorf("key written, but not given to the %s account: %w (chown it yourself)", installer.Account, err)
	} else if given {
		fmt.Fprintf(stdout, "gave it to the %s account (mode 0600): the service reads it, other users cannot\n", installer.Account)
	}
	fmt.Fprint(stdout, keyWarning(pos[0]))
	return nil
}

// keyWarning tells the operator what the key is worth, and how to name it
// in the configuration: by its absolute path, since the service does not
// run in the folder the key was made in.
func keyWarning(path string) string {
	return keyBackupWarning(path) + fmt.Sprintf(` Point the configuration at it with:

  encryption:
    key_file: %s
`, absPath(path))
}

// keyBackupWarning is keyWarning without the configuration snippet, for
// `ferry init --encryption-key`, which writes encryption.key_file itself.
func keyBackupWarning(path string) string {
	return fmt.Sprintf(`
Keep a copy of %s somewhere safe, away from this machine (a password
manager or a sealed envelope): ferry encrypts its queue, quarantine and
held bundles with it, and if the key is lost, the data waiting in them is
lost too.`, path)
}

// opsKey loads the data-at-rest key for an operator command that opens
// ferry's stores (queue, held, quarantine): nil when encryption is off.
func opsKey(cfg *config.Config) (*seal.Key, error) {
	k, err := cfg.LoadKey()
	if err != nil {
		return nil, fmt.Errorf("encryption: %w (the stores are encrypted with it; run as root or the ferry account)", err)
	}
	return k, nil
}

// spillOpener reads the queue's spill files (sealed with key when it is
// set) for the hold policy and the held store.
func spillOpener(key *seal.Key) func(path string) (io.ReadCloser, error) {
	return func(path string) (io.ReadCloser, error) {
		rc, _, err := diskq.OpenBodyFile(path, key)
		return rc, err
	}
}
