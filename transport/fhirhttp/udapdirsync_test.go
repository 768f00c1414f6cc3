package fhirhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferry-health/ferry/queue/durable"
)

// TestUDAPRegistrationFolderSynced: the client id a registration got is
// kept in <data_dir>/udap/client.json, so that a restart does not
// register again, but the udap folder was made with os.MkdirAll and its
// entry in data_dir never synced (durable.WriteFile syncs only the
// folder the file goes in): a power cut after the gateway's first
// registration, or after `ferry udap-register`, could lose the folder
// with the client id in it, as faba165 found for the data_dir itself.
// The folder is now synced into its parent.
func TestUDAPRegistrationFolderSynced(t *testing.T) {
	ca := newTestCA(t, "community root")
	ex := newExchange(t, false)
	newUDAPServer(t, ex, ca)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cfg := udapSetup(t, ca, key)
	dataDir := t.TempDir()
	regFile := filepath.Join(dataDir, "udap", "client.json")

	var mu sync.Mutex
	synced := map[string]bool{}
	defer durable.TraceSyncDir(func(dir string) {
		mu.Lock()
		synced[filepath.Clean(dir)] = true
		mu.Unlock()
	})()
	s := newSink(t, Config{URL: ex.url() + "/", TLS: ex.clientTLS(), UDAP: cfg, UDAPRegistrationFile: regFile})
	if err := s.Send(context.Background(), item("01DIRSYNC0")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(regFile); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !synced[filepath.Clean(dataDir)] {
		t.Errorf("the udap folder made for %s was not synced into %s", regFile, dataDir)
	}
}
