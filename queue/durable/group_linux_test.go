package durable

import "testing"

// TestGroupOnKernelWithoutSyncfsErrors: before Linux 5.8 syncfs(2)
// failed only on a bad descriptor ("BUGS" in its manual page): a write
// the disk lost (EIO) went unreported, and a Group commit on such a
// kernel (RHEL 8's 4.18, Debian 10's 4.19, Ubuntu 20.04's 5.4) returned
// nil for a file that was not on disk, the outbox counting the bundle
// delivered. There a Group commits as Pending.Commit does, with fsync of
// the file and of its directory, which report it.
func TestGroupOnKernelWithoutSyncfsErrors(t *testing.T) {
	defer func(r func() string) { kernelRelease = r }(kernelRelease)
	for release, whole := range map[string]bool{
		"4.18.0-553.el8_10.x86_64": false,
		"4.19.0-27-amd64":          false,
		"5.4.0-150-generic":        false,
		"5.7.19":                   false,
		"5.8.0":                    true,
		"5.15.0-119-generic":       true,
		"6.1.0-18-amd64":           true,
		"":                         false,
	} {
		kernelRelease = func() string { return release }
		g, err := NewGroup(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if got := g.fsys != nil; got != whole {
			t.Errorf("kernel %q: whole-file-system sync %v, want %v", release, got, whole)
		}
		g.Close()
	}
}
