//go:build !windows

package installer

// PackageLayout is the layout of the .deb and .rpm packages (FHS paths).
func PackageLayout() Layout {
	return Layout{
		Binary:     "/usr/bin/ferry",
		ConfigDir:  "/etc/ferry",
		ConfigFile: "/etc/ferry/ferry.yaml",
		DataDir:    "/var/lib/ferry",
	}
}
