package pipeline

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/queue/seal"
)

func testKey(t *testing.T) *seal.Key {
	t.Helper()
	k, err := seal.GenerateKeyFile(filepath.Join(t.TempDir(), "ferry.key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// assertNoPlaintext fails if any file under dir contains needle.
func assertNoPlaintext(t *testing.T, dir, needle string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds %q in clear text", p, needle)
		}
		return nil
	})
	if n == 0 {
		t.Fatalf("no files under %s", dir)
	}
}

// TestQuarantineSealed: with a key the entry file holds no input bytes,
// Get gives them back; a plaintext entry from before encryption is still
// read; without the key or with another one the error names the key.
func TestQuarantineSealed(t *testing.T) {
	dir := t.TempDir()
	plain, err := OpenQuarantine(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldID, err := plain.Put(adapters.Raw{Source: "mllp", Name: "old", Received: time.Now()}, []byte("PID|||1||OLDPLAIN^ANNA"), errors.New("bad"))
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t)
	q, err := OpenQuarantine(dir)
	if err != nil {
		t.Fatal(err)
	}
	q.SetKey(k)
	raw := []byte("MSH|^~\\&|\rPID|||7||ZEBRAFINCH^QUINTANA")
	id, err := q.Put(adapters.Raw{Source: "mllp", Name: "m1", Received: time.Now()}, raw, errors.New("no PID-3"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !seal.IsStream(b) || bytes.Contains(b, []byte("ZEBRAFINCH")) || bytes.Contains(b, []byte("no PID-3")) {
		t.Fatal("quarantine entry not sealed")
	}
	e, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Raw, raw) || e.Reason != "no PID-3" || e.ID != id {
		t.Fatalf("entry read back wrong: %+v", e)
	}
	if e, err := q.Get(oldID); err != nil || !strings.Contains(string(e.Raw), "OLDPLAIN") {
		t.Fatalf("plaintext entry with a key: %v", err)
	}
	if ids, _ := q.List(); len(ids) != 2 {
		t.Fatalf("List = %v", ids)
	}

	if _, err := plain.Get(id); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "encryption.key_file") {
		t.Fatalf("without key: %v", err)
	}
	other, _ := OpenQuarantine(dir)
	other.SetKey(testKey(t))
	_, err = other.Get(id)
	var km *seal.KeyMismatchError
	if !errors.As(err, &km) || km.Data != k.ID() {
		t.Fatalf("other key: %v", err)
	}

	// A sealed entry renamed to another id does not open (aad).
	if err := os.Rename(filepath.Join(dir, id+".json"), filepath.Join(dir, "01SWAPPED.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get("01SWAPPED"); !errors.Is(err, seal.ErrCorrupt) {
		t.Fatalf("swapped entry: %v", err)
	}
}

// TestHeldSealed: held entries and spilled bundle copies are sealed with a
// key and read back whole (OpenBundle reports the plaintext size); a
// plaintext held store keeps working after a key is added.
func TestHeldSealed(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHeld(dir)
	if err != nil {
		t.Fatal(err)
	}
	plainID, err := h.Put(adapters.Raw{Source: "mllp", Name: "p"}, &Unit{Name: "u", Bundle: []byte(`{"resourceType":"Bundle","id":"OLDPLAIN"}`)}, "R")
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t)
	h.SetKey(k)
	id, err := h.Put(adapters.Raw{Source: "mllp", Name: "m"}, &Unit{Name: "u", Bundle: []byte(`{"resourceType":"Bundle","id":"ZEBRAFINCH"}`)}, "R")
	if err != nil {
		t.Fatal(err)
	}
	// A spilled bundle larger than a seal chunk.
	big := []byte(`{"resourceType":"Bundle","note":"ZEBRAFINCH` + strings.Repeat("x", seal.ChunkSize*2+100) + `"}`)
	spill := filepath.Join(t.TempDir(), "b-1")
	if err := os.WriteFile(spill, big, 0o600); err != nil {
		t.Fatal(err)
	}
	bigID, err := h.Put(adapters.Raw{Source: "folder", Name: "fax"}, &Unit{Name: "u", BodyFile: spill}, "V")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(spill)
	os.Remove(filepath.Join(dir, plainID+".json"))
	assertNoPlaintext(t, dir, "ZEBRAFINCH")

	e, err := h.Get(id)
	if err != nil || !strings.Contains(string(e.Bundle), "ZEBRAFINCH") {
		t.Fatalf("Get: %v", err)
	}
	be, err := h.Get(bigID)
	if err != nil {
		t.Fatal(err)
	}
	r, n, err := h.OpenBundle(be)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, big) || n != int64(len(big)) {
		t.Fatalf("OpenBundle: %d bytes (size %d), want %d: %v", len(got), n, len(big), err)
	}

	h2, _ := OpenHeld(dir)
	if _, err := h2.Get(bigID); !errors.Is(err, ErrNoKey) {
		t.Fatalf("without key: %v", err)
	}
	h2.SetKey(testKey(t))
	var km *seal.KeyMismatchError
	if _, err := h2.Get(bigID); !errors.As(err, &km) {
		t.Fatalf("other key: %v", err)
	}
	if err := h.Remove(bigID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, bigID+".bundle.json")); !os.IsNotExist(err) {
		t.Fatalf("bundle file left: %v", err)
	}
}

