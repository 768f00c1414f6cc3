//go:build !unix

package configtls

import "io/fs"

// checkKeyMode does nothing here: on Windows the file's ACL, not its mode
// bits, says who may read it (the installer restricts the configuration
// folder).
func checkKeyMode(string, string, fs.FileInfo) error { return nil }
