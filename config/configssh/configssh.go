// Package configssh is the SFTP login ferry shares between the exchange
// that collects files (transport/sftpdrop) and the remote folders a
// watched folder fetches from (sources.folders[].fetch): an sftp:// URL,
// ferry's key and the server's host key from an OpenSSH known_hosts file.
// There is no password login and no trust on first use. A refused key, a
// host key known_hosts does not name, a directory that is not there or
// not writable are *ConfigError: only a change of configuration (or at
// the other end) fixes them, so callers keep their data and say what to
// fix, rather than treat them as an outage.
package configssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configtls"
)

// Scheme is the URL scheme of an SFTP location.
const Scheme = "sftp"

// Login is ferry's key and the server's host key.
type Login struct {
	// KeyFile is ferry's private key (OpenSSH or PEM, unencrypted; keep
	// it 0600), whose public half the other end put in the account's
	// authorized keys.
	KeyFile string `yaml:"key_file"`
	// KnownHosts is an OpenSSH known_hosts file naming the server's host
	// key ([host]:port for a port other than 22).
	KnownHosts string `yaml:"known_hosts"`
}

// Validate checks that both files are named.
func (l Login) Validate() error {
	var errs []error
	if l.KeyFile == "" {
		errs = append(errs, errors.New("key_file: required for sftp:// (ferry's private key)"))
	}
	if l.KnownHosts == "" {
		errs = append(errs, errors.New("known_hosts: required for sftp:// (the server's host key; `ssh-keyscan -p PORT host`, checked with the other end)"))
	}
	return errors.Join(errs...)
}

// Target is what an sftp:// URL names.
type Target struct {
	User string
	// Addr is host:port (port 22 when the URL gives none).
	Addr string
	// Dir is the directory: absolute, or relative to the account's home
	// when the URL wrote it /~/dir.
	Dir string
}

// ParseURL reads sftp://user@host[:port]/dir. The directory is taken from
// the root (sftp://u@h/inbound is /inbound; sftp://u@h/~/inbound is
// inbound under the account's home, and sftp://u@h/~/ the home itself).
// A password in the URL is refused: it would be shown wherever the URL
// is.
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return Target{}, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != Scheme {
		return Target{}, fmt.Errorf("scheme %q is not %s", u.Scheme, Scheme)
	}
	if u.User == nil || u.User.Username() == "" {
		return Target{}, errors.New("names no account: write sftp://user@host/dir")
	}
	if _, has := u.User.Password(); has {
		return Target{}, errors.New("holds a password: ferry logs in with its key_file only, and a password in the URL would be shown wherever the URL is")
	}
	if u.Hostname() == "" {
		return Target{}, errors.New("names no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Target{}, errors.New("has a query or fragment; an SFTP URL is sftp://user@host[:port]/dir")
	}
	dir := u.Path
	switch {
	case dir == "" || dir == "/":
		return Target{}, errors.New("names no directory: write sftp://user@host/dir")
	case dir == "/~" || dir == "/~/":
		dir = "." // the home itself, as /~/dir is dir under it
	case strings.HasPrefix(dir, "/~/"):
		dir = strings.TrimPrefix(dir, "/~/")
	}
	dir = strings.TrimSuffix(dir, "/")
	port := u.Port()
	if port == "" {
		port = "22"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("port %s is not a TCP port (1-65535)", port)
	}
	return Target{User: u.User.Username(), Addr: net.JoinHostPort(u.Hostname(), port), Dir: dir}, nil
}

// ConfigError is a failure that only a change of configuration, or at
// the other end, fixes. Problem says what to do and names no PHI.
type ConfigError struct {
	Problem string
	Err     error
}