// TestHeldSealedOldVersion: a spilled held bundle sealed by an earlier
// release (stream version 2: a shorter header, chunks sealed under the
// key itself) still opens, and OpenBundle reports its plaintext size
// right (the Content-Length of its release), not one reckoned from
// today's header.
func TestHeldSealedOldVersion(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), "ferry.key")
	k, err := seal.GenerateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	b64, _ := os.ReadFile(keyPath)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := OpenHeld(dir)
	if err != nil {
		t.Fatal(err)
	}
	h.SetKey(k)
	big := []byte(`{"resourceType":"Bundle","note":"` + strings.Repeat("x", seal.ChunkSize*2+100) + `"}`)
	spill := filepath.Join(t.TempDir(), "b-1")
	if err := os.WriteFile(spill, big, 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := h.Put(adapters.Raw{Source: "folder", Name: "fax"}, &Unit{Name: "u", BodyFile: spill}, "V")
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	// The bundle file as the earlier release wrote it: "FERRYSEAL" 2, key
	// id, nonce prefix; chunks with magic, version and key id before aad.
	block, _ := aes.NewCipher(raw)
	gcm, _ := cipher.NewGCM(block)
	kid, _ := hex.DecodeString(k.ID())
	old := append(append([]byte("FERRYSEAL\x02"), kid...), "prefix7"...)
	aad := append(bytes.Clone(old[:18]), bundleAAD(id)...)
	for n, rest := uint32(0), big; ; n++ {
		c := min(len(rest), seal.ChunkSize)
		nonce := append([]byte("prefix7"), 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(nonce[7:], n)
		if c == len(rest) {
			nonce[11] = 1
		}
		old = gcm.Seal(old, nonce, rest[:c], aad)
		if rest = rest[c:]; len(rest) == 0 {
			break
		}
	}
	if err := os.WriteFile(h.bundlePath(e), old, 0o600); err != nil {
		t.Fatal(err)
	}
	r, n, err := h.OpenBundle(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, big) || n != int64(len(big)) {
		t.Fatalf("OpenBundle: %d bytes (size %d), want %d: %v", len(got), n, len(big), err)
	}
}

// TestHeldPlaintextWithKey: an entry written before encryption (plaintext
// bundle file included) is read by a store that has a key.
func TestHeldPlaintextWithKey(t *testing.T) {
	dir := t.TempDir()
	h, _ := OpenHeld(dir)
	spill := filepath.Join(t.TempDir(), "b-1")
	os.WriteFile(spill, []byte(`{"resourceType":"Bundle"}`), 0o600)
	id, err := h.Put(adapters.Raw{Source: "folder"}, &Unit{Name: "u", BodyFile: spill}, "R")
	if err != nil {
		t.Fatal(err)
	}
	h.SetKey(testKey(t))
	e, err := h.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	r, n, err := h.OpenBundle(e)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	if string(b) != `{"resourceType":"Bundle"}` || n != int64(len(b)) {
		t.Fatalf("got %q size %d", b, n)
	}
}

// TestSealedSpillHeld: a fax bundle too large for memory is spilled by an
// encrypting queue (sealed), read through Policy.Open for its labels,
// held, and copied into the held store through the spill opener, sealed
// again under the entry's id; it reads back as the whole bundle and no
// spill file is left in the queue.
func TestSealedSpillHeld(t *testing.T) {
	k := testKey(t)
	qdir := t.TempDir()
	q, err := diskq.Open(qdir, diskq.Options{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(context.Background())
	quar, _ := OpenQuarantine(t.TempDir())
	quar.SetKey(k)
	hdir := t.TempDir()
	held, _ := OpenHeld(hdir)
	held.SetKey(k)
	open := func(path string) (io.ReadCloser, error) {
		rc, _, err := diskq.OpenBodyFile(path, k)
		return rc, err
	}
	held.SetSpillOpener(open)
	p := New(q, memSeen{}, quar, map[string]Converter{"fax": faxConverter(t)}, nil)
	var labels []string
	p.SetPolicy(Policy{Hold: []string{"N"}, Open: open}, held, func(_ adapters.Raw, _ *Unit, label string) { labels = append(labels, label) })

	big := filepath.Join(t.TempDir(), "big.pdf")
	writeTestPDF(t, big, 2<<20)
	if err := p.Consume(context.Background(), fileRaw(t, big)); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || len(labels) != 1 || labels[0] == "unreadable labels" {
		t.Fatalf("queue %d, held labels %v", q.Len(), labels)
	}
	q.Sync(context.Background())
	if f := bodyFiles(t, qdir); len(f) != 0 {
		t.Errorf("spill files left: %v", f)
	}
	ids, _ := held.List()
	if len(ids) != 1 {
		t.Fatalf("held %v", ids)
	}
	e, err := held.Get(ids[0])
	if err != nil || e.BundleFile == "" {
		t.Fatalf("held entry: %v %+v", err, e)
	}
	raw, _ := os.ReadFile(filepath.Join(hdir, e.BundleFile))
	if !seal.IsStream(raw) {
		t.Fatal("held bundle file is not sealed")
	}
	r, n, err := held.OpenBundle(e)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Data         []byte `json:"data"`
			} `json:"resource"`
		} `json:"entry"`
	}
	cr := &countReader{r: r}
	if err := json.NewDecoder(cr).Decode(&b); err != nil || b.ResourceType != "Bundle" {
		t.Fatalf("held bundle: %v", err)
	}
	io.Copy(io.Discard, cr)
	pdf, _ := os.ReadFile(big)
	found := false
	for _, en := range b.Entry {
		found = found || en.Resource.ResourceType == "Binary" && bytes.Equal(en.Resource.Data, pdf)
	}
	if !found || cr.n != n {
		t.Fatalf("held bundle: fax found %v, read %d bytes, OpenBundle said %d", found, cr.n, n)
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
