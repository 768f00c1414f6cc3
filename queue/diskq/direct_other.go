//go:build !linux

package diskq

// directFile is never opened here: segments are written buffered.
type directFile struct {
	tail directTail
	gate *rawGate
}

func directSupported(string) bool              { return false }
func openDirect(string) *directFile            { return nil }
func (*directFile) pwrite([]byte, int64) error { return nil }
func (*directFile) close() error               { return nil }
func alignedBuffer(n int) []byte               { return make([]byte, n) }
