// Package sftpdrop is the Sink for exchanges that take files over SFTP
// (exchange.url sftp://user@host[:port]/dir), as many state HIEs still do
// beside MLLP, HTTPS and AS2 (STANDARDS.md §4, PRACTICE): each queued
// bundle becomes one file, <dir>/<item ID>.json, which the exchange's
// pick-up job collects.
//
// A file is delivered when it is whole under its final name: ferry writes
// it as <dir>/.<ID>.json.part, has the server flush it to its disk
// (fsync@openssh.com, when the server offers it; OpenSSH does), and then
// renames it over the final name (posix-rename@openssh.com, atomic, so the
// pick-up job never sees half a file and a re-sent bundle replaces the
// earlier copy rather than failing). Only then is the item acknowledged
// and taken from the queue. A crash or an error before that leaves at most
// the .part file, which the next attempt overwrites; names start with a
// dot so that pick-up jobs globbing *.json skip it. Item IDs are ULIDs, so
// the files of one patient sort in the order they were queued.
//
// Authentication is the client's key (key_file, an OpenSSH private key)
// and the server's host key, which must be listed in known_hosts (an
// OpenSSH known_hosts file: `ssh-keyscan -p PORT host`, checked with the
// exchange): there is no password login and no trust on first use. A
// refused key, an unknown or changed host key, a missing directory or no
// right to write there are configuration problems: the items stay queued
// (never dead letters) and `ferry status` says what to fix. A server that
// cannot store a file (disk full) is retried like any outage. Nothing an
// SFTP server answers is a verdict on the content, so no item is ever
// dead-lettered by this sink.
package sftpdrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/transport"
)

// Scheme is the exchange.url scheme of this sink.
const Scheme = "sftp"

// Options are the exchange.sftp settings.
type Options struct {
	// KeyFile is ferry's private key (OpenSSH or PEM, unencrypted; keep
	// it 0600), whose public half the exchange put in the account's
	// authorized keys.
	KeyFile string `yaml:"key_file"`
	// KnownHosts is an OpenSSH known_hosts file naming the server's host
	// key ([host]:port for a port other than 22).
	KnownHosts string `yaml:"known_hosts"`
}

// Config configures the sink.
type Config struct {
	// URL is sftp://user@host[:port]/dir; dir is taken from the root
	// (sftp://u@h/inbound is /inbound; sftp://u@h/~/inbound is inbound
	// under the account's home).
	URL string
	Options
	// Timeout bounds connecting and each file's writing without
	// progress (default 30s).
	Timeout time.Duration
}

// DefaultTimeout is Config.Timeout when it is zero.
const DefaultTimeout = 30 * time.Second

// target is what a URL names.
type target struct {
	user, addr, host, dir string
}

func parse(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL
		}
		return target{}, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != Scheme {
		return target{}, fmt.Errorf("scheme %q is not %s", u.Scheme, Scheme)
	}
	if u.User == nil || u.User.Username() == "" {
		return target{}, errors.New("names no account: write sftp://user@host/dir")
	}
	if _, has := u.User.Password(); has {
		return target{}, errors.New("holds a password: ferry logs in with exchange.sftp.key_file only, and a password in the URL would be shown wherever the URL is")
	}
	if u.Hostname() == "" {
		return target{}, errors.New("names no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return target{}, errors.New("has a query or fragment; an SFTP URL is sftp://user@host[:port]/dir")
	}
	dir := u.Path
	switch {
	case dir == "" || dir == "/":
		return target{}, errors.New("names no directory: write sftp://user@host/dir (the directory the exchange collects files from)")
	case strings.HasPrefix(dir, "/~/"):
		dir = strings.TrimPrefix(dir, "/~/")
	}
	dir = strings.TrimSuffix(dir, "/")
	port := u.Port()
	if port == "" {
		port = "22"
	}
	return target{user: u.User.Username(), addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(), dir: dir}, nil
}

// CheckURL checks an sftp:// exchange URL alone (`ferry init` asks for
// it before the key files).
func CheckURL(raw string) error {
	_, err := parse(raw)
	return err
}

