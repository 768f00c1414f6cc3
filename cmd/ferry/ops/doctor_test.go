package ops

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// tlsExchange starts a real HTTPS server that requires a client certificate
// from clientCA and serves FHIR metadata; cert/key are its own.
func tlsExchange(t *testing.T, certPEM, keyPEM []byte, clientCA *pki.CA) *httptest.Server {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write([]byte(`{"resourceType":"CapabilityStatement"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA.Pool()}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type pkiSet struct {
	ca                *pki.CA
	caFile            string
	clientCert, clKey string
}

func newPKI(t *testing.T, dir, name string) pkiSet {
	t.Helper()
	ca, err := pki.NewCA(name + " CA")
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := ca.Issue(name+" client", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return pkiSet{ca: ca, caFile: writeFile(t, dir, name+"-ca.pem", ca.CertPEM()),
		clientCert: writeFile(t, dir, name+"-client.pem", c), clKey: writeFile(t, dir, name+"-client.key", k)}
}

func exchangeConfig(t *testing.T, url, caFile, cert, key string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Exchange.URL = url
	cfg.Exchange.TLS = configtls.ClientConfig{CAFile: caFile, CertFile: cert, KeyFile: key}
	return cfg
}

func TestCheckExchangePlainWords(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	other := newPKI(t, dir, "other")
	now := time.Now()
	loop := []net.IP{net.IPv4(127, 0, 0, 1)}

	sc, sk, _ := good.ca.Issue("localhost", []string{"localhost"}, loop, false)
	okSrv := tlsExchange(t, sc, sk, good.ca)
	ec, ek, _ := good.ca.IssueValid("localhost", []string{"localhost"}, loop, false, now.Add(-72*time.Hour), now.Add(-time.Hour))
	expiredSrv := tlsExchange(t, ec, ek, good.ca)
	hc, hk, _ := good.ca.Issue("hie.example.org", []string{"hie.example.org"}, nil, false)
	wrongNameSrv := tlsExchange(t, hc, hk, good.ca)
	// A server whose certificate comes from a CA ferry was not told about.
	oc, ok, _ := other.ca.Issue("localhost", []string{"localhost"}, loop, false)
	wrongCASrv := tlsExchange(t, oc, ok, good.ca)

	cases := []struct {
		name  string
		cfg   *config.Config
		level Level
		words []string
	}{
		{"good", exchangeConfig(t, okSrv.URL+"/fhir", good.caFile, good.clientCert, good.clKey), OK,
			[]string{"TLS handshake and request ok", "GET /metadata answered 200 OK", `server certificate "localhost"`}},
		{"expired server certificate", exchangeConfig(t, expiredSrv.URL, good.caFile, good.clientCert, good.clKey), Fail,
			[]string{"certificate expired", "has expired or is not yet valid", "check the system clock or ask the exchange"}},
		{"wrong CA", exchangeConfig(t, wrongCASrv.URL, good.caFile, good.clientCert, good.clKey), Fail,
			[]string{"unknown authority", `signed by "other CA"`, "not in ca_file"}},
		{"hostname mismatch", exchangeConfig(t, wrongNameSrv.URL, good.caFile, good.clientCert, good.clKey), Fail,
			[]string{"hostname mismatch", "hie.example.org", "fix the url or set tls.server_name"}},
		{"client certificate from another CA", exchangeConfig(t, okSrv.URL, good.caFile, other.clientCert, other.clKey), Fail,
			[]string{"client certificate rejected", "refused ferry's client certificate"}},
	}
	for _, tc := range cases {
		got := CheckExchange(context.Background(), tc.cfg, DoctorOptions{Timeout: 5 * time.Second})
		if len(got) != 1 {
			t.Fatalf("%s: %d checks", tc.name, len(got))
		}
		c := got[0]
		if c.Level != tc.level {
			t.Errorf("%s: level %v, want %v: %s", tc.name, c.Level, tc.level, c.Detail)
		}
		for _, w := range tc.words {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q does not say %q", tc.name, c.Detail, w)
			}
		}
		t.Logf("%s: %s %s", tc.name, c.Level, c.Detail)
	}

	// Nothing listening, and a name that does not resolve.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	c := CheckExchange(context.Background(), exchangeConfig(t, "https://"+closed+"/fhir", good.caFile, good.clientCert, good.clKey), DoctorOptions{})[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "nothing accepts connections on "+closed) {
		t.Errorf("refused: %s", c.Detail)
	}
	// A plain HTTP server where TLS was expected.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	c = CheckExchange(context.Background(), exchangeConfig(t, "https://"+strings.TrimPrefix(plain.URL, "http://"), good.caFile, good.clientCert, good.clKey), DoctorOptions{})[0]
	if c.Level != Fail || !strings.Contains(c.Detail, "did not answer with TLS") {
		t.Errorf("plain http: %s", c.Detail)
	}
	// No exchange at all is fine.
	cfg := config.Default()
	if c := CheckExchange(context.Background(), cfg, DoctorOptions{})[0]; c.Level != OK || !strings.Contains(c.Detail, "outbox") {
		t.Errorf("no exchange: %+v", c)
	}
}

func TestCheckCertificates(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	other := newPKI(t, dir, "other")
	now := time.Now()
	soonC, soonK, _ := good.ca.IssueValid("soon", nil, nil, true, now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))
	oldC, oldK, _ := good.ca.IssueValid("old", nil, nil, true, now.Add(-72*time.Hour), now.Add(-48*time.Hour))
	soon := writeFile(t, dir, "soon.pem", soonC)
	soonKey := writeFile(t, dir, "soon.key", soonK)
	old := writeFile(t, dir, "old.pem", oldC)
	oldKey := writeFile(t, dir, "old.key", oldK)
	newC, newK, _ := good.ca.IssueValid("new", nil, nil, true, now.Add(48*time.Hour), now.Add(72*time.Hour))
	notYet := writeFile(t, dir, "new.pem", newC)
	notYetKey := writeFile(t, dir, "new.key", newK)
	leaf, _ := os.ReadFile(good.clientCert)
	caFirst := writeFile(t, dir, "ca-first.pem", append(good.ca.CertPEM(), leaf...))
	key, _ := os.ReadFile(good.clKey)
	bomCert := writeFile(t, dir, "bom.pem", append([]byte("\xef\xbb\xbf"), leaf...))
	bomKey := writeFile(t, dir, "bom.key", append([]byte("\xef\xbb\xbf"), key...))

	cases := []struct {
		name      string
		cert, key string
		level     Level
		words     []string
	}{
		{"valid", good.clientCert, good.clKey, OK, []string{"valid until", "days left", "chains to " + good.caFile}},
		{"expires soon", soon, soonKey, Warn, []string{"10 days left", "renew it soon"}},
		// Out of its dates, it still chains to the CA that issued it:
		// "not issued by the CA ... a certificate in the chain has
		// expired" sent the contractor to the CA for a clock or a
		// renewal.
		{"expired", old, oldKey, Fail, []string{"expired on", "days ago", "ask for a renewed certificate"}},
		{"not valid yet", notYet, notYetKey, Fail, []string{"is not valid until", "check the system clock", "chains to " + good.caFile}},
		{"key of another certificate", good.clientCert, other.clKey, Fail, []string{"does not belong to this certificate"}},
		{"chain with the client certificate second", caFirst, good.clKey, Fail, []string{"certificate 2", "exchange client", "must come first"}},
		{"saved with a byte-order mark", bomCert, bomKey, OK, []string{"valid until", "chains to " + good.caFile}},
		{"issued by another CA", other.clientCert, other.clKey, Warn, []string{"not issued by the CA in " + good.caFile, "unknown authority"}},
		{"missing", filepath.Join(dir, "nope.pem"), good.clKey, Fail, []string{"file does not exist"}},
		{"swapped", good.clKey, good.clientCert, Fail, []string{"holds a private key", "swapped"}},
	}
	for _, tc := range cases {
		cfg := exchangeConfig(t, "https://hie.example.org/fhir", good.caFile, tc.cert, tc.key)
		checks := CheckCertificates(cfg, DoctorOptions{Now: now})
		if len(checks) != 2 {
			t.Fatalf("%s: %d checks: %+v", tc.name, len(checks), checks)
		}
		if checks[0].Level != OK || !strings.Contains(checks[0].Name, "ca_file") {
			t.Errorf("%s: CA check %+v", tc.name, checks[0])
		}
		c := checks[1]
		if c.Level != tc.level {
			t.Errorf("%s: level %v, want %v: %s", tc.name, c.Level, tc.level, c.Detail)
		}
		for _, w := range tc.words {
			if !strings.Contains(c.Detail, w) {
				t.Errorf("%s: %q does not say %q", tc.name, c.Detail, w)
			}
		}
	}
	// Certificates are judged at the doctor's clock: 20 days on, the
	// 10-day certificate has expired.
	cfg := exchangeConfig(t, "https://hie.example.org/fhir", good.caFile, soon, soonKey)
	if c := CheckCertificates(cfg, DoctorOptions{Now: now.Add(20 * 24 * time.Hour)})[1]; c.Level != Fail || !strings.Contains(c.Detail, "chains to "+good.caFile) {
		t.Errorf("future clock: %+v", c)
	}
}

func TestCheckFoldersAndDisk(t *testing.T) {
	cfg := config.Default()
	root := t.TempDir()
	cfg.DataDir = filepath.Join(root, "data")
	checks := CheckFolders(cfg, DoctorOptions{})
	if checks[0].Level != Warn || !strings.Contains(checks[0].Detail, "does not exist yet") {
		t.Errorf("missing data dir: %+v", checks[0])
	}
	os.Mkdir(cfg.DataDir, 0o777)
	os.Chmod(cfg.DataDir, 0o777)
	checks = CheckFolders(cfg, DoctorOptions{})
	// Windows has no mode bits to read: its ACLs are set by ferry install.
	if runtime.GOOS != "windows" && (checks[0].Level != Warn || !strings.Contains(checks[0].Detail, "lets every user")) {
		t.Errorf("open data dir: %+v", checks[0])
	}
	os.Chmod(cfg.DataDir, 0o700)
	checks = CheckFolders(cfg, DoctorOptions{})
	if checks[0].Level != OK || !strings.Contains(checks[0].Detail, "writable") {
		t.Errorf("good data dir: %+v", checks[0])
	}
	file := filepath.Join(root, "afile")
	os.WriteFile(file, nil, 0o600)
	cfg.DataDir = file
	if c := CheckFolders(cfg, DoctorOptions{})[0]; c.Level != Fail || !strings.Contains(c.Detail, "not a folder") {
		t.Errorf("file as data dir: %+v", c)
	}

	cfg.DataDir = filepath.Join(root, "data", "deeper", "still")
	d := CheckDisk(cfg, DoctorOptions{})[0]
	if !strings.Contains(d.Detail, "free of") || !strings.Contains(d.Name, filepath.Join(root, "data")) {
		t.Errorf("disk: %+v", d)
	}
	if d := CheckDisk(cfg, DoctorOptions{MinFreeBytes: 1 << 62})[0]; d.Level != Fail {
		t.Errorf("tiny disk not reported: %+v", d)
	}
}

func TestCheckPorts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	freeAddr := free.Addr().String()
	free.Close()

	cfg := config.Default()
	cfg.Sources.MLLP[0].Listen = busy.Addr().String()
	cfg.Status.Listen = freeAddr
	checks := CheckPorts(context.Background(), cfg)
	if len(checks) != 2 {
		t.Fatalf("%+v", checks)
	}
	if checks[0].Level != Fail || !strings.Contains(checks[0].Detail, "already in use by another program") {
		t.Errorf("busy port: %+v", checks[0])
	}
	if checks[1].Level != OK || checks[1].Detail != "free" {
		t.Errorf("free port: %+v", checks[1])
	}

	// A running ferry: its status page answers, and it holds both ports.
	st := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/status" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"version":"1.2.3","queue":{"Depth":4},"sources":[{"name":"t","kind":"mllp","address":%q}]}`, busy.Addr().String())
	}))
	defer st.Close()
	cfg.Status.Listen = strings.TrimPrefix(st.URL, "http://")
	checks = CheckPorts(context.Background(), cfg)
	for _, c := range checks {
		if c.Level != OK || !strings.Contains(c.Detail, "running ferry (1.2.3)") {
			t.Errorf("ferry's own port: %+v", c)
		}
	}
}

