//go:build !unix

package seal

import "os"

// checkKeyFileMode does nothing here: Windows protects the file with its
// ACL (the installer restricts the configuration folder).
func checkKeyFileMode(*os.File) error { return nil }
