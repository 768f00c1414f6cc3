package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue/queuetest"
)

// buildFerry builds this command (the build cache makes it quick).
func buildFerry(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the ferry binary")
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// ferryProc is `ferry run` in a child process.
type ferryProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	mllp   string // the first MLLP listener's address
	exited chan struct{}
	err    error // cmd.Wait's result, once exited is closed
}

var runningRE = regexp.MustCompile(`mllp/\S+ on (127\.0\.0\.1:\d+)`)

// startFerry runs `ferry run --config cfgFile` and waits for its start-up
// line, which names the MLLP listener's port.
func startFerry(t *testing.T, cfgFile string) *ferryProc {
	t.Helper()
	return startFerryBin(t, buildFerry(t), cfgFile)
}

func startFerryBin(t *testing.T, bin, cfgFile string) *ferryProc {
	t.Helper()
	p := &ferryProc{cmd: exec.Command(bin, "run", "--config", cfgFile), stderr: &lockedBuffer{}, exited: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	lines := make(chan string, 100)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.stderr.Write([]byte(sc.Text() + "\n"))
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	// exited closes once the process has ended and everything it wrote
	// to stderr is in p.stderr: cmd.Wait does not wait for a pipe the
	// caller reads itself, and a test that checks the last log line right
	// after the exit would otherwise race the reader (CI saw "no clean
	// stop" with status 0).
	go func() { p.err = p.cmd.Wait(); <-drained; close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.exited
				t.Fatalf("ferry exited before it ran (%v):\n%s", p.err, p.stderr.String())
			}
			if m := runningRE.FindStringSubmatch(l); m != nil && strings.Contains(l, " running: ") {
				p.mllp = m[1]
				return p
			}
		case <-deadline:
			t.Fatalf("no start-up line:\n%s", p.stderr.String())
		}
	}
}

// wait waits for the process to end and returns its exit status.
func (p *ferryProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("ferry did not exit:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("ferry was killed by %v:\n%s", ws.Signal(), p.stderr.String())
		}
		return ee.ExitCode()
	}
	t.Fatal(p.err)
	return -1
}