// TestCheckDiskSync runs the flush probe on a real folder: it reports the
// latency and the bound it puts on a lone MLLP connection, leaves nothing
// behind, and says so when it cannot write.
func TestCheckDiskSync(t *testing.T) {
	cfg := config.Default()
	root := t.TempDir()
	cfg.DataDir = filepath.Join(root, "data", "not-yet")
	c := CheckDiskSync(cfg, DoctorOptions{SyncSamples: 8})[0]
	if c.Area != "disk" || !strings.Contains(c.Name, root) {
		t.Errorf("check names %q %q, want the data folder's nearest existing parent", c.Area, c.Name)
	}
	for _, want := range []string{"fdatasync", "p50", "8 samples", "msg/s"} {
		if !strings.Contains(c.Detail, want) && !strings.Contains(c.Detail, "memory file system") {
			t.Errorf("detail %q lacks %q", c.Detail, want)
		}
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("probe left %v behind", left)
	}

	if os.Geteuid() != 0 && runtime.GOOS != "windows" { // Windows: a folder's mode does not stop writes into it
		ro := filepath.Join(root, "ro")
		os.Mkdir(ro, 0o500)
		cfg.DataDir = ro
		if c := CheckDiskSync(cfg, DoctorOptions{SyncSamples: 2})[0]; c.Level != Warn || !strings.Contains(c.Detail, "cannot tell") {
			t.Errorf("unwritable folder: %+v", c)
		}
	}
}

