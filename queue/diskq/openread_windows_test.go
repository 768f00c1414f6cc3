package diskq

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestOpenReadWaitsOutSharingViolation: a body file another handle holds
// without sharing it (as a virus scanner or a concurrent delete does for
// a moment) is opened once that handle is closed, not refused.
func TestOpenReadWaitsOutSharingViolation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, []byte("bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, 0, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(path); err == nil {
		f.Close()
		windows.CloseHandle(h)
		t.Skip("this system does not refuse a second open of an unshared file")
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		windows.CloseHandle(h)
	}()
	f, err := openRead(path)
	if err != nil {
		t.Fatalf("openRead while a handle held the file for 100 ms: %v", err)
	}
	f.Close()
}
