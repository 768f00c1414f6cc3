//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package folder

// busy has no lock check on this platform; the settle time alone decides.
func busy(string) (bool, error) { return false, nil }