// TestCheckDiskSyncMemoryFS: a data folder on tmpfs loses the queue on
// reboot, which the doctor fails.
func TestCheckDiskSyncMemoryFS(t *testing.T) {
	if !MemoryFS("/dev/shm") {
		t.Skip("no tmpfs at /dev/shm here")
	}
	dir, err := os.MkdirTemp("/dev/shm", "ferry-doctor-")
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir = dir
	if c := CheckDiskSync(cfg, DoctorOptions{})[0]; c.Level != Fail || !strings.Contains(c.Detail, "memory file system") {
		t.Errorf("tmpfs data dir: %+v", c)
	}
}

// TestCheckExchangeUDAP: with exchange.auth.udap, doctor reads the UDAP
// metadata and fails, in words, on an exchange that signs none.
func TestCheckExchangeUDAP(t *testing.T) {
	dir := t.TempDir()
	good := newPKI(t, dir, "exchange")
	sc, sk, _ := good.ca.Issue("localhost", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, false)
	srv := tlsExchange(t, sc, sk, good.ca)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	uri, _ := url.Parse("https://clinic-12.example.org/ferry")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ferry udap"}, URIs: []*url.URL{uri},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile := writeFile(t, dir, "udap.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))

	cfg := exchangeConfig(t, srv.URL+"/fhir", good.caFile, good.clientCert, good.clKey)
	cfg.Exchange.Auth.UDAP = fhirhttp.UDAPConfig{CertFile: certFile, KeyFile: writeFile(t, dir, "udap.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
		TrustAnchors: certFile, OrganizationID: "urn:oid:1.2.3", Contacts: []string{"mailto:it@example.org"}}
	got := CheckExchange(context.Background(), cfg, DoctorOptions{Timeout: 5 * time.Second})
	if len(got) != 2 || got[1].Name != "exchange.auth.udap" || got[1].Level != Fail || !strings.Contains(got[1].Detail, "no signed_metadata") {
		t.Fatalf("checks %+v", got)
	}
}

