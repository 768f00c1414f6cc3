//go:build unix

package configtls

import (
	"fmt"
	"io/fs"
)

// checkKeyMode refuses a private key file that accounts other than its
// owner and group can read, or that its group can change. Group read is
// allowed: it is how the packaged layout lets the service account read a
// key it cannot change (0640 root:ferry, see installer.PrepareFolders),
// the same arrangement as /etc/ssl/private with the ssl-cert group.
func checkKeyMode(field, path string, fi fs.FileInfo) error {
	m := fi.Mode().Perm()
	if m&0o037 == 0 {
		return nil
	}
	return fmt.Errorf("%s %q: mode %04o lets other accounts read or change the private key; run chmod 600 %s "+
		"(or chmod 640 with the group of the account ferry runs as, as ferry install sets it)", field, path, m, path)
}
