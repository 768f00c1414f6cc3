package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v2"

	"github.com/ferry-health/ferry/config/pki"
)

// The DTLS repository in these tests runs in a child process (this test
// binary again), so that stopping it is a crash: SIGKILL, no close_notify,
// and the restarted repository has none of the old association's state.
const (
	envDTLSRepoAddr = "FERRY_TEST_DTLS_REPO_ADDR"
	envDTLSRepoPKI  = "FERRY_TEST_DTLS_REPO_PKI"
)

// TestDTLSRepoProcess is the child: a pion/dtls repository on the
// address in the environment that prints "addr <host:port>" once it
// listens and "msg <base64>" for every DTLS record it receives.
func TestDTLSRepoProcess(t *testing.T) {
	addr := os.Getenv(envDTLSRepoAddr)
	if addr == "" {
		t.Skip("the child process of the DTLS restart tests")
	}
	dir := os.Getenv(envDTLSRepoPKI)
	p := pki.Paths{CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server-key.pem")}
	pair, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	caPEM, _ := os.ReadFile(p.CA)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := dtls.Listen("udp", ua, &dtls.Config{
		Certificates: []tls.Certificate{pair}, ClientAuth: dtls.RequireAndVerifyClientCert, ClientCAs: pool,
		ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
		ConnectContextMaker: func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), 2*time.Second)
		},
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var out sync.Mutex
	fmt.Println("addr", l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go func() {
			buf := make([]byte, 1<<16)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				out.Lock()
				fmt.Println("msg", base64.StdEncoding.EncodeToString(buf[:n]))
				out.Unlock()
			}
		}()
	}
}

// repoProcess is one running child repository.
type repoProcess struct {
	cmd  *exec.Cmd
	addr string
	r    *repo
	done chan struct{}
}

// startRepoProcess starts a child repository on addr (":0" for any port)
// with the server certificate of p.
func startRepoProcess(t *testing.T, p pki.Paths, addr string) *repoProcess {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, p.CA, filepath.Join(dir, "ca.pem"))
	copyFile(t, p.ServerCert, filepath.Join(dir, "server.pem"))
	copyFile(t, p.ServerKey, filepath.Join(dir, "server-key.pem"))
	cmd := exec.Command(os.Args[0], "-test.run=^TestDTLSRepoProcess$", "-test.v=false")
	cmd.Env = append(os.Environ(), envDTLSRepoAddr+"="+addr, envDTLSRepoPKI+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rp := &repoProcess{cmd: cmd, r: newRepo(), done: make(chan struct{})}
	t.Cleanup(rp.kill)
	ready := make(chan string, 1)
	go func() {
		defer close(rp.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "addr "):
				ready <- strings.TrimPrefix(line, "addr ")
			case strings.HasPrefix(line, "msg "):
				if m, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "msg ")); err == nil {
					rp.r.addRecord(m, true, false)
				}
			case strings.HasPrefix(line, "error "):
				ready <- line
			}
		}
		cmd.Wait()
	}()
	select {
	case a := <-ready:
		if strings.HasPrefix(a, "error ") {
			t.Fatalf("repository process: %s", a)
		}
		rp.addr = a
	case <-rp.done:
		t.Fatal("repository process ended before it listened")
	case <-time.After(20 * time.Second):
		t.Fatal("repository process did not start")
	}
	return rp
}

// kill ends the repository as a crash does and waits for it to be gone
// (its port free again).
func (rp *repoProcess) kill() {
	rp.cmd.Process.Kill()
	<-rp.done
}