func (e *ConfigError) Error() string { return e.Problem + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Summary is the problem without the server's text.
func (e *ConfigError) Summary() string { return e.Problem }

// ConfigProblem makes it an operator problem for the delivery dispatcher
// and the status page.
func (e *ConfigError) ConfigProblem() string { return e.Problem }

// Session is one SSH connection with its SFTP client.
type Session struct {
	SSH  *ssh.Client
	SFTP *sftp.Client
	// Fsync reports whether the server flushes a file to its disk on
	// request (fsync@openssh.com; OpenSSH's server does).
	Fsync bool

	act activity
	// stalled is the timeout after which Watch's watchdog closed the
	// connection (0: it did not).
	stalled atomic.Int64
	// ended is closed once the connection is closed, by either side.
	ended chan struct{}
}

// Done is closed once the connection is closed: by Close or the
// watchdog, or by the server (one that ends idle sessions: OpenSSH's
// ClientAliveInterval, a commercial server's idle timeout), whose close
// the session's next request would meet as "connection lost".
func (s *Session) Done() <-chan struct{} { return s.ended }

// Ended reports whether Done is closed.
func (s *Session) Ended() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

// Watch bounds what the caller does on the session from now on: SFTP
// requests have no deadline of their own, so a server that stops
// answering would hold it for ever. The connection is closed, failing
// the request in flight, when for timeout neither the server sent
// anything nor the caller called progress (its own progress: a local
// file read or written, a local sync done), or at once when ctx ends.
// Any answer of the server counts, however slowly the link carries a
// file: an upload's last window of writes (2 MiB in flight) is
// acknowledged after the file's last byte was read, and a listing of
// thousands of files comes in many answers. Call done when finished.
func (s *Session) Watch(ctx context.Context, timeout time.Duration) (progress, done func()) {
	wd := time.AfterFunc(timeout, func() {
		s.stalled.Store(int64(timeout))
		s.SSH.Close()
	})
	progress = func() { wd.Reset(timeout) }
	unwatch := s.act.add(progress)
	stop := context.AfterFunc(ctx, func() { s.SSH.Close() })
	return progress, func() {
		stop()
		unwatch()
		wd.Stop()
	}
}

// Unanswered explains err, from a request on the session, when Watch's
// watchdog closed the connection: the request failed as "connection
// lost", though it was ferry that closed it, the server having answered
// nothing for the timeout (a hung sftp-server, a stalled link). Other
// errors are returned as they are.
func (s *Session) Unanswered(err error) error {
	if d := time.Duration(s.stalled.Load()); err != nil && d > 0 {
		return &StallError{Timeout: d, Err: err}
	}
	return err
}

// StallError is a request that failed because the server answered
// nothing for Timeout and the connection was closed; worth retrying.
type StallError struct {
	Timeout time.Duration
	Err     error
}

func (e *StallError) Error() string {
	return "the server answered nothing for " + e.Timeout.String() + " (timeout), so ferry closed the connection"
}
func (e *StallError) Unwrap() error { return e.Err }

// Summary is Error: the stall, not what failed of it ("connection lost").
func (e *StallError) Summary() string { return e.Error() }

// activity calls its functions when the server sends something.
type activity struct {
	mu   sync.Mutex
	fns  map[int]func()
	next int
}

func (a *activity) add(fn func()) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fns == nil {
		a.fns = map[int]func(){}
	}
	id := a.next
	a.next++
	a.fns[id] = fn
	return func() {
		a.mu.Lock()
		delete(a.fns, id)
		a.mu.Unlock()
	}
}

func (a *activity) notify() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fn := range a.fns {
		fn()
	}
}

// activityReader is the SFTP session's stream from the server.
type activityReader struct {
	r io.Reader
	a *activity
}

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.a.notify()
	}
	return n, err
}

// newSFTP starts the SFTP subsystem on conn as sftp.NewClient does, with
// the server's stream passing through act.
func newSFTP(conn *ssh.Client, act *activity, opts ...sftp.ClientOption) (*sftp.Client, error) {
	s, err := conn.NewSession()
	if err != nil {
		return nil, err
	}
	pw, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	pr, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		return nil, err
	}
	return sftp.NewClientPipe(activityReader{pr, act}, pw, opts...)
}

// Close ends the session. It closes the connection first: the SFTP
// client's own Close waits for the server to close its side, which a
// server that answers nothing more (stalled, or cut off by the network)
// never does.
func (s *Session) Close() error {
	err := s.SSH.Close()
	s.SFTP.Close()
	return err
}

