//go:build !linux && !freebsd && !darwin && !windows

package installer

import (
	"errors"
	"os"
)

// ServiceUser is empty where ferry cannot create a dedicated account.
func ServiceUser() string { return "" }

// EnsureAccount is not supported on this OS.
func EnsureAccount(string) (bool, error) { return false, nil }

// PrepareFolders is not supported on this OS.
func PrepareFolders(Layout) error {
	return errors.New("prepare folders: not supported on this operating system")
}

// FixOwnership is a no-op on this OS.
func FixOwnership(string) error { return nil }

// KeepOwnership is a no-op on this OS.
func KeepOwnership(os.FileInfo, string) error { return nil }

// GiveKeyToService is a no-op on this OS.
func GiveKeyToService(string) (bool, error) { return false, nil }

// GiveConfigToService is a no-op on this OS.
func GiveConfigToService(string) (bool, error) { return false, nil }

// GiveTreeToService is a no-op on this OS.
func GiveTreeToService(string) (bool, error) { return false, nil }

// IsAdmin reports true: this OS has no check of its own.
func IsAdmin() bool { return true }
