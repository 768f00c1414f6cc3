package hl7v2

import "testing"

// TestUTF8WithStrayWindowsByte: a message labelled UTF-8 (or unlabelled)
// whose names are UTF-8 but which holds one byte that is not (a note
// pasted from a Windows program, a field an older interface stored in
// cp1252: O’Brien with its 0x92) was read as windows-1252 from its first
// byte to its last, so every UTF-8 name of it went to the exchange as
// mojibake: José as JosÃ©, Müller as MÃ¼ller. The UTF-8 of such a
// message is read as UTF-8, and only the bytes that are not UTF-8 as
// windows-1252.
func TestUTF8WithStrayWindowsByte(t *testing.T) {
	for _, msh18 := range []string{"UNICODE UTF-8", "", "ASCII"} {
		m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||" + msh18 +
			"\rPID|1||1||Jos\xc3\xa9^M\xc3\xbcller\rNTE|1||O\x92Brien \x93ok\x94 5\x80 \xef\xbf\xbd\r"))
		if err != nil {
			t.Fatalf("%q: %v", msh18, err)
		}
		for path, want := range map[string]string{
			"PID-5-1": "José",
			"PID-5-2": "Müller",
			"NTE-3":   "O’Brien “ok” 5€ \ufffd",
		} {
			if got := m.Get(path); got != want {
				t.Errorf("%q: %s = %q, want %q", msh18, path, got, want)
			}
		}
		if got := m.Decoding(); got != fallback {
			t.Errorf("%q: decoding %q, want %q", msh18, got, fallback)
		}
		if err := m.CharsetError(); err != nil {
			t.Errorf("%q: CharsetError %v", msh18, err)
		}
	}
}