// Validate checks the settings without I/O.
func (c Config) Validate() error {
	var errs []error
	if _, err := parse(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if c.KeyFile == "" {
		errs = append(errs, errors.New("sftp.key_file: required for an sftp:// exchange (ferry's private key)"))
	}
	if c.KnownHosts == "" {
		errs = append(errs, errors.New("sftp.known_hosts: required for an sftp:// exchange (the server's host key; `ssh-keyscan -p PORT host`, checked with the exchange)"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: negative"))
	}
	return errors.Join(errs...)
}

// Sink writes bundles into the exchange's SFTP directory. It is safe for
// concurrent Send calls, which share one SSH connection.
type Sink struct {
	cfg Config
	t   target
	log *slog.Logger

	mu    sync.Mutex
	conn  *ssh.Client
	c     *sftp.Client
	fsync bool
}

var _ transport.Sink = (*Sink)(nil)

// New validates cfg and returns an unconnected Sink. A nil logger
// discards.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, _ := parse(cfg.URL)
	return &Sink{cfg: cfg, t: t, log: log}, nil
}

// ConfigError is a failure that only a change of configuration, or at
// the exchange, fixes: a refused key, a host key known_hosts does not
// name, a missing directory, no right to write. Retrying keeps the items
// queued; ConfigProblem says what to do.
type ConfigError struct {
	Problem string
	Err     error
}

func (e *ConfigError) Error() string { return e.Problem + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigProblem implements the dispatcher's operator problem.
func (e *ConfigError) ConfigProblem() string { return "exchange sftp: " + e.Problem }

// Summary is the error without server text (a path or a message the
// server chose).
func (e *ConfigError) Summary() string { return e.Problem }

// Connect reads the key and known_hosts files, logs in and checks that
// the directory is there, so that a wrong setting shows at once.
func (s *Sink) Connect(ctx context.Context) error {
	conn, c, fsync, err := s.dial(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old, oldConn := s.c, s.conn
	s.conn, s.c, s.fsync = conn, c, fsync
	s.mu.Unlock()
	if old != nil {
		old.Close()
		oldConn.Close()
	}
	if !fsync {
		s.log.Warn("the exchange's SFTP server offers no fsync@openssh.com: a file counts as delivered once it is whole under its name, as durable as the server makes it", "server", s.t.addr)
	}
	return nil
}

// Check logs in, writes a probe file into the directory and removes it:
// `ferry doctor`'s test of the account. It reports whether the server
// flushes files to its disk on request.
func (s *Sink) Check(ctx context.Context) (fsync bool, err error) {
	conn, c, fsync, err := s.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	defer c.Close()
	probe := path.Join(s.t.dir, fmt.Sprintf(".ferry-doctor-%d.part", time.Now().UnixNano()))
	f, err := c.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err == nil {
		_, err = f.Write([]byte("ferry doctor\n"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fsync, s.fileError(err, "write a file into "+s.t.dir)
	}
	if err := c.Remove(probe); err != nil {
		return fsync, s.fileError(err, "remove the probe file "+probe)
	}
	return fsync, nil
}

func (s *Sink) dial(ctx context.Context) (*ssh.Client, *sftp.Client, bool, error) {
	keyPEM, err := os.ReadFile(s.cfg.KeyFile)
	if err != nil {
		return nil, nil, false, &ConfigError{Problem: "cannot read sftp.key_file", Err: err}
	}
	if err := configtls.KeyFileMode(s.cfg.KeyFile); err != nil {
		// As for the TLS keys: a key others can read is no longer
		// ferry's alone.
		return nil, nil, false, &ConfigError{Problem: "sftp.key_file may be read by other accounts; chmod 600 it (owned by the ferry account)", Err: err}
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, nil, false, &ConfigError{Problem: "sftp.key_file is encrypted with a passphrase; a service cannot type it: give ferry a key of its own without one, readable only by the ferry account", Err: err}
		}
		return nil, nil, false, &ConfigError{Problem: "sftp.key_file is not an SSH private key", Err: err}
	}
	hostKeys, err := knownhosts.New(s.cfg.KnownHosts)
	if err != nil {
		return nil, nil, false, &ConfigError{Problem: "cannot read sftp.known_hosts", Err: err}
	}
	cc := &ssh.ClientConfig{
		User:            s.t.user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         s.cfg.Timeout,
		ClientVersion:   "SSH-2.0-ferry",
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", s.t.addr)
	if err != nil {
		return nil, nil, false, fmt.Errorf("connect to %s: %w", s.t.addr, err)
	}
	// The handshake has no context of its own: a deadline bounds it.
	nc.SetDeadline(time.Now().Add(s.cfg.Timeout))
	sc, chans, reqs, err := ssh.NewClientConn(nc, s.t.addr, cc)
	if err != nil {
		nc.Close()
		return nil, nil, false, s.handshakeError(err)
	}
	nc.SetDeadline(time.Time{})
	conn := ssh.NewClient(sc, chans, reqs)
	c, err := sftp.NewClient(conn)
	if err != nil {
		conn.Close()
		return nil, nil, false, &ConfigError{Problem: "the account has no SFTP subsystem", Err: err}
	}
	st, err := c.Stat(s.t.dir)
	switch {
	case err != nil:
		err = s.fileError(err, "find the directory "+s.t.dir)
	case !st.IsDir():
		err = &ConfigError{Problem: s.t.dir + " on the server is not a directory", Err: errors.New("not a directory")}
	}
	if err != nil {
		c.Close()
		conn.Close()
		return nil, nil, false, err
	}
	_, fsync := c.HasExtension("fsync@openssh.com")
	return conn, c, fsync, nil
}

// handshakeError explains a failed SSH handshake: a host key known_hosts
// does not name (or names otherwise), a refused key.
func (s *Sink) handshakeError(err error) error {
	var ke *knownhosts.KeyError
	switch {
	case errors.As(err, &ke) && len(ke.Want) > 0:
		return &ConfigError{Problem: "the server's host key is not the one sftp.known_hosts names for " + s.t.addr +
			": someone may be in the way, or the exchange changed its key; ask the exchange, and only then update known_hosts", Err: err}
	case errors.As(err, &ke):
		return &ConfigError{Problem: "sftp.known_hosts names no key for " + knownhosts.Normalize(s.t.addr) +
			"; add the server's key (`ssh-keyscan -p PORT host`, fingerprint checked with the exchange)", Err: err}
	case strings.Contains(err.Error(), "unable to authenticate"):
		return &ConfigError{Problem: "the server refused ferry's key for the account " + s.t.user +
			"; the exchange must add the public half of sftp.key_file to it", Err: err}
	}
	return fmt.Errorf("ssh handshake with %s: %w", s.t.addr, err)
}

// fileError tells a refusal that configuration must fix (no such
// directory, no right) from a failure worth retrying.
func (s *Sink) fileError(err error, what string) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &ConfigError{Problem: "cannot " + what + ": no such file or directory on the server (check the path in exchange.url)", Err: err}
	case errors.Is(err, os.ErrPermission):
		return &ConfigError{Problem: "cannot " + what + ": the account may not (ask the exchange for write access there)", Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Close ends the session.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	c, conn := s.c, s.conn
	s.c, s.conn = nil, nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
		conn.Close()
	}
	return nil
}

// forget drops the session c belongs to after a failure that may have
// broken it; the next Send asks the dispatcher to connect again.
func (s *Sink) forget(c *sftp.Client) {
	s.mu.Lock()
	if s.c != c {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	s.c, s.conn = nil, nil
	s.mu.Unlock()
	c.Close()
	conn.Close()
}

// Send writes the item's bundle as <dir>/<ID>.json (see the package
// documentation).
func (s *Sink) Send(ctx context.Context, it *queue.Item) error {
	s.mu.Lock()
	c, conn, fsync := s.c, s.conn, s.fsync
	s.mu.Unlock()
	if c == nil {
		return transport.ErrNotConnected
	}
	if it.ID == "" || strings.ContainsAny(it.ID, "/\\") || strings.HasPrefix(it.ID, ".") {
		return queue.Permanent(fmt.Errorf("item id %q cannot name a file", it.ID))
	}
	final := path.Join(s.t.dir, it.ID+".json")
	part := path.Join(s.t.dir, "."+it.ID+".json.part")
	// SFTP requests have no deadline of their own: a server that stops
	// answering mid-file would hold the worker for ever. A watchdog
	// closes the connection when no progress was made for Timeout (the
	// context's end too), which fails the request in flight.
	wd := time.AfterFunc(s.cfg.Timeout, func() { conn.Close() })
	defer wd.Stop()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := s.write(c, it, part, fsync, func() { wd.Reset(s.cfg.Timeout) })
	if err == nil {
		wd.Reset(s.cfg.Timeout)
		err = s.rename(c, part, final)
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		// The session may be broken (closed by the watchdog, reset):
		// start the next attempt on a new one.
		s.forget(c)
	}
	return fmt.Errorf("deliver %s to %s: %w", it.ID, s.t.addr, err)
}

// write copies the body into part and, when the server can, flushes it.
func (s *Sink) write(c *sftp.Client, it *queue.Item, part string, fsync bool, progress func()) error {
	body, err := it.OpenBody()
	if err != nil {
		return fmt.Errorf("read the queued bundle: %w", err)
	}
	defer body.Close()
	f, err := c.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return s.fileError(err, "create "+part)
	}
	_, err = io.Copy(f, &progressReader{r: body, progress: progress})
	if err == nil && fsync {
		progress()
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("flush %s on the server: %w", part, err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", part, cerr)
	}
	if err != nil {
		return s.fileError(err, "write "+part)
	}
	return nil
}

// rename puts part in place of final, replacing a copy an earlier attempt
// left (its acknowledgement lost): atomically with posix-rename, or, on a
// server without it, by removing the old copy first.
func (s *Sink) rename(c *sftp.Client, part, final string) error {
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
		if err := c.PosixRename(part, final); err != nil {
			return s.fileError(err, "rename "+part+" to "+final)
		}
		return nil
	}
	if err := c.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s.fileError(err, "replace "+final)
	}
	if err := c.Rename(part, final); err != nil {
		return s.fileError(err, "rename "+part+" to "+final)
	}
	return nil
}

type progressReader struct {
	r        io.Reader
	progress func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}