// fakeClock is the sink's clock for association ages, moved by hand.
type fakeClock struct{ off atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func bundleIDs(t *testing.T, r *repo) []string {
	t.Helper()
	msgs, _ := r.snapshot()
	return bundleOrder(t, msgs)
}

// TestDTLSRepositoryRestart: the audit repository crashes and comes back
// at the same address with none of the old association's state. Events
// written into the old association would be discarded by it without a
// word; the association is retired after DefaultDTLSMaxIdle unwritten and
// after DefaultDTLSMaxAge in use, so the next event opens a new one and
// reaches the restarted repository.
func TestDTLSRepositoryRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// steps moves the clock between the events sent before the crash;
		// after is how far it moves after the restart.
		steps []time.Duration
		after time.Duration
	}{
		{name: "idle", steps: nil, after: DefaultDTLSMaxIdle},
		{name: "age", steps: []time.Duration{DefaultDTLSMaxIdle / 2, DefaultDTLSMaxIdle / 2, DefaultDTLSMaxIdle / 2}, after: DefaultDTLSMaxAge - 3*DefaultDTLSMaxIdle/2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := demoPKI(t)
			a := startRepoProcess(t, p, "127.0.0.1:0")
			clock := &fakeClock{}
			s := newSink(t, "dtls://"+a.addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
			s.dialer.now = clock.now
			start(t, s)
			n := 0
			// Each event is sent before the clock moves on: the sender
			// reads the clock when it writes.
			s.Record(exportN(n))
			n++
			waitStats(t, s, "sent", func(st Stats) bool { return st.Sent == uint64(n) })
			for _, d := range tc.steps {
				clock.advance(d)
				s.Record(exportN(n))
				n++
				waitStats(t, s, "sent", func(st Stats) bool { return st.Sent == uint64(n) })
			}
			a.r.waitN(t, n)
			a.kill()
			b := startRepoProcess(t, p, a.addr)
			clock.advance(tc.after)
			s.Record(exportN(n))
			b.r.waitN(t, 1)
			wantOrder(t, bundleIDs(t, b.r), n, n+1)
			st := waitStats(t, s, "all sent", func(st Stats) bool { return st.Sent == uint64(n+1) && st.Pending == 0 })
			if st.Dropped != 0 {
				t.Errorf("stats %+v", st)
			}
			shutdown(t, s)
		})
	}
}

// TestDTLSAssociationLost: when the repository is down, the kernel reports
// the ICMP port unreachable the next datagram brings back; pion passes it
// to Read and the sink drops the association at once (status shows it)
// instead of writing more events into it. The events recorded while the
// repository is down are spooled, not lost, and go when it is back.
func TestDTLSAssociationLost(t *testing.T) {
	if runtime.GOOS == "windows" {
		// Go turns the report off on Windows (SIO_UDP_CONNRESET, go.dev/issue/5834,
		// net/fd_windows.go): there the loss is noticed only when the association is
		// renewed (idle or age), and what was written into it meanwhile is gone.
		t.Skip("Windows does not report ICMP port unreachable to a UDP socket read")
	}
	p := demoPKI(t)
	a := startRepoProcess(t, p, "127.0.0.1:0")
	s := newSink(t, "dtls://"+a.addr, clientTLS(p), filepath.Join(t.TempDir(), "spool"), nil)
	start(t, s)
	s.Record(exportN(0))
	a.r.waitN(t, 1)
	a.kill()
	// This one is written into the association before anything is known
	// to be wrong: it is the datagram that brings the ICMP error back.
	s.Record(exportN(1))
	st := waitStats(t, s, "the lost association noticed", func(st Stats) bool { return !st.Connected && st.LastError != "" })
	if !strings.Contains(st.LastError, "refused") {
		t.Errorf("last error %q", st.LastError)
	}
	for i := 2; i < 5; i++ {
		s.Record(exportN(i))
	}
	waitStats(t, s, "events spooled while the repository is down", func(st Stats) bool { return st.Pending == 3 })
	b := startRepoProcess(t, p, a.addr)
	b.r.waitN(t, 3)
	wantOrder(t, bundleIDs(t, b.r), 2, 5)
	st = waitStats(t, s, "spool drained", func(st Stats) bool { return st.Pending == 0 && st.Connected })
	if st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	shutdown(t, s)
}
