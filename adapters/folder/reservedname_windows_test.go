package folder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReservedDeviceNameLeftInPlace: a file whose name Windows reserves
// for a device (con.hl7, AUX.pdf: CON, PRN, AUX, NUL, COM1 to COM9 and
// LPT1 to LPT9, with an extension too before Windows 11) lies in the
// folder, written there by a client that knows no such rule (a Linux or
// macOS scanner on the NAS share the folder is, WSL, a \\?\ path). A
// Win32 path to it names the device, and os.Root refuses the name
// outright, so the file can be neither checked, taken nor moved. Each pass
// counted it a failed claim: the folder showed FOLDER STUCK
// (ferry_folder_claims_failing 1) with a WARN that ferry lacked permission
// on the folder, which it has, and the file itself was named nowhere. It is
// left in place, counted with the special files, and its WARN says why,
// once; the folder's other files are taken as before.
func TestReservedDeviceNameLeftInPlace(t *testing.T) {
	dir := t.TempDir()
	reserved := `\\?\` + filepath.Join(dir, "con.hl7")
	if err := os.WriteFile(reserved, []byte("MSH|^~\\&|LAB\r"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(reserved) }) // before TempDir's own cleanup, which cannot name it
	dropFile(t, dir, "lab.hl7", []byte("MSH|^~\\&|LAB\r"))
	rec := &recorder{}
	e, logs := startLogged(t, testConfig(dir), rec, false)
	waitFor(t, "lab.hl7 taken", func() bool { e.Rescan(); return doneHas(t, e, "lab.hl7")() })
	waitPasses(t, e, 2)
	st := e.Stats()
	if st.ClaimErrors != 0 || st.ClaimsFailing {
		t.Errorf("a file of a reserved name makes the folder look stuck: %d claim errors, failing %v (%s)",
			st.ClaimErrors, st.ClaimsFailing, st.LastClaimError)
	}
	if st.SpecialFiles != 1 {
		t.Errorf("special files %d, want 1 (con.hl7, which no Windows path can name)", st.SpecialFiles)
	}
	if n := strings.Count(logs.String(), "reserves"); n != 1 {
		t.Errorf("%d WARNs say Windows reserves the file's name, want 1:\n%s", n, logs)
	}
	if _, err := os.Lstat(reserved); err != nil {
		t.Errorf("con.hl7 not left in place: %v", err)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("consumed %d files, want 1 (lab.hl7)", n)
	}
}