// Dial reads the key and known_hosts files, logs in to t within timeout,
// opens SFTP and checks that t.Dir is a directory. what names the setting
// in problems ("exchange.sftp", "fetch").
func Dial(ctx context.Context, l Login, t Target, timeout time.Duration, what string) (*Session, error) {
	keyPEM, err := os.ReadFile(l.KeyFile)
	if err != nil {
		return nil, &ConfigError{Problem: "cannot read " + what + ".key_file", Err: err}
	}
	if err := configtls.KeyFileMode(l.KeyFile); err != nil {
		// As for the TLS keys: a key others can read is no longer
		// ferry's alone.
		return nil, &ConfigError{Problem: what + ".key_file may be read by other accounts; chmod 600 it (owned by the ferry account)", Err: err}
	}
	// Behind the byte-order mark a Windows editor saves ("UTF-8 with
	// BOM"), as a TLS key_file is read.
	keyPEM = configtls.TrimBOM(keyPEM)
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, &ConfigError{Problem: what + ".key_file is encrypted with a passphrase; a service cannot type it: give ferry a key of its own without one, readable only by the ferry account", Err: err}
		}
		if form := keyForm(keyPEM); form != "" {
			return nil, &ConfigError{Problem: what + ".key_file " + form, Err: err}
		}
		return nil, &ConfigError{Problem: what + ".key_file is not an SSH private key", Err: err}
	}
	if err := knownHostsEncoding(l.KnownHosts); err != nil {
		return nil, &ConfigError{Problem: what + ".known_hosts " + err.Error() + "; save it as ASCII or UTF-8 without a mark " +
			"(PowerShell: ssh-keyscan host | Out-File -Encoding ascii FILE)", Err: errors.New(l.KnownHosts)}
	}
	hostKeys, err := knownhosts.New(l.KnownHosts)
	if err != nil {
		return nil, &ConfigError{Problem: "cannot read " + what + ".known_hosts", Err: err}
	}
	hostKeys = anyCase(hostKeys)
	// The key the server presented, for a refusal to name it: the
	// contractor reads its fingerprint to the server's operators.
	var presented ssh.PublicKey
	cc := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			return hostKeys(host, remote, key)
		},
		HostKeyAlgorithms: hostKeyAlgorithms(hostKeys, t.Addr),
		Timeout:           timeout,
		ClientVersion:     "SSH-2.0-ferry",
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t.Addr, err)
	}
	// The handshake, the start of SFTP and the directory check have no
	// context of their own: a deadline bounds them (a server that stops
	// answering after the handshake would hold the caller for ever), and
	// ctx ending closes the connection.
	deadline := time.Now().Add(timeout)
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	stalled := func() error {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case !time.Now().Before(deadline):
			return fmt.Errorf("log in to %s: no answer within %s", t.Addr, timeout)
		}
		return nil
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, t.Addr, cc)
	if err != nil {
		nc.Close()
		return nil, handshakeError(err, t, what, presented)
	}
	conn := ssh.NewClient(sc, chans, reqs)
	// Concurrent writes overlap the round trips of a large file's
	// chunks (a 270 MB fax over a WAN link); they may land out of order,
	// which is safe where files are written under a temporary name and
	// renamed only when whole, as every writer here does.
	sess := &Session{SSH: conn, ended: make(chan struct{})}
	go func() {
		conn.Wait()
		close(sess.ended)
	}()
	c, err := newSFTP(conn, &sess.act, sftp.UseConcurrentWrites(true))
	if err != nil {
		conn.Close()
		if serr := stalled(); serr != nil {
			return nil, serr
		}
		return nil, &ConfigError{Problem: "the account " + t.User + " has no SFTP subsystem", Err: err}
	}
	st, err := c.Stat(t.Dir)
	switch {
	case err != nil:
		if serr := stalled(); serr != nil {
			err = serr
		} else {
			err = FileError(err, "find the directory "+t.Dir)
		}
	case !st.IsDir():
		err = &ConfigError{Problem: t.Dir + " on the server is not a directory", Err: errors.New("not a directory")}
	case !stop():
		err = ctx.Err() // ended meanwhile; the connection is closed
	}
	if err != nil {
		c.Close()
		conn.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	_, sess.Fsync = c.HasExtension("fsync@openssh.com")
	sess.SFTP = c
	return sess, nil
}

// keyForm names the keys key_file is most often given by mistake, which
// ssh.ParsePrivateKey reports only as "no key found": a PuTTY key, as
// PuTTYgen on Windows saves it, the public half of ferry's key, and a
// key saved as UTF-16.
func keyForm(b []byte) string {
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if bytes.HasPrefix(b, []byte("PuTTY-User-Key-File-")) {
		return "is a PuTTY key (.ppk), which ferry does not read: give it the key in OpenSSH form " +
			"(PuTTYgen: Conversions > Export OpenSSH key, with no passphrase)"
	}
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}) {
		return "is UTF-16 text, as PowerShell 5's > and Out-File write it, which SSH does not read; save it as ASCII or UTF-8"
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil || bytes.HasPrefix(b, []byte("---- BEGIN SSH2 PUBLIC KEY")) {
		return "holds a public key, the half the server's operators add to the account; key_file is the private half " +
			"(for id_ed25519.pub, the file id_ed25519 beside it)"
	}
	return ""
}