// TestCheckLog: where the log goes, and whether log.file can be written.
func TestCheckLog(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	if c := CheckLog(cfg, "linux"); c.Level != OK || !strings.Contains(c.Detail, "journal") {
		t.Errorf("no file, linux: %+v", c)
	}
	if c := CheckLog(cfg, "windows"); c.Level != OK || !strings.Contains(c.Detail, filepath.Join(cfg.DataDir, "logs", "ferry.log")) {
		t.Errorf("no file, windows: %+v", c)
	}
	cfg.Log.File = filepath.Join(dir, "logs", "ferry.log")
	if c := CheckLog(cfg, "linux"); c.Level != OK || !strings.Contains(c.Detail, "created at start") || !strings.Contains(c.Detail, "rotated at 50 MiB, 10 kept") {
		t.Errorf("file to create: %+v", c)
	}
	blocker := filepath.Join(dir, "plain")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Log.File = filepath.Join(blocker, "ferry.log")
	if c := CheckLog(cfg, "linux"); c.Level != Fail {
		t.Errorf("file under a plain file: %+v", c)
	}
	cfg.Log.File = dir
	if c := CheckLog(cfg, "linux"); c.Level != Fail || !strings.Contains(c.Detail, "folder") {
		t.Errorf("a folder: %+v", c)
	}
}

