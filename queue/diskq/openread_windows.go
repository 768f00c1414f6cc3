package diskq

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// openRead opens a body file for reading. On Windows an open fails with
// a sharing violation while another handle on the file does not share it:
// a virus scanner looking at a new file, for one. CI's Wine run saw it
// when a dead letter's linked body was retried right after the
// dead-lettering (TestSupersedeReplacedSpilledBody, 2 runs in 5; which
// handle was in the way was not found). Such a handle is short-lived, so
// the open is tried again for up to two seconds, as Go's own tools do
// (cmd/go/internal/robustio).
func openRead(path string) (*os.File, error) {
	wait := time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		f, err := os.Open(path)
		if err == nil || !errors.Is(err, windows.ERROR_SHARING_VIOLATION) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}