// knownHostsEncoding refuses a known_hosts file Windows saved in a form
// knownhosts does not read: UTF-16 (PowerShell 5's > and Out-File, as in
// `ssh-keyscan host > known_hosts`), which it reports as no valid
// entries, and UTF-8 behind a byte-order mark (Notepad before 2019),
// whose first line it passes over, so a file of one host key names none
// and the server's key is "unknown".
func knownHostsEncoding(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // knownhosts.New reports it
	}
	defer f.Close()
	var head [3]byte
	n, _ := io.ReadFull(f, head[:])
	switch b := head[:n]; {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return errors.New("is UTF-16 text, as PowerShell 5's > and Out-File write it, which SSH does not read")
	case bytes.HasPrefix(b, []byte("\xef\xbb\xbf")):
		return errors.New("begins with a byte-order mark (a Windows editor's \"UTF-8 with BOM\"), which hides its first host key")
	}
	return nil
}

// hostKeyAlgorithms are the algorithms of the host keys known_hosts
// lists for addr, for the handshake to ask the server for. A server has
// keys of several types (OpenSSH: ECDSA, RSA, Ed25519) and shows one, of
// the type the client prefers; Go's client prefers ECDSA and RSA, where
// the line `ssh` records is the Ed25519 key, so left to itself it would
// get a key known_hosts does not list and take it for a changed one
// (golang/go#29286). None listed (the host unknown, or known only through
// @cert-authority): nil, the default list, certificates included.
func hostKeyAlgorithms(hostKeys ssh.HostKeyCallback, addr string) []string {
	// A key no line holds makes the check list the host's keys.
	var ke *knownhosts.KeyError
	if !errors.As(hostKeys(addr, &net.TCPAddr{}, noKey{}), &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		typ := k.Key.Type()
		more := []string{typ}
		if typ == ssh.KeyAlgoRSA {
			more = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, a := range more {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// anyCase looks the server up in known_hosts in any case, as OpenSSH
// does: ssh and ssh-keyscan write its name in lower case (hashed so with
// -H) and match lines in any case, where knownhosts matches the name only
// as given, so a URL naming the server as its operators write it
// (SFTP.Ehr.Example.com) found no line for it. The name as given is
// looked up when the lower-case one is not listed (a line written by
// hand in capitals).
func anyCase(hostKeys ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(addr string, remote net.Addr, key ssh.PublicKey) error {
		lower := strings.ToLower(addr)
		err := hostKeys(lower, remote, key)
		var ke *knownhosts.KeyError
		if lower != addr && errors.As(err, &ke) && len(ke.Want) == 0 {
			return hostKeys(addr, remote, key)
		}
		return err
	}
}

// noKey is a host key that no known_hosts line holds.
type noKey struct{}

func (noKey) Type() string                        { return "none" }
func (noKey) Marshal() []byte                     { return nil }
func (noKey) Verify([]byte, *ssh.Signature) error { return errors.New("no key") }

// handshakeError explains a failed SSH handshake: a host key known_hosts
// does not name (or names otherwise), named by its type and fingerprint
// (presented: nil when the server showed none), a refused key.
func handshakeError(err error, t Target, what string, presented ssh.PublicKey) error {
	shown := ""
	if presented != nil {
		// As ssh shows it ("ED25519 key fingerprint is SHA256:..."), and
		// ssh-keygen -lf prints it from the operators' key file.
		shown = " (it presented " + presented.Type() + " key " + ssh.FingerprintSHA256(presented) + ")"
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	var ne *ssh.AlgorithmNegotiationError
	switch {
	case errors.As(err, &re):
		return &ConfigError{Problem: "the server presented a host key that " + what + ".known_hosts marks @revoked (line " +
			strconv.Itoa(re.Revoked.Line) + "): it is taken to be stolen; ask the server's operators for its new key", Err: err}
	case errors.As(err, &ke) && len(ke.Want) > 0:
		// And the keys known_hosts holds for it, with their lines, as ssh
		// names the "offending key": which of them the operators confirm,
		// and which line to replace if the key was changed.
		var listed []string
		for _, k := range ke.Want {
			listed = append(listed, "line "+strconv.Itoa(k.Line)+" of "+k.Filename+": "+k.Key.Type()+" key "+ssh.FingerprintSHA256(k.Key))
		}
		if shown == "" {
			shown = " (known_hosts has " + strings.Join(listed, ", ") + ")"
		} else {
			shown = strings.TrimSuffix(shown, ")") + "; known_hosts has " + strings.Join(listed, ", ") + ")"
		}
		return &ConfigError{Problem: "the server's host key is not the one " + what + ".known_hosts names for " + t.Addr + shown +
			": someone may be in the way, or the server's key was changed; ask its operators, and only then update known_hosts", Err: err}
	case errors.As(err, &ne) && ne.What == "host key":
		// The handshake asked only for the types of the keys known_hosts
		// lists for the server (hostKeyAlgorithms): it has none of them.
		return &ConfigError{Problem: "the server has no host key of a type " + what + ".known_hosts names for " + t.Addr +
			" (it offers " + strings.Join(ne.RequestedAlgorithms, ", ") + "), so its host key is not the one " + what +
			".known_hosts names: someone may be in the way, or the server's key was changed; ask its operators, and only then update known_hosts", Err: err}
	case errors.As(err, &ke):
		return &ConfigError{Problem: what + ".known_hosts names no key for " + knownhosts.Normalize(t.Addr) + shown +
			"; add the server's key (`ssh-keyscan -p PORT host`, fingerprint checked with its operators)", Err: err}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &ConfigError{Problem: "the server refused ferry's key for the account " + t.User +
			"; its operators must add the public half of " + what + ".key_file to it", Err: err}
	}
	return fmt.Errorf("ssh handshake with %s: %w", t.Addr, err)
}

// Replace renames from to to on the server, over a file already named
// to: atomically with OpenSSH's posix-rename, or, on a server without it
// (not every SFTP server is OpenSSH's; SFTP's own rename refuses an
// existing target), by removing that file first. The error is the
// server's; FileError explains it.
func Replace(c *sftp.Client, from, to string) error {
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
		return c.PosixRename(from, to)
	}
	if err := c.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return c.Rename(from, to)
}

// FileError tells a refusal that configuration must fix (no such file or
// directory, no right) from a failure worth retrying; what says what ferry
// tried ("create /inbound/x.part").
func FileError(err error, what string) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &ConfigError{Problem: "cannot " + what + ": no such file or directory on the server (check the path in the URL)", Err: err}
	case errors.Is(err, os.ErrPermission):
		return &ConfigError{Problem: "cannot " + what + ": the account may not (ask the server's operators for the right)", Err: err}
	}
	return &FileProblem{What: what, Err: err}
}

// FileProblem is a file operation the server failed, worth retrying.
type FileProblem struct {
	What string
	Err  error
}

func (e *FileProblem) Error() string { return e.What + ": " + e.Err.Error() }
func (e *FileProblem) Unwrap() error { return e.Err }

// Summary leaves out the server's own words, which may quote paths (and
// so file names that carry patients' names): Reason.
func (e *FileProblem) Summary() string { return e.What + ": " + Reason(e.Err) }

// Reason is err without paths or server text: an SFTP status by its
// name, a path error by its operation and cause.
func Reason(err error) string {
	var se *sftp.StatusError
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &se):
		switch se.Code {
		case 1:
			return "the server answered end of file"
		case 2:
			return "the server answered no such file"
		case 3:
			return "the server answered permission denied"
		case 4:
			return "the server answered failure (SSH_FX_FAILURE: a full disk, a name in the way, ...)"
		case 8:
			return "the server does not support the operation"
		}
		return fmt.Sprintf("the server answered status %d", se.Code)
	case errors.As(err, &pe):
		return pe.Op + ": " + pe.Err.Error()
	case errors.As(err, &le):
		return le.Op + ": " + le.Err.Error()
	}
	return err.Error()
}

// Progress wraps r, of size bytes, so that every read that returns bytes
// calls progress: the watchdog of a transfer over SFTP, whose requests
// have no deadline of their own, resets its timer there. The size lets
// an upload (sftp.File.ReadFrom) send its chunks concurrently.
func Progress(r io.Reader, size int64, progress func()) io.Reader {
	return &progressReader{r: r, size: size, progress: progress}
}

type progressReader struct {
	r        io.Reader
	size     int64
	progress func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// Size is the reader's length, for sftp.File.ReadFrom's concurrency.
func (p *progressReader) Size() int64 { return p.size }

// ProgressWriter wraps w so that every write calls progress: a download
// (sftp.File.WriteTo, whose reads go concurrently) resets the watchdog
// there.
func ProgressWriter(w io.Writer, progress func()) io.Writer {
	return &progressWriter{w: w, progress: progress}
}

type progressWriter struct {
	w        io.Writer
	progress func()
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}