// TestCheckPortsOtherFerry: the ports are held by a ferry whose status page
// names another data folder (the README's `ferry run` on the embedded
// default, left running while the package is installed). That is not the
// gateway the configuration describes, whose service could not bind them.
func TestCheckPortsOtherFerry(t *testing.T) {
	st := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"1.2.3","data_dir":"./ferry-data"}`))
	}))
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Sources.MLLP = nil
	cfg.Status.Listen = strings.TrimPrefix(st.URL, "http://")
	checks := CheckPorts(context.Background(), cfg)
	if len(checks) != 1 || checks[0].Level != Fail || !strings.Contains(checks[0].Detail, "./ferry-data") || !strings.Contains(checks[0].Detail, cfg.DataDir) {
		t.Errorf("port held by another ferry: %+v", checks)
	}
	// The same data folder, written another way, is this gateway.
	cfg.DataDir = "ferry-data/"
	checks = CheckPorts(context.Background(), cfg)
	if len(checks) != 1 || checks[0].Level != OK {
		t.Errorf("port held by this ferry: %+v", checks)
	}
}

// TestCheckPortsPortZero: an MLLP listener on port 0 was left out of
// doctor's port checks without a word, so doctor passed a gateway no
// sender can reach (the system picks another port at every start). It is
// a warning now, as in config check; access still reports who may send.
func TestCheckPortsPortZero(t *testing.T) {
	cfg := config.Default()
	cfg.Sources.MLLP[0].Listen = "127.0.0.1:0"
	cfg.Status.Listen = ""
	checks := CheckPorts(context.Background(), cfg)
	if len(checks) != 1 || checks[0].Level != Warn || !strings.Contains(checks[0].Detail, "port 0") {
		t.Errorf("port checks: %+v", checks)
	}
	access := CheckAccess(cfg)
	if len(access) != 1 || access[0].Level != OK || access[0].Detail != "loopback only: senders on this machine" {
		t.Errorf("access: %+v", access)
	}
}

// TestCheckPortsNotTheRunningFerrys: with ferry running, doctor said every
// busy port was "in use by the running ferry", also one ferry does not
// listen on: a listener added or moved in the configuration since the
// start, to a port another program (the interface engine ferry replaces)
// holds. The contractor checking the edited configuration before a
// restart was told it was fine, and the restart failed. A busy port is
// the running ferry's only when its report lists a listener on it.
func TestCheckPortsNotTheRunningFerrys(t *testing.T) {
	ferrys, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ferrys.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	st := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"version":"1.2.3","sources":[{"name":"t","kind":"mllp","address":%q}]}`, ferrys.Addr().String())
	}))
	defer st.Close()
	cfg := config.Default()
	cfg.Sources.MLLP = []config.MLLP{{Name: "t", Listen: ferrys.Addr().String()}, {Name: "new", Listen: other.Addr().String()}}
	cfg.Status.Listen = strings.TrimPrefix(st.URL, "http://")
	checks := CheckPorts(context.Background(), cfg)
	if len(checks) != 3 {
		t.Fatalf("%+v", checks)
	}
	if c := checks[0]; c.Level != OK || !strings.Contains(c.Detail, "running ferry (1.2.3)") {
		t.Errorf("the running ferry's listener: %+v", c)
	}
	if c := checks[1]; c.Level != Fail || !strings.Contains(c.Detail, "another program") {
		t.Errorf("a port another program holds: %+v", c)
	}
	if c := checks[2]; c.Level != OK || !strings.Contains(c.Detail, "running ferry (1.2.3)") {
		t.Errorf("the running ferry's status page: %+v", c)
	}
}
