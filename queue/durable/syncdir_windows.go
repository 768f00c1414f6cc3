//go:build windows

package durable

// SyncDir does nothing on Windows, which cannot fsync directory metadata;
// NTFS journals renames itself (NATS' filestore skips it the same way).
func SyncDir(string) error { return nil }
