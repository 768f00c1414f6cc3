package ops

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/pipeline"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestCheckEncryption: doctor says off, or on with the key id; a missing
// key file fails naming encryption.key_file; quarantine entries sealed
// with another key fail with both key ids.
func TestCheckEncryption(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	parse := func(extra string) *config.Config {
		c, err := config.Parse("t", []byte("data_dir: "+data+"\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if cs := CheckEncryption(parse("")); len(cs) != 1 || cs[0].Level != OK || !strings.HasPrefix(cs[0].Detail, "off") {
		t.Fatalf("off: %+v", cs)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("doctor created the data dir")
	}
	keyFile := filepath.Join(dir, "ferry.key")
	k, err := seal.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	on := parse("encryption: {key_file: " + keyFile + "}\n")
	if cs := CheckEncryption(on); len(cs) != 1 || cs[0].Level != OK || !strings.Contains(cs[0].Detail, "on (key "+k.ID()+")") {
		t.Fatalf("on: %+v", cs)
	}
	if cs := CheckEncryption(parse("encryption: {key_file: " + filepath.Join(dir, "none.key") + "}\n")); len(cs) != 1 || cs[0].Level != Fail || !strings.Contains(cs[0].Detail, "encryption.key_file: key file") {
		t.Fatalf("missing: %+v", cs)
	}

	// An entry sealed with another key.
	other, _ := seal.GenerateKeyFile(filepath.Join(dir, "other.key"))
	q, err := pipeline.OpenQuarantine(on.Path("quarantine"))
	if err != nil {
		t.Fatal(err)
	}
	q.SetKey(other)
	if _, err := q.Put(adapters.Raw{Source: "mllp"}, []byte("x"), errors.New("bad")); err != nil {
		t.Fatal(err)
	}
	cs := CheckEncryption(on)
	if len(cs) != 3 || cs[1].Level != Fail || !strings.Contains(cs[1].Detail, "1 entry cannot be opened") || !strings.Contains(cs[1].Detail, other.ID()) {
		t.Fatalf("other key: %+v", cs)
	}
	// The key no configured key is: the gateway would refuse to start.
	if cs[2].Level != Fail || !strings.Contains(cs[2].Detail, "key "+other.ID()+" (1 quarantine entry)") || !strings.Contains(cs[2].Detail, "does not start") {
		t.Fatalf("unknown key: %+v", cs[2])
	}
	// Encryption turned off with sealed entries left.
	if cs := CheckEncryption(parse("")); len(cs) != 3 || cs[1].Level != Fail || !strings.Contains(cs[1].Detail, "no key is configured") ||
		!strings.Contains(cs[2].Detail, "encryption is off") {
		t.Fatalf("off with sealed entries: %+v", cs)
	}

	// A rotation: the other key listed as previous opens the entry, and
	// doctor says it is still needed, then, once the entry is gone, that
	// it can be removed.
	otherFile := filepath.Join(dir, "other.key")
	rotated := parse("encryption: {key_file: " + keyFile + ", previous_key_files: [" + otherFile + "]}\n")
	cs = CheckEncryption(rotated)
	if len(cs) != 2 || cs[1].Level != OK || cs[1].Name != otherFile || !strings.Contains(cs[1].Detail, "previous key "+other.ID()+" still opens 1 quarantine entry") {
		t.Fatalf("rotated: %+v", cs)
	}
	ids, err := q.List()
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	if err := q.Remove(ids[0]); err != nil {
		t.Fatal(err)
	}
	cs = CheckEncryption(rotated)
	if len(cs) != 2 || cs[1].Level != OK || !strings.Contains(cs[1].Detail, "nothing sealed with it remains; it can be removed") {
		t.Fatalf("rotated, drained: %+v", cs)
	}
}

// TestCheckEncryptionPlaintextArchives: with encryption on, a folder that
// moves its inputs to done/ (the default) is named with a warning, since
// its archive stays in clear for retention.done; one with after: delete,
// and every folder while encryption is off, is not.
func TestCheckEncryptionPlaintextArchives(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "ferry.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	folders := "sources:\n  folders:\n" +
		"    - {name: ehr, kind: ehr, path: " + filepath.Join(dir, "ehr") + "}\n" +
		"    - {name: drop, kind: ehr, path: " + filepath.Join(dir, "drop") + ", after: delete}\n"
	for _, tc := range []struct {
		extra string
		warns int
	}{
		{"", 0},
		{"encryption: {key_file: " + keyFile + "}\n", 1},
	} {
		c, err := config.Parse("t", []byte("data_dir: "+filepath.Join(dir, "data")+"\n"+folders+tc.extra))
		if err != nil {
			t.Fatal(err)
		}
		var warns []Check
		for _, ch := range CheckEncryption(c) {
			if ch.Level == Warn {
				warns = append(warns, ch)
			}
		}
		if len(warns) != tc.warns {
			t.Fatalf("%q: warnings %+v, want %d", tc.extra, warns, tc.warns)
		}
		if tc.warns > 0 && (warns[0].Name != "sources.folders ehr" || !strings.Contains(warns[0].Detail, "in clear") || !strings.Contains(warns[0].Detail, "(30 days)")) {
			t.Errorf("warning %+v", warns[0])
		}
	}
}
