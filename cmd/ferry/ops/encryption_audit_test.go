package ops

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/queue/seal"
)

// TestCheckEncryptionAuditSpool: after a key rotation, audit events
// spooled sealed with the previous key (the repository was down) still
// need it: doctor must not call it removable, since a spooled event no
// configured key opens is dropped, and the audit trail loses it.
func TestCheckEncryptionAuditSpool(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile, oldFile := filepath.Join(dir, "new.key"), filepath.Join(dir, "old.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	old, err := seal.GenerateKeyFile(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t", []byte("data_dir: "+data+"\nencryption: {key_file: "+keyFile+", previous_key_files: ["+oldFile+"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// One spooled record, sealed with the old key, in the spool's framing.
	spool := cfg.Path("audit", "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := old.Seal(nil, []byte("ferry-audit-event/1\n{}"), []byte("ferry audit record"))
	var h [8]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(rec)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(rec, crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(filepath.Join(spool, "0000000000000001.seg"), append(h[:], rec...), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := CheckEncryption(cfg)
	if len(cs) != 2 || cs[1].Name != oldFile || !strings.Contains(cs[1].Detail, "still opens 1 audit event") {
		t.Fatalf("previous key with a spooled audit event: %+v", cs)
	}
}

// TestCheckEncryptionAuditHandoff: audit events a command handed off
// (audit/handoff) while the repository was down and the gateway stopped
// are sealed with the key of their day and wait for the gateway to take
// them into its spool. Doctor counted the spool only, so after a
// rotation it called their key removable; removed, the gateway's start
// took them in and dropped each as sealed with a key no longer configured:
// records of people's actions lost from the audit trail.
func TestCheckEncryptionAuditHandoff(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyFile, oldFile := filepath.Join(dir, "new.key"), filepath.Join(dir, "old.key")
	if _, err := seal.GenerateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	old, err := seal.GenerateKeyFile(oldFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("t", []byte("data_dir: "+data+"\nencryption: {key_file: "+keyFile+", previous_key_files: ["+oldFile+"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Two events of one command, sealed with the old key, in the
	// hand-off file's framing.
	handoff := cfg.Path("audit", "handoff")
	if err := os.MkdirAll(handoff, 0o700); err != nil {
		t.Fatal(err)
	}
	var file []byte
	for range 2 {
		rec := old.Seal(nil, []byte("ferry-audit-event/1\n{}"), []byte("ferry audit record"))
		var h [8]byte
		binary.BigEndian.PutUint32(h[:4], uint32(len(rec)))
		binary.BigEndian.PutUint32(h[4:], crc32.Checksum(rec, crc32.MakeTable(crc32.Castagnoli)))
		file = append(append(file, h[:]...), rec...)
	}
	if err := os.WriteFile(filepath.Join(handoff, "00000000000000000001-42-0a0b0c0d.audit"), file, 0o600); err != nil {
		t.Fatal(err)
	}
	cs := CheckEncryption(cfg)
	if len(cs) != 2 || cs[1].Name != oldFile || !strings.Contains(cs[1].Detail, "still opens 2 audit events") {
		t.Fatalf("previous key with handed-off audit events: %+v", cs)
	}
}
