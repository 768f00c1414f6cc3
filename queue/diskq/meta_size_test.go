package diskq

import (
	"testing"
	"unsafe"
)

// TestMetaSize guards the per-item memory of the index: a queue holding a
// day's backlog keeps one meta per item.
func TestMetaSize(t *testing.T) {
	if n := unsafe.Sizeof(meta{}); n > 96 {
		t.Fatalf("meta is %d bytes; keep it within the 96-byte size class", n)
	}
}
