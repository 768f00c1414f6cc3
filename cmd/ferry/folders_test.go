package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGatewayFolders drops a C-CDA document, an HL7 v2 batch file and a
// fax into watched folders of a running gateway and checks that each is
// converted, delivered over mutual TLS, and moved out of the inbox only
// after that; the same C-CDA dropped again is not sent twice.
func TestGatewayFolders(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	faxIn := filepath.Join(root, "fax")
	for _, d := range []string{ehr, faxIn} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms}
    - {name: fax, kind: fax, path: %q, settle: 20ms, rescan: 200ms, patterns: ['^(?P<doctype>[a-z]+)_(?P<mrn>[0-9]+)']}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
fax:
  source_id: 1.3.6.1.4.1.21367.2026.1
  patient_system: urn:oid:1.3.6.1.4.1.21367.13.20.1000
`, filepath.Join(root, "data"), ehr, faxIn, url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)

	copyFile(t, "../../testdata/convert/ccda-problem/input.xml", filepath.Join(ehr, "patient-1.xml"))
	copyFile(t, "../../testdata/hl7v2/batch-two-messages.hl7", filepath.Join(ehr, "nightly.hl7"))
	copyFile(t, "../../testdata/fax/g4-fine-1p.tif", filepath.Join(faxIn, "referral_48213.tif"))

	waitFor(t, "three inputs delivered", func() bool {
		return len(recv.Resources("DocumentReference")) >= 3 && len(recv.Resources("MessageHeader")) >= 2 && gw.q.Len() == 0
	})
	if got := len(recv.Resources("Condition")); got == 0 {
		t.Error("the C-CDA problem did not arrive as a Condition")
	}
	if got := len(recv.Resources("List")); got != 1 {
		t.Errorf("MHD SubmissionSet Lists: %d, want 1", got)
	}
	waitFor(t, "inboxes emptied", func() bool { return empty(t, ehr) && empty(t, faxIn) })
	// An inbox is empty once its files are claimed (moved under .ferry);
	// each reaches done/ once it is stored, which may be a moment later.
	waitFor(t, "the two EHR files in done/", func() bool {
		done, _ := filepath.Glob(filepath.Join(ehr, ".ferry", "done", "*", "*"))
		return len(done) == 2
	})

	// The same export dropped again is recognised and not sent twice.
	before := recv.Bundles()
	copyFile(t, "../../testdata/convert/ccda-problem/input.xml", filepath.Join(ehr, "patient-1-again.xml"))
	waitFor(t, "the re-drop settled", func() bool { return empty(t, ehr) })
	if recv.Bundles() != before {
		t.Errorf("a re-dropped export was delivered again (%d → %d bundles)", before, recv.Bundles())
	}
}

// TestGatewayFolderZip drops an XDM package (ITI-32) with two C-CDA
// documents into a running gateway's EHR folder: each document is
// delivered as it would be dropped alone, and the package moves to done/.
func TestGatewayFolderZip(t *testing.T) {
	paths, recv, url := testPKI(t)
	root := t.TempDir()
	ehr := filepath.Join(root, "exports")
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
data_dir: %q
sources:
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms}
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`, filepath.Join(root, "data"), ehr, url, paths.CA, paths.ClientCert, paths.ClientKey)
	gw := runGateway(t, cfg)

	metadata := `<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="Document01" mimeType="text/xml">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.XML</rim:Value></rim:ValueList></rim:Slot>
  </rim:ExtrinsicObject>
  <rim:ExtrinsicObject id="Document02" mimeType="text/xml">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0002.XML</rim:Value></rim:ValueList></rim:Slot>
  </rim:ExtrinsicObject>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
`
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, f := range []struct{ name, from string }{
		{"INDEX.HTM", ""},
		{"README.TXT", ""},
		{"IHE_XDM/SUBSET01/METADATA.XML", ""},
		{"IHE_XDM/SUBSET01/DOC0001.XML", "../../testdata/convert/ccda-problem/input.xml"},
		{"IHE_XDM/SUBSET01/DOC0002.XML", "../../testdata/convert/ccda-result/input.xml"},
	} {
		data := []byte("see the documents under IHE_XDM")
		switch {
		case f.from != "":
			var err error
			if data, err = os.ReadFile(f.from); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(f.name, "METADATA.XML"):
			data = []byte(metadata)
		}
		fw, err := w.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(ehr, ".incoming-referral.zip")
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(ehr, "referral.zip")); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "both documents delivered", func() bool {
		return len(recv.Resources("DocumentReference")) >= 2 && gw.q.Len() == 0
	})
	if len(recv.Resources("Condition")) == 0 || len(recv.Resources("Observation")) == 0 {
		t.Error("the problem and the result did not both arrive")
	}
	waitFor(t, "the package in done/", func() bool {
		done, _ := filepath.Glob(filepath.Join(ehr, ".ferry", "done", "*", "referral.zip"))
		return len(done) == 1 && empty(t, ehr)
	})
}

// empty reports whether dir holds no files other than ferry's own folder.
func empty(t *testing.T, dir string) bool {
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if de.Name() != ".ferry" {
			return false
		}
	}
	return true
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(to), ".incoming-"+filepath.Base(to))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayFolderStartsLate: a folder source whose path is not there at
// start (a share not yet mounted) does not keep the gateway down: MLLP
// runs, the folder shows as stuck, and once the folder appears it is
// started and its files are taken.
func TestGatewayFolderStartsLate(t *testing.T) {
	old := folderStartRetry
	folderStartRetry = 50 * time.Millisecond
	t.Cleanup(func() { folderStartRetry = old })

	root := t.TempDir()
	ehr := filepath.Join(root, "share", "exports")
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - {name: m, listen: "127.0.0.1:0"}
  folders:
    - {name: ehr, kind: ehr, path: %q, settle: 20ms, rescan: 200ms}
`, filepath.Join(root, "data"), ehr)
	gw := runGateway(t, cfg)
	if len(gw.mllps) != 1 {
		t.Fatalf("mllp sources: %d", len(gw.mllps))
	}
	st := gw.folders[0].Stats()
	if !st.ClaimsFailing || !strings.Contains(st.LastClaimError, "not started") {
		t.Errorf("a folder that is not there: %+v", st)
	}
	if err := os.MkdirAll(ehr, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "../../testdata/convert/ccda-problem/input.xml", filepath.Join(ehr, "patient-1.xml"))
	waitFor(t, "the late folder's file taken", func() bool { return empty(t, ehr) })
	waitFor(t, "the folder no longer stuck", func() bool { return !gw.folders[0].Stats().ClaimsFailing })
}
