//go:build !linux

package ops

// unprivilegedPortStart is 0 here: the service's account is not judged
// on its ports (Windows has no privileged ports).
func unprivilegedPortStart() int { return 0 }
