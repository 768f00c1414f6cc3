package ops

import "golang.org/x/sys/unix"

// hasACL reports a POSIX access ACL on p, which may grant more than its
// mode shows.
func hasACL(p string) bool {
	n, err := unix.Getxattr(p, "system.posix_acl_access", nil)
	return err == nil && n > 0
}
