package ehrdrop

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
	"time"
)

// FuzzPlanZip: an archive from outside (a Direct mailbox's XDM package,
// an EHI export) is planned without a panic or a hang, whatever its bytes;
// every document planned without an error is an entry of the archive whose
// name stays inside it, and reading it is held to its declared size.
func FuzzPlanZip(f *testing.F) {
	t := &testing.T{}
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	doc := []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"/>`)
	f.Add(buildZip(t, at,
		zipFile{"INDEX.HTM", []byte("<html/>")},
		zipFile{"IHE_XDM/SUBSET01/METADATA.XML", metadataXML(xdmDoc{"DOC0001.XML", "text/xml", "1.2.3.4.1"}, xdmDoc{"DOC0002.PDF", "application/pdf", "1.2.3.4.2"})},
		zipFile{"IHE_XDM/SUBSET01/DOC0001.XML", doc},
		zipFile{"IHE_XDM/SUBSET01/DOC0002.PDF", []byte("%PDF-1.4\n%%EOF\n")}))
	f.Add(buildZip(t, at, zipFile{"export/patients.ndjson", []byte(`{"resourceType":"Patient"}` + "\n")}, zipFile{"a.hl7", []byte("MSH|^~\\&|\r")}))
	f.Add(buildZip(t, at, zipFile{"../evil.xml", doc}))
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		lim := zipLimits{entries: 64, bytes: 1 << 20, ratio: 200, ratioFloor: 4 << 10}
		steps, _, err := planZip(zr, int64(len(data)), lim)
		if err != nil {
			return
		}
		for _, st := range steps {
			if st.err != nil {
				continue
			}
			if st.f == nil {
				t.Fatalf("step %q has neither an entry nor an error", st.name)
			}
			if err := checkName(st.name); err != nil {
				t.Fatalf("step %q planned with a name checkZip refuses: %v", st.name, err)
			}
			rc, err := openEntry(st.f)
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, io.LimitReader(rc, int64(st.f.UncompressedSize64)+1<<20))
			rc.Close()
			if uint64(n) > st.f.UncompressedSize64 {
				t.Fatalf("entry %q read %d bytes, declared %d", st.name, n, st.f.UncompressedSize64)
			}
		}
	})
}
