//go:build windows

package durable

// syncDir does nothing on Windows, which cannot fsync directory metadata;
// NTFS journals renames itself (NATS' filestore skips it the same way).
func syncDir(string) error { return nil }
