package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/config/pki"
	"github.com/ferry-health/ferry/transport/fhirrecv"
)

//go:embed demo/*.hl7
var demoMessages embed.FS

// cmdDemo shows the whole path on loopback: a throwaway CA issues a server
// and a client certificate; an in-process FHIR receiver requires the client
// certificate; the gateway listens for MLLP on a free port; the bundled
// sample messages are sent over MLLP; and what the receiver got is printed.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	keep := fs.Bool("keep", false, "keep the temporary folder (certificates, queue, quarantine)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	dir, err := os.MkdirTemp("", "ferry-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(stdout, "demo folder: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	paths, err := pki.WriteDemoSet(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("demo pki: %w", err)
	}
	recv := fhirrecv.New()
	srvURL, stopRecv, err := serveReceiver(recv, paths)
	if err != nil {
		return err
	}
	defer stopRecv()
	fmt.Fprintf(stdout, "1. throwaway CA and certificates in %s\n", paths.Dir)
	fmt.Fprintf(stdout, "2. stand-in exchange (client certificate required) at %s\n", srvURL)

	cfg, err := config.Parse("demo", []byte(fmt.Sprintf(`
data_dir: %q
sources:
  mllp:
    - name: demo
      listen: 127.0.0.1:0
exchange:
  url: %q
  tls:
    ca_file: %q
    cert_file: %q
    key_file: %q
  retry:
    initial_interval: 100ms
    max_interval: 2s
`, filepath.Join(dir, "data"), srvURL, paths.CA, paths.ClientCert, paths.ClientKey)))
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	gw, err := newGateway(cfg, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Shutdown(sctx)
	}()
	if err := gw.Start(ctx); err != nil {
		return err
	}
	addr := gw.MLLPAddr("demo").String()
	fmt.Fprintf(stdout, "3. gateway listening for MLLP on %s, queue in %s\n\n", addr, cfg.Path("queue"))

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connect to gateway: %w", err)
	}
	defer conn.Close()
	rd := mllp.NewReader(bufio.NewReader(conn), mllp.DefaultMaxFrameBytes)
	files, _ := demoMessages.ReadDir("demo")
	accepted := 0
	for _, f := range files {
		msg, _ := demoMessages.ReadFile("demo/" + f.Name())
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		if err := mllp.WriteFrame(conn, msg); err != nil {
			return fmt.Errorf("send %s: %w", f.Name(), err)
		}
		ack, err := rd.ReadFrame()
		if err != nil {
			return fmt.Errorf("read ACK for %s: %w", f.Name(), err)
		}
		code, text := ackSummary(ack)
		if code == "AA" || code == "CA" {
			accepted++
		}
		fmt.Fprintf(stdout, "   sent %-26s → %s %s\n", f.Name(), code, text)
	}

	fmt.Fprintf(stdout, "\n4. waiting for delivery over mutual TLS ...\n")
	deadline := time.Now().Add(30 * time.Second)
	for gw.q.Len() > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n := gw.q.Len(); n > 0 {
		return fmt.Errorf("%d bundle(s) still queued after 30s", n)
	}
	counts := recv.Counts()
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintf(stdout, "   the exchange applied %d transaction bundle(s) and now holds:\n", recv.Bundles())
	for _, t := range types {
		fmt.Fprintf(stdout, "     %-18s %d\n", t, counts[t])
	}
	if ps := recv.Resources("Patient"); len(ps) > 0 {
		var p struct {
			Name []struct {
				Family string   `json:"family"`
				Given  []string `json:"given"`
			} `json:"name"`
			Address []struct {
				Line []string `json:"line"`
			} `json:"address"`
		}
		if json.Unmarshal(ps[0], &p) == nil && len(p.Name) > 0 {
			fmt.Fprintf(stdout, "   one Patient (%s, %s), address after the A08: %v\n", p.Name[0].Family,
				strings.Join(p.Name[0].Given, " "), firstLine(p.Address))
		}
	}
	q, _ := gw.pipe.Stats(), 0
	fmt.Fprintf(stdout, "\n   %d message(s) accepted, %d duplicate(s) not queued again, %d quarantined in %s\n",
		accepted, q.Duplicates.Load(), q.Quarantined.Load(), cfg.Path("quarantine"))
	if !*keep {
		// The folders named above go with the demo: say so, rather than
		// send the reader to look in them.
		fmt.Fprintf(stdout, "\n   %s is removed now; ferry demo --keep keeps it (certificates, queue, quarantine) to look at\n", dir)
	}
	return nil
}

func firstLine(addrs []struct {
	Line []string `json:"line"`
}) string {
	if len(addrs) == 0 || len(addrs[0].Line) == 0 {
		return "-"
	}
	return addrs[0].Line[0]
}

// ackSummary returns MSA-1 and, for errors, the ERR text.
func ackSummary(ack []byte) (string, string) {
	m, err := hl7v2.Parse(ack)
	if err != nil {
		return "??", "unreadable ACK: " + err.Error()
	}
	code := m.Get("MSA-1")
	if code == "AA" || code == "CA" {
		return code, "(stored durably, MSA-2 " + m.Get("MSA-2") + ")"
	}
	text := m.Get("ERR-8")
	if text == "" {
		text = m.Get("MSA-3")
	}
	return code, "(" + text + ")"
}

// serveReceiver runs recv behind HTTPS that requires a client certificate
// from the demo CA, like an exchange does.
func serveReceiver(recv http.Handler, paths pki.Paths) (string, func(), error) {
	srvTLS, err := configtls.ServerConfig{CertFile: paths.ServerCert, KeyFile: paths.ServerKey, ClientCAFile: paths.CA}.LoadTLSConfig()
	if err != nil {
		return "", nil, fmt.Errorf("receiver tls: %w", err)
	}
	if srvTLS.ClientAuth != tls.RequireAndVerifyClientCert {
		return "", nil, errors.New("receiver does not require client certificates")
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srvTLS)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/fhir/R4", recv)
	mux.Handle("/fhir/R4/", recv)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "https://" + ln.Addr().String() + "/fhir/R4", func() { srv.Close() }, nil
}
