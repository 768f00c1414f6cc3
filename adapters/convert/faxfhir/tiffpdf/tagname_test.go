package tiffpdf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorNamesEveryTag: a fax whose DateTime (or Make, Model,
// Software, HostComputer, PageNumber, NewSubfileType, BadFaxLines,
// CleanFaxData) could not be read was refused as "tag tag (306)", the
// field named by its number only, behind a word that read as a fault of
// the message; each field ferry reads is named.
func TestErrorNamesEveryTag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(faxDir, "hylafax/recvq/fax000000042.tif"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	ifd := int(le.Uint32(b[4:]))
	n := int(le.Uint16(b[ifd:]))
	for i := 0; i < n; i++ {
		e := b[ifd+2+12*i:]
		if le.Uint16(e) == TagDateTime {
			le.PutUint32(e[8:], uint32(len(b))) // past the end
		}
	}
	_, err = Read(bytes.NewReader(b), int64(len(b)), "fax000000042.tif")
	if want := "tiff fax000000042.tif: page 1: tag DateTime (306): "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want prefix %q", err, want)
	}
	for _, tag := range []int{TagNewSubfileType, TagMake, TagModel, TagSoftware, TagDateTime, TagHostComputer, TagPageNumber, TagBadFaxLines, TagCleanFaxData} {
		if tagName(tag) == "tag" {
			t.Errorf("tag %d has no name", tag)
		}
	}
}
