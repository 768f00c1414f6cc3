package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/queue/seal"
)

var mrnA7 = PatientID{System: "urn:oid:2.16.840.1.113883.3.999.1", Value: "MRN-A7"}

func TestCX(t *testing.T) {
	for _, c := range []struct{ system, value, want string }{
		{"urn:oid:2.16.840.1.113883.3.999.1", "MRN-A7", "MRN-A7^^^&2.16.840.1.113883.3.999.1&ISO"},
		{"https://clinic.example/mrn", "77", "77^^^&https://clinic.example/mrn&URI"},
		{"", "77", "77"},
		{"urn:oid:1.2", `A^B&C\D`, `A\S\B\T\C\E\D^^^&1.2&ISO`},
	} {
		if got := CX(c.system, c.value); got != c.want {
			t.Errorf("CX(%q, %q) = %q, want %q", c.system, c.value, got, c.want)
		}
	}
}

// TestExportNamesPatientIdentifier: an Export built with the patient's
// identifier names it as DICOM PS3.15 A.5 asks (type 1, role 1, RFC-3881
// 2 "Patient Number", the id in CX form) and, in the FHIR form, as BALP's
// Patient entity does (what.identifier with system and value, type 1,
// role 1).
func TestExportNamesPatientIdentifier(t *testing.T) {
	ev := ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie/fhir", PatientID: mrnA7,
		Patient: "k-1", IDType: IDPatientKey, ControlID: "C1", BundleID: "01J"})
	ev.AuditSourceID = "gw"
	x, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	want := `<ParticipantObjectIdentification ParticipantObjectID="MRN-A7^^^&amp;2.16.840.1.113883.3.999.1&amp;ISO" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number">`
	if !strings.Contains(string(x), want) || strings.Contains(string(x), "k-1") {
		t.Errorf("DICOM message lacks the patient's identifier, or names the key:\n%s", x)
	}
	f, err := ev.FHIR()
	if err != nil {
		t.Fatal(err)
	}
	var ae struct {
		Entity []struct {
			What struct {
				Identifier struct{ System, Value string }
			}
			Type struct{ Code string }
			Role struct{ Code string }
		}
	}
	if err := json.Unmarshal(f, &ae); err != nil {
		t.Fatal(err)
	}
	if len(ae.Entity) == 0 {
		t.Fatalf("no entity: %s", f)
	}
	p := ae.Entity[0]
	if p.What.Identifier.System != mrnA7.System || p.What.Identifier.Value != mrnA7.Value || p.Type.Code != "1" || p.Role.Code != "1" {
		t.Errorf("FHIR patient entity = %+v:\n%s", p, f)
	}
}

// TestImportNamesPatients: an Import names each patient of the input, the
// control id on the first.
func TestImportNamesPatients(t *testing.T) {
	other := PatientID{System: mrnA7.System, Value: "MRN-B8"}
	ev := ImportEvent(Import{Sender: "EHR", Gateway: "gw", Format: "hl7v2", ControlID: "C1", PatientIDs: []PatientID{mrnA7, other}})
	if len(ev.Objects) != 2 || ev.Objects[0].Value != "MRN-A7" || ev.Objects[1].Value != "MRN-B8" ||
		len(ev.Objects[0].Details) != 1 || len(ev.Objects[1].Details) != 0 || ev.Objects[0].IDType != IDPatientNumber {
		t.Errorf("objects = %+v", ev.Objects)
	}
}

// TestSpoolSealed: with a data-at-rest key, events spooled while the
// repository is unreachable (they name the patient's identifier) are
// sealed on disk, and reach the repository whole once it is back.
func TestSpoolSealed(t *testing.T) {
	p := demoPKI(t)
	key, err := seal.NewKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	spoolDir := filepath.Join(t.TempDir(), "spool")
	down := "tls://" + reserveAddr(t)
	s1 := newSink(t, down, clientTLS(p), spoolDir, func(o *Options) { o.Key = key })
	start(t, s1)
	ev := ExportEvent(Export{Gateway: "gw", ExchangeURL: "https://hie/fhir", PatientID: mrnA7, BundleID: "01J"})
	s1.Record(ev)
	waitStats(t, s1, "spooled", func(st Stats) bool { return st.Spooled == 1 })
	shutdown(t, s1)
	files := 0
	filepath.WalkDir(spoolDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		files++
		if bytes.Contains(b, []byte("MRN-A7")) || bytes.Contains(b, []byte("ferry-audit-event")) {
			t.Errorf("%s holds the event in clear", path)
		}
		return nil
	})
	if files == 0 {
		t.Fatal("nothing spooled")
	}

	r, addr := startTLSRepo(t, p, "127.0.0.1:0")
	s2 := newSink(t, "tls://"+addr, clientTLS(p), spoolDir, func(o *Options) { o.Key = key })
	start(t, s2)
	msgs := r.waitN(t, 1)
	if !bytes.Contains(msgs[0].msg, []byte(`ParticipantObjectID="MRN-A7^^^&amp;2.16.840.1.113883.3.999.1&amp;ISO"`)) {
		t.Errorf("the spooled event lost the patient:\n%s", msgs[0].msg)
	}
	shutdown(t, s2)
	if st := s2.Stats(); st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
}
