//go:build windows

package installer

import (
	"os"
	"path/filepath"
)

// PackageLayout is the layout of the MSI: the program under Program Files,
// configuration and data under ProgramData (not per user).
func PackageLayout() Layout {
	pf := os.Getenv("ProgramFiles")
	if pf == "" {
		pf = `C:\Program Files`
	}
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return Layout{
		Binary:     filepath.Join(pf, "ferry", "ferry.exe"),
		ConfigDir:  filepath.Join(pd, "ferry"),
		ConfigFile: filepath.Join(pd, "ferry", "ferry.yaml"),
		DataDir:    filepath.Join(pd, "ferry", "data"),
	}
}
