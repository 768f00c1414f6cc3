package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config/pki"
)

// TestGatewayAllowStopsInjection is the audit's repro turned around: an
// MLLP-over-TLS listener without client certificates, and a client with
// no certificate of its own (openssl s_client style) sending an ADT. With
// allow excluding the client, nothing is answered and nothing reaches the
// outbox; with allow naming it, the same message gets AA.
func TestGatewayAllowStopsInjection(t *testing.T) {
	dir := t.TempDir()
	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(paths.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, tc := range []struct {
		allow string
		want  string // MSA-1, or "" for no answer at all
	}{{"[192.0.2.0/24]", ""}, {"[127.0.0.1, 10.0.0.0/8]", "AA"}} {
		t.Run(tc.allow, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
      allow: %s
      tls: {cert_file: %q, key_file: %q}
`, data, tc.allow, paths.ServerCert, paths.ServerKey)
			gw := runGateway(t, cfg)
			conn, err := tls.Dial("tcp", gw.MLLPAddr("t").String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
			if tc.want == "" {
				if err == nil {
					conn.SetDeadline(time.Now().Add(10 * time.Second))
					_ = mllp.WriteFrame(conn, []byte(adt(1)))
					if b, _ := io.ReadAll(conn); len(b) != 0 {
						t.Fatalf("a refused sender got %q", b)
					}
					conn.Close()
				}
				if n := gw.mllps["t"].Stats().Denied; n != 1 {
					t.Fatalf("denied = %d, want 1", n)
				}
				if q := gw.pipe.Stats().Queued.Load(); q != 0 {
					t.Fatalf("%d bundles queued from a refused sender", q)
				}
				var metrics strings.Builder
				writeMetrics(&metrics, gw.report())
				if want := `ferry_mllp_connections_refused_total{source="t",reason="allow"} 1`; !strings.Contains(metrics.String(), want) {
					t.Errorf("/metrics lacks %s:\n%s", want, metrics.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if code := send(t, conn, mllp.NewReader(conn, 1<<20), adt(2)); code != tc.want {
				t.Fatalf("MSA-1 = %s, want %s", code, tc.want)
			}
		})
	}
}

// TestGatewayWarnsAtStart: what `ferry config check` warns about is logged
// at WARN when the gateway starts, a start that then fails too. This one
// fails (its data_dir lies under a file), so nothing listens on the
// wildcard address.
func TestGatewayWarnsAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, "data_dir: %q\nsources:\n  mllp:\n    - {name: t, listen: \"0.0.0.0:0\"}\n",
		filepath.Join(file, "data"))
	var logs lockedBuffer
	p := &program{cfg: cfg, log: newLogger(&logs, "info")}
	if err := p.startGateway(); err == nil {
		p.stopGateway()
		t.Fatal("started with its data_dir under a file")
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "accepts HL7 from any host") || !strings.Contains(out, "field=sources.mllp[0].listen") {
		t.Fatalf("log:\n%s", out)
	}
}

// TestGatewayBufferBudget: sources.mllp[].max_buffered_bytes reaches the
// listener. While one sender is in the middle of a large message that holds
// the budget, another's large message gets AR and is counted in /metrics
// and `ferry status`; the first message is stored and answered AA.
func TestGatewayBufferBudget(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg := parseConfig(t, `
data_dir: %q
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
      max_frame_bytes: 1048576
      max_buffered_bytes: 1048576
`, data)
	gw := runGateway(t, cfg)
	addr := gw.MLLPAddr("t").String()
	large := func(n int) []byte {
		m := []byte(adt(7))
		for len(m) < n {
			m = append(m, "NTE|1||"+strings.Repeat("x", 1000)+"\r"...)
		}
		return m
	}
	holder, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	frame := mllp.AppendFrame(nil, large(700<<10))
	if _, err := holder.Write(frame[:len(frame)-500]); err != nil {
		t.Fatal(err)
	}
	for gw.mllps["t"].Stats().Buffered < 1<<20 { // the holder's buffer has grown to the whole budget
		time.Sleep(time.Millisecond)
	}
	other, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if code := send(t, other, mllp.NewReader(other, 1<<20), string(large(300<<10))); code != "AR" {
		t.Fatalf("large message over the budget: MSA-1 = %s, want AR", code)
	}
	checkReport(t, gw, []string{`ferry_mllp_refused_total{source="t",reason="busy"} 1`},
		[]string{"1 refused while max_buffered_bytes was in use"})
	if _, err := holder.Write(frame[len(frame)-500:]); err != nil {
		t.Fatal(err)
	}
	r := mllp.NewReader(holder, 1<<20)
	f, err := r.ReadFrame()
	if err != nil || !strings.Contains(string(f), "MSA|AA|") {
		t.Fatalf("message holding the budget: %q, %v", f, err)
	}
}
