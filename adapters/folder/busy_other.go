//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package folder

import "fmt"

// busy has no lock check on this platform; the settle time alone decides.
// It still refuses what is not a regular file.
func busy(p place, name string) (bool, error) {
	info, err := p.root.Lstat(p.join(name))
	if err != nil {
		return false, err
	}
	if !info.Mode().IsRegular() {
		return false, fmt.Errorf("lock check %s: %w", name, errNotRegular)
	}
	return false, nil
}