func (p *ferryProc) send(t *testing.T, msg string) string {
	t.Helper()
	conn, err := net.Dial("tcp", p.mllp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return send(t, conn, mllp.NewReader(bufio.NewReader(conn), 1<<20), msg)
}

func writeFile(t *testing.T, path, format string, args ...any) string {
	t.Helper()
	if err := os.WriteFile(path, fmt.Appendf(nil, format, args...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunProcessSignals runs the real binary: a message acknowledged while
// the exchange is down survives SIGTERM and SIGINT (each a clean stop with
// status 0), and the next run delivers every one exactly once.
func TestRunProcessSignals(t *testing.T) {
	paths, recv, url := testPKI(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfg := `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
exchange:
  url: %q
  tls: {ca_file: %q, cert_file: %q, key_file: %q}
  retry: {initial_interval: 20ms, max_interval: 200ms}
`
	down := "https://" + freeAddr(t) + "/fhir/R4"
	offline := writeFile(t, filepath.Join(dir, "down.yaml"), cfg, dataDir, down, paths.CA, paths.ClientCert, paths.ClientKey)
	for i, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		p := startFerry(t, offline)
		if got := p.send(t, adt(i)); got != "AA" {
			t.Fatalf("%v run: MSA-1 %s", sig, got)
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit status %d after %v, want 0:\n%s", code, sig, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "ferry stopped") {
			t.Fatalf("no clean stop after %v:\n%s", sig, p.stderr.String())
		}
	}
	online := writeFile(t, filepath.Join(dir, "up.yaml"), cfg, dataDir, url, paths.CA, paths.ClientCert, paths.ClientKey)
	p := startFerry(t, online)
	waitFor(t, "both messages at the exchange", func() bool { return len(recv.Resources("MessageHeader")) >= 2 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", code, p.stderr.String())
	}
	if got := len(recv.Resources("MessageHeader")); got != 2 {
		t.Fatalf("%d MessageHeaders at the exchange, want 2", got)
	}
}

// TestRunProcessQueueStopExits1: in the real binary a queue that stops
// (a failed write it could not undo) ends the process with status 1 by
// itself, so that a supervisor restarts it, and a restart recovers.
func TestRunProcessQueueStopExits1(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfgFile := writeFile(t, filepath.Join(dir, "ferry.yaml"), `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, dataDir)
	p := startFerry(t, cfgFile)
	if got := p.send(t, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	segs, _ := filepath.Glob(filepath.Join(dataDir, "queue", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no queue segment")
	}
	healthy := queuetest.SetImmutable(t, segs[len(segs)-1])
	if got := p.send(t, adt(2)); got != "AR" {
		t.Fatalf("message meeting the failure: MSA-1 %s, want AR", got)
	}
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit status %d after the queue stopped, want 1:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "queue stopped") {
		t.Fatalf("stderr does not say why:\n%s", p.stderr.String())
	}
	healthy()
	p = startFerry(t, cfgFile)
	if got := p.send(t, adt(3)); got != "AA" {
		t.Fatalf("after the restart: MSA-1 %s", got)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit status %d, want 0:\n%s", code, p.stderr.String())
	}
}

// TestRunProcessFullDiskAtStart: a gateway started on a full data disk
// runs (nothing needs writing to start once the data folder exists),
// refuses messages with AR while the disk is full instead of stopping,
// and takes them again (AA) once space is freed, without a restart.
func TestRunProcessFullDiskAtStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs")
	}
	bin := buildFerry(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dataDir := filepath.Join(mnt, "data")
	cfgFile := writeFile(t, filepath.Join(t.TempDir(), "ferry.yaml"), `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, dataDir)
	p := startFerryBin(t, bin, cfgFile)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("first run: exit %d:\n%s", code, p.stderr.String())
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(chunk[:n]); err != nil {
				break
			}
		}
	}
	f.Close()

	p = startFerryBin(t, bin, cfgFile)
	if got := p.send(t, adt(1)); got != "AR" {
		t.Fatalf("message on a full disk: MSA-1 %s, want AR", got)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if got := p.send(t, adt(2)); got != "AA" {
		t.Fatalf("message after space was freed: MSA-1 %s, want AA:\n%s", got, p.stderr.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
}

// TestRunProcessSecondSignal: a second Ctrl-C during a clean stop held up
// by a sender stalled mid-message ends the process at once, and what was
// acknowledged before is still there for the next run.
func TestRunProcessSecondSignal(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, filepath.Join(dir, "ferry.yaml"), `
data_dir: %q
status: {listen: ""}
sources:
  mllp:
    - name: t
      listen: 127.0.0.1:0
`, filepath.Join(dir, "data"))
	bin := buildFerry(t)
	p := startFerryBin(t, bin, cfgFile)
	if got := p.send(t, adt(1)); got != "AA" {
		t.Fatalf("MSA-1 %s", got)
	}
	stalled, err := net.Dial("tcp", p.mllp)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Write([]byte("\x0bMSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P|2.5\r")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the frame is being read
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	select {
	case <-p.exited:
		t.Skip("the first signal already stopped ferry: nothing held the stop up")
	default:
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("a second Ctrl-C did not end ferry:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("exit after the second Ctrl-C: %v", p.err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != os.Interrupt {
		t.Fatalf("exit after the second Ctrl-C: %v, want killed by SIGINT", p.err)
	}
	// The next run starts on the same data and the acknowledged message
	// is in the outbox once, whether it was written before the kill or
	// redelivered after it.
	again := startFerryBin(t, bin, cfgFile)
	outbox := filepath.Join(dir, "data", "outbox")
	waitFor(t, "the acknowledged message in the outbox", func() bool {
		n, _ := filepath.Glob(filepath.Join(outbox, "*.json"))
		return len(n) >= 1
	})
	again.cmd.Process.Signal(syscall.SIGTERM)
	if code := again.wait(t); code != 0 {
		t.Fatalf("restart after the kill: exit %d:\n%s", code, again.stderr.String())
	}
	if n, _ := filepath.Glob(filepath.Join(outbox, "*.json")); len(n) != 1 {
		t.Fatalf("outbox holds %d bundles, want 1: %v", len(n), n)
	}
}
