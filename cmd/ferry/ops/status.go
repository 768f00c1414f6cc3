package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/transport/audit"

	"github.com/ferry-health/ferry/config"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/queue"
	"github.com/ferry-health/ferry/queue/diskq"
	"github.com/ferry-health/ferry/transport"
)

// Status is the gateway's status report: the running gateway serves it on
// its status page and as /api/status JSON, and `ferry status` prints it,
// decoded from that JSON or, offline, read from the data folder (then
// without the figures only a running gateway knows). It holds counts,
// times and names only: never PHI.
type Status struct {
	Version  string          `json:"version"`
	Started  time.Time       `json:"started,omitzero"` // zero, left out, when not running
	Now      time.Time       `json:"now"`
	DataDir  string          `json:"data_dir"`
	Exchange string          `json:"exchange"`
	Queue    queue.Stats     `json:"queue"`
	Delivery transport.Stats `json:"delivery"`
	Ingest   Ingest          `json:"ingest"`
	// Flush times the queue's commit fdatasyncs, Convert each input's
	// conversion by format: with the MLLP ACK latency they say whether
	// acknowledgements wait on the disk or on the CPU.
	Flush   *Histogram            `json:"flush,omitempty"`
	Convert map[string]*Histogram `json:"convert,omitempty"`
	Sources []SourceStatus        `json:"sources"`
	// Folders are the watched folders (EHR exports, fax inboxes).
	Folders []FolderStatus `json:"folders"`
	// Mailboxes are the fax mailboxes (IMAP).
	Mailboxes []MailboxStatus `json:"mailboxes,omitempty"`
	// Fetches are the remote SFTP directories folders fetch from.
	Fetches      []RemoteFetch `json:"fetches,omitempty"`
	Certificates []CertStatus  `json:"certificates"`
	// RetentionStuck are the places (folder sources, the outbox) whose
	// retention pass a later pass found still under way.
	RetentionStuck []RetentionStuck `json:"retention_stuck,omitempty"`
	// Audit is the ATNA audit trail's state; nil when audit is off.
	Audit *audit.Stats `json:"audit,omitempty"`
	// Encryption says whether data at rest is sealed, and with which key.
	Encryption Encryption `json:"encryption"`
	// LastBackup is the last `ferry backup` of data_dir; nil when none
	// was recorded (or the record could not be read).
	LastBackup *BackupRecord `json:"last_backup,omitempty"`

	// Online is true when the figures came from a running gateway.
	Online bool `json:"-"`
	// Running is true, offline, when a gateway holds the queue although
	// its status page did not answer (status.listen off, or too busy).
	Running bool `json:"-"`
	// Address is the status page that answered (online only).
	Address string `json:"-"`
}

// RetentionStuck is a place whose retention pass has not ended: a
// done_dir on a file server that stopped answering.
type RetentionStuck struct {
	Place string    `json:"place"`
	Since time.Time `json:"since"`
}

// UTC sets every time of the report in UTC, as Now and Started are. The
// figures' times come from the clock in the computer's zone, and the JSON
// gave them with its offset beside a UTC now: one document in two zones,
// which a dashboard comparing or sorting the strings reads wrong.
func (s *Status) UTC() {
	utc := func(t *time.Time) { *t = t.UTC() }
	utc(&s.Started)
	utc(&s.Now)
	utc(&s.Queue.Oldest)
	utc(&s.Queue.LastWriteErrorAt)
	utc(&s.Delivery.LastDelivery)
	utc(&s.Delivery.LastErrorAt)
	for i := range s.Folders {
		utc(&s.Folders[i].LastClaimErrorAt)
		utc(&s.Folders[i].OldestWaiting)
	}
	for i := range s.RetentionStuck {
		utc(&s.RetentionStuck[i].Since)
	}
	for i := range s.Fetches {
		utc(&s.Fetches[i].LastPoll)
	}
	for i := range s.Mailboxes {
		utc(&s.Mailboxes[i].LastPoll)
	}
	for i := range s.Certificates {
		utc(&s.Certificates[i].NotAfter)
		utc(&s.Certificates[i].NotValidUntil)
	}
	if s.Audit != nil {
		utc(&s.Audit.LastErrorAt)
	}
	if s.LastBackup != nil {
		utc(&s.LastBackup.Time)
	}
}

// stuckAdvice is what to do about a folder whose files cannot be
// claimed, by the engine's error class (folder.ErrorClass): a folder
// that is not at its path needs it back (a share mounted), not its
// permissions checked.
func stuckAdvice(f FolderStatus) string {
	e := f.LastClaimError
	// The class is the system's own text (folder.ErrorClass): ENOENT's on
	// Unix, ERROR_FILE_NOT_FOUND's and ERROR_PATH_NOT_FOUND's on Windows
	// ("The system cannot find the path specified.", "Path not found."
	// under Wine).
	notThere := strings.Contains(e, "no such file") || strings.Contains(e, "does not exist") ||
		strings.Contains(e, "cannot find") || strings.Contains(e, "not found")
	switch {
	case strings.HasPrefix(e, "not started: ") && notThere:
		return "the folder is not there (a share not mounted yet?); the other sources run, and ferry starts it once it is there: " + f.Path
	case strings.HasPrefix(e, "gone: "):
		return "the folder was removed or its share unmounted while ferry ran; ferry takes it up again once it is back at " + f.Path
	case strings.HasPrefix(e, "replaced, files of the old folder"):
		// The engine's class (folder.Engine.followPath): nothing to fix,
		// ferry waits for the files it retries.
		return "another folder is at " + f.Path + " now (a share mounted over it, or the folder made again); ferry takes it up once the files it took from the old one, retrying, are stored"
	}
	return "check the permissions of " + f.Path
}

// Encryption is the data-at-rest state (encryption.key_file). It names
// the key by its id only, never its material.
type Encryption struct {
	On    bool   `json:"on"`
	KeyID string `json:"key_id,omitempty"`
	// Error is why the configured key could not be loaded (offline
	// status read by an account that may not read the key, say).
	Error string `json:"error,omitempty"`
}

// String reads "on (key <id>)" or "off".
func (e Encryption) String() string {
	switch {
	case !e.On:
		return "off"
	case e.Error != "":
		return "on (key not loaded: " + e.Error + ")"
	}
	return "on (key " + e.KeyID + ")"
}

// EncryptionOf reports the state for cfg by loading its key.
func EncryptionOf(cfg *config.Config) Encryption {
	if !cfg.Encryption.Enabled() {
		return Encryption{}
	}
	k, err := cfg.LoadKey()
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) && len(ce.Problems) == 1 {
			return Encryption{On: true, Error: ce.Problems[0].Msg}
		}
		return Encryption{On: true, Error: err.Error()}
	}
	return Encryption{On: true, KeyID: k.ID()}
}

// Ingest counts inputs since the gateway started.
type Ingest struct {
	Queued      int64 `json:"queued"`
	Duplicates  int64 `json:"duplicates"`
	Quarantined int64 `json:"quarantined"`
	// Held counts units kept back by the exchange's hold policy
	// (security labels), stored under <data_dir>/held.
	Held int64 `json:"held"`
	// Unconverted counts document entries sent only inside the attached
	// document, not as resources (C-CDA templates ferry does not map).
	Unconverted int64 `json:"unconverted_entries"`
	// Retied counts patients of inputs (HL7 v2, C-CDA, fax, XDM, CSV) that named an identifier
	// an earlier merge retired, tied to the record it was merged into.
	Retied int64 `json:"retied_to_survivor"`
}

// SourceStatus counts one MLLP listener's traffic since the gateway
// started.
type SourceStatus struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Address  string `json:"address"`
	Messages int64  `json:"messages"`
	Accepted int64  `json:"accepted"`
	Errors   int64  `json:"errors"`
	Rejects  int64  `json:"rejects"`
	Open     int64  `json:"open_connections"`
	// AcksNotSent counts accept acknowledgements left unsent because the
	// message's MSH-15 asked for none in its case (NE, ER, SU).
	AcksNotSent int64 `json:"acks_not_sent"`
	// AppAcksRequested counts messages whose MSH-16 asks for an
	// application acknowledgement, which ferry sends only where the
	// listener has app_ack: true; AppAcksSent counts those sent.
	AppAcksRequested int64 `json:"app_acks_requested"`
	AppAcksSent      int64 `json:"app_acks_sent"`
	// AppAck is the listener's app_ack setting.
	AppAck bool `json:"app_ack"`
	// ConnsDenied counts connections closed at accept because their
	// address is not in the listener's allow list; ConnsRejected those
	// closed because of max_conns or max_conns_per_ip.
	ConnsDenied   int64 `json:"connections_denied"`
	ConnsRejected int64 `json:"connections_rejected"`
	// Oversized counts messages refused (AR) for exceeding
	// max_frame_bytes; Busy those refused (AR) because the listener's
	// max_buffered_bytes for large messages was in use. Buffered is the
	// memory large messages hold now, BufferLimit its bound.
	Oversized   int64 `json:"oversized"`
	Busy        int64 `json:"busy"`
	Buffered    int64 `json:"buffered_bytes"`
	BufferLimit int64 `json:"buffer_limit_bytes"`
	// MultiMessage counts frames refused whole (AR) because they held
	// more than one message or an HL7 batch.
	MultiMessage int64 `json:"multi_message"`
	// Sequences maps each stream of the HL7 sequence number protocol
	// (MSH-3 to MSH-6 of its messages) to the last number accepted on
	// it. SequenceGaps counts messages past the number expected (of
	// them, SequenceRefused answered AR under sequence_numbers: enforce),
	// SequenceRepeats those with a number already accepted.
	Sequences       map[string]int64 `json:"sequences,omitempty"`
	SequenceGaps    int64            `json:"sequence_gaps,omitempty"`
	SequenceRefused int64            `json:"sequence_refused,omitempty"`
	SequenceRepeats int64            `json:"sequence_repeats,omitempty"`
	// AckLatency is the time from a message read to its ACK written (the
	// wait for the fsync, mostly), as a histogram.
	AckLatency *Histogram `json:"ack_latency,omitempty"`
}

// FolderStatus is one watched folder's figures since the gateway started.
// Its name and path are configuration; the files in it, whose names may be
// PHI, are only counted.
type FolderStatus struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Path string `json:"path"`
	folder.Stats
	// FaxesIncomplete counts the faxes of a fax inbox delivered marked
	// incomplete (the call ended early, pages may be missing).
	FaxesIncomplete int64 `json:"faxes_incomplete,omitempty"`
}

// RemoteFetch is one folder's fetch: from where, and what it did.
type RemoteFetch struct {
	Folder string `json:"folder"`
	// From is the server and directory (no account).
	From string `json:"from"`
	fetch.Stats
}

// MailboxStatus is one fax mailbox: where it is and what it did.
type MailboxStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Mailbox string `json:"mailbox"`
	fax.MailboxStats
}

// Histogram counts observations by upper bound: Counts[i] how many were
// at most BoundsSeconds[i] and above the bound before it (not cumulative),
// the last count those above every bound.
type Histogram struct {
	BoundsSeconds []float64 `json:"bounds_seconds"`
	Counts        []int64   `json:"counts"`
	SumSeconds    float64   `json:"sum_seconds"`
}

// Count is the number of observations.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns the upper bound of the bucket that holds quantile q
// (0 < q ≤ 1), and false when it lies above every bound.
func (h *Histogram) Quantile(q float64) (time.Duration, bool) {
	total := h.Count()
	var cum int64
	for i, c := range h.Counts {
		cum += c
		if float64(cum) >= q*float64(total) {
			if i >= len(h.BoundsSeconds) {
				break
			}
			return time.Duration(h.BoundsSeconds[i] * float64(time.Second)), true
		}
	}
	return 0, false
}

// bound formats Quantile's answer: "≤ 2ms", or "> 5s" past the last bound.
func (h *Histogram) bound(q float64) string {
	if d, ok := h.Quantile(q); ok {
		return "≤ " + d.String()
	}
	if n := len(h.BoundsSeconds); n > 0 {
		return "> " + time.Duration(h.BoundsSeconds[n-1]*float64(time.Second)).String()
	}
	return "?"
}

// CertStatus is one configured certificate's expiry.
type CertStatus struct {
	Use  string `json:"use"`
	File string `json:"file"`
	// Subject is the common name of the file's certificate that expires
	// first (NotAfter's): in a chain, perhaps an intermediate; with
	// NotValidUntil set, that of the certificate not valid yet.
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	DaysLeft int       `json:"days_left"`
	// NotValidUntil is set when a certificate in the file is not valid
	// yet (its NotBefore to come: the clock set back, or one issued for a
	// later date): the time the last of them becomes valid. Until then it
	// fails handshakes as an expired one does.
	NotValidUntil time.Time `json:"not_valid_until,omitzero"`
	Error         string    `json:"error,omitempty"`
}

// ErrNotRunning means no gateway answered on the status address.
var ErrNotRunning = errors.New("no gateway answers")

// ErrNotFerry means something answered on the status address, but not as
// a ferry status page: another program holds the address.
var ErrNotFerry = errors.New("not a ferry status page")

// FetchStatus asks the gateway whose status page listens on addr.
func FetchStatus(ctx context.Context, addr string) (*Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/status", nil)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", addr, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w: %w", addr, ErrNotRunning, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s: %s answered %s: %w", addr, addr, resp.Status, ErrNotFerry)
	}
	var s Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("status %s: %w (%w)", addr, ErrNotFerry, err)
	}
	s.Online, s.Address = true, addr
	return &s, nil
}

// SameDataDir reports whether a running gateway's status report (its
// data_dir as that gateway was configured) is that of the gateway cfg
// describes. Another ferry holding the status address, such as a `ferry
// run` on the embedded default left running in a terminal, is not: its
// figures are not this gateway's, and this one cannot bind its ports. A
// report without data_dir (an older gateway) cannot tell and counts as
// the same.
func SameDataDir(s *Status, cfg *config.Config) bool {
	if s == nil || s.DataDir == "" {
		return true
	}
	if filepath.Clean(s.DataDir) == filepath.Clean(cfg.DataDir) {
		return true
	}
	a, err := filepath.Abs(s.DataDir)
	b, err2 := filepath.Abs(cfg.DataDir)
	return err == nil && err2 == nil && a == b
}

// OfflineStatus reads the figures from the data folder of a gateway that
// is not running (or not reachable). The queue is read without its lock,
// so this is safe beside a running gateway too.
func OfflineStatus(cfg *config.Config) (*Status, error) {
	s := &Status{Now: time.Now().UTC(), DataDir: cfg.DataDir, Exchange: cfg.Exchange.URL}
	if s.Exchange == "" {
		s.Exchange = "none: outbox " + cfg.Path("outbox")
		// With the outbox as destination, the newest file is the last
		// delivery.
		if t, err := newestFile(cfg.Path("outbox")); err == nil {
			s.Delivery.LastDelivery = t
		}
	}
	qdir := QueueDir(cfg)
	if _, err := os.Stat(qdir); errors.Is(err, fs.ErrNotExist) {
		// Never started: an empty queue.
	} else {
		snap, err := diskq.Inspect(qdir, DeadLetterDir(cfg), 1)
		if err != nil {
			return nil, fmt.Errorf("read queue: %w", err)
		}
		s.Queue = snap.Stats
		// The gateway keeps the queue's lock while it runs: without
		// this, status.listen off read as "not running".
		if s.Running, err = diskq.InUse(qdir); err != nil {
			return nil, err
		}
	}
	s.Certificates = ConfiguredCertificates(cfg, s.Now)
	s.Encryption = EncryptionOf(cfg)
	return s, nil
}

// QueueDir is where the gateway keeps its durable queue.
func QueueDir(cfg *config.Config) string { return cfg.Path("queue") }

// DeadLetterDir is the queue's dead-letter folder; "" is diskq's default
// (<queue>/dead), which is what the gateway opens the queue with.
func DeadLetterDir(cfg *config.Config) string { return "" }

// ConfiguredCertificates lists the expiry of every certificate file in cfg.
func ConfiguredCertificates(cfg *config.Config, now time.Time) []CertStatus {
	var out []CertStatus
	// addFile adds a certificate with its chain, or with ca a bundle of
	// CAs, where one expired or not valid yet beside valid ones is left
	// out of the pool, harmless (ferry doctor warns about the expired).
	addFile := func(use, file string, ca bool) {
		if file == "" {
			return
		}
		c := CertStatus{Use: use, File: file}
		first, err := configtls.FirstToExpire(file)
		if ca {
			first, _, err = configtls.FirstCAToExpire(file, now)
		}
		if err != nil {
			c.Error = err.Error()
		} else {
			c.Subject, c.NotAfter = first.Subject.CommonName, first.NotAfter
			// Whole days left, rounded down: a certificate that
			// expired hours ago has -1, not the 0 of one still good
			// for hours (cutting towards zero gave both 0).
			c.DaysLeft = int(math.Floor(first.NotAfter.Sub(now).Hours() / 24))
			if early, err := configtls.NotYetValid(file, now); err == nil && early != nil && (!ca || now.Before(first.NotBefore) || now.After(first.NotAfter)) {
				c.Subject, c.NotValidUntil = early.Subject.CommonName, early.NotBefore
			}
		}
		out = append(out, c)
	}
	add := func(use, file string) { addFile(use, file, false) }
	addCA := func(use, file string) { addFile(use, file, true) }
	// A certificate with its key is re-read by the gateway when the files
	// change, and one it cannot load (renewed without its key, half
	// copied) leaves the previous one in use: its expiry is not this
	// file's, and the status says why instead. A key this account may not
	// read (`ferry status` run by another user) is no such sign.
	addPair := func(use, certFile, keyFile string) {
		add(use, certFile)
		if certFile == "" || keyFile == "" || out[len(out)-1].Error != "" {
			return
		}
		if err := configtls.CheckKeyPair(certFile, keyFile); err != nil && !errors.Is(err, fs.ErrPermission) {
			out[len(out)-1].Error = err.Error() + "; a running gateway keeps the certificate it loaded before"
		}
	}
	if cfg.Exchange.URL != "" {
		addPair("exchange client certificate", cfg.Exchange.TLS.CertFile, cfg.Exchange.TLS.KeyFile)
		addCA("exchange CA", cfg.Exchange.TLS.CAFile)
		// The UDAP certificate signs every registration and token
		// request: expired, it stops delivery like the TLS one.
		if u := cfg.Exchange.Auth.UDAP; u.Enabled() {
			add("UDAP client certificate", u.CertFile)
			addCA("UDAP trust anchors", u.TrustAnchors)
		}
	}
	// An expired audit certificate fails every dial silently from the
	// data path's view: events pile up in the spool until its bound, then
	// the oldest are dropped.
	if cfg.Audit.Enabled() {
		addPair("audit client certificate", cfg.Audit.TLS.CertFile, cfg.Audit.TLS.KeyFile)
		addCA("audit CA", cfg.Audit.TLS.CAFile)
	}
	// An https proxy's CA: expired, no request gets past the proxy.
	addCA("proxy CA", cfg.Proxy.CAFile)
	for _, m := range cfg.Sources.MLLP {
		if m.TLS != nil {
			addPair("mllp/"+m.Name+" server certificate", m.TLS.CertFile, m.TLS.KeyFile)
			addCA("mllp/"+m.Name+" client CA", m.TLS.ClientCAFile)
		}
	}
	// A mailbox's CAs are read at start: with every one expired, the
	// gateway does not start.
	for _, mb := range cfg.Sources.Mailboxes {
		addCA("mailbox/"+mb.Name+" CA", mb.TLS.CAFile)
		if mb.OAuth2 != nil {
			// The app's certificate signs every token request (read
			// at each): expired, the token endpoint refuses it and no
			// fax is taken.
			add("mailbox/"+mb.Name+" OAuth client certificate", mb.OAuth2.ClientCertFile)
			addCA("mailbox/"+mb.Name+" token endpoint CA", mb.OAuth2.CAFile)
		}
	}
	return out
}

func newestFile(dir string) (time.Time, error) {
	var newest time.Time
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
		return nil
	})
	return newest, err
}

// statusLabel pads a label of PrintStatus to its column of 19. A longer
// one (a format such as "convert fhir-ndjson:", a source or folder with a
// long name) keeps one space before its figures rather than running into
// them.
func statusLabel(label string) string {
	return fmt.Sprintf("%-18s ", label)
}

// PrintStatus writes s for a person.
func PrintStatus(w io.Writer, s *Status) {
	now := s.Now
	if now.IsZero() {
		now = time.Now()
	}
	if s.Online {
		fmt.Fprintf(w, "ferry %s is running (status page http://%s/), up %s\n", s.Version, s.Address, ago(s.Started, now))
	} else if s.Running {
		fmt.Fprintf(w, "ferry is running (it holds the queue) but its status page did not answer (status.listen off, or the gateway too busy); figures read from %s\n", s.DataDir)
	} else {
		fmt.Fprintf(w, "ferry is not running (no answer on the status address); figures read from %s\n", s.DataDir)
	}
	fmt.Fprintf(w, "exchange:          %s\n", s.Exchange)
	fmt.Fprintf(w, "encryption:        %s\n", s.Encryption)
	if b := s.LastBackup; b != nil {
		fmt.Fprintf(w, "last backup:       %s ago (%s, %d files, %s, to %s)\n", ago(b.Time, now), b.Time.Local().Format("2006-01-02 15:04"), b.Files, HumanBytes(b.Bytes), b.File)
	}
	fmt.Fprintf(w, "queue depth:       %d waiting for delivery", s.Queue.Depth)
	if s.Online {
		fmt.Fprintf(w, " (%d out for delivery now)", s.Queue.Leased)
	}
	fmt.Fprintf(w, ", %s stored\n", humanBytes(uint64(max(s.Queue.Bytes, 0))))
	if s.Queue.Oldest.IsZero() {
		fmt.Fprintf(w, "oldest item:       none\n")
	} else {
		fmt.Fprintf(w, "oldest item:       %s old (queued %s)\n", ago(s.Queue.Oldest, now), s.Queue.Oldest.Local().Format("2006-01-02 15:04:05"))
	}
	switch {
	case !s.Delivery.LastDelivery.IsZero():
		fmt.Fprintf(w, "last delivery:     %s ago (%s)\n", ago(s.Delivery.LastDelivery, now), s.Delivery.LastDelivery.Local().Format("2006-01-02 15:04:05"))
	case s.Online:
		fmt.Fprintf(w, "last delivery:     none since start\n")
	case s.Running:
		fmt.Fprintf(w, "last delivery:     unknown without the status page\n")
	default:
		fmt.Fprintf(w, "last delivery:     unknown while the gateway is not running\n")
	}
	if s.Online {
		fmt.Fprintf(w, "delivered:         %d since start, %d retries, %d dead-lettered\n", s.Delivery.Delivered, s.Delivery.Retried, s.Delivery.DeadLettered)
		if s.Delivery.Skipped > 0 {
			fmt.Fprintf(w, "                   %d with nothing to send (later parts of HL7 v2 messages forwarded whole)\n", s.Delivery.Skipped)
		}
		// Queued and duplicates count bundles (a long message or a CSV file
		// makes several), the quarantine counts inputs: say which is which,
		// so the figures are not read against a sender's message count.
		fmt.Fprintf(w, "converted:         %d bundles queued, %d duplicate bundles ignored, %d inputs quarantined since start", s.Ingest.Queued, s.Ingest.Duplicates, s.Ingest.Quarantined)
		if s.Ingest.Quarantined > 0 {
			fmt.Fprintf(w, " (see `ferry quarantine list`)")
		}
		fmt.Fprintln(w)
		if s.Ingest.Held > 0 {
			fmt.Fprintf(w, "held for review:   %d since start by exchange.hold, not sent (see `ferry held list`)\n", s.Ingest.Held)
		}
		if s.Ingest.Unconverted > 0 {
			fmt.Fprintf(w, "not converted:     %d document entries since start sent only in their attached document (log.level debug names their templates)\n", s.Ingest.Unconverted)
		}
		if s.Ingest.Retied > 0 {
			fmt.Fprintf(w, "merged patients:   %d since start named by an identifier a merge retired, sent for the surviving patient\n", s.Ingest.Retied)
		}
		if h := s.Flush; h != nil && h.Count() > 0 {
			fmt.Fprintf(w, "disk flush:        p50 %s, p99 %s over %d commits (each ACK waits for one)\n", h.bound(0.5), h.bound(0.99), h.Count())
		}
		formats := make([]string, 0, len(s.Convert))
		for f, h := range s.Convert {
			if h != nil && h.Count() > 0 {
				formats = append(formats, f)
			}
		}
		sort.Strings(formats)
		for _, f := range formats {
			h := s.Convert[f]
			fmt.Fprintf(w, "%sp50 %s, p99 %s over %d inputs\n", statusLabel("convert "+f+":"), h.bound(0.5), h.bound(0.99), h.Count())
		}
		for _, src := range s.Sources {
			fmt.Fprintf(w, "%s%d messages: %d accepted, %d refused as errors (AE), %d rejected to resend (AR)", statusLabel(src.Kind+" "+src.Name+":"), src.Messages, src.Accepted, src.Errors, src.Rejects)
			if h := src.AckLatency; h != nil && h.Count() > 0 {
				fmt.Fprintf(w, "; ACK after p50 %s, p99 %s", h.bound(0.5), h.bound(0.99))
			}
			fmt.Fprintln(w)
			if src.ConnsDenied > 0 || src.ConnsRejected > 0 {
				fmt.Fprintf(w, "%-19s%d connections refused (not in allow), %d over max_conns/max_conns_per_ip\n", "", src.ConnsDenied, src.ConnsRejected)
			}
			if src.MultiMessage > 0 {
				fmt.Fprintf(w, "%-19s%d frames refused for holding more than one message or a batch (the sender must send one message per frame)\n", "", src.MultiMessage)
			}
			if len(src.Sequences) > 0 {
				fmt.Fprintf(w, "%-19s%s\n", "", sequenceLine(src))
			}
			if src.AppAcksRequested > 0 && !src.AppAck {
				fmt.Fprintf(w, "%-19s%d messages asked for an application ACK (MSH-16), which this listener does not send; a sender that waits for it stalls (app_ack: true)\n", "", src.AppAcksRequested)
			}
			if src.Oversized > 0 || src.Busy > 0 || src.Buffered > 0 {
				fmt.Fprintf(w, "%-19s%d messages over max_frame_bytes, %d refused while max_buffered_bytes was in use; large messages hold %s of %s now\n",
					"", src.Oversized, src.Busy, humanBytes(uint64(src.Buffered)), humanBytes(uint64(src.BufferLimit)))
			}
		}
		for _, f := range s.Folders {
			fmt.Fprintf(w, "%s%d waiting", statusLabel(f.Kind+" "+f.Name+":"), f.Waiting)
			if !f.OldestWaiting.IsZero() {
				fmt.Fprintf(w, " (oldest seen %s ago)", ago(f.OldestWaiting, now))
			}
			fmt.Fprintf(w, ", %d retrying, %d claimed, %d done, %d failed since start\n", f.Retrying, f.Claimed, f.Done, f.Failed)
			if f.Empty > 0 {
				fmt.Fprintf(w, "%-19s%d of them empty (0 bytes): taken once written, moved to failed/ if they stay empty\n", "", f.Empty)
			}
			if f.Symlinks > 0 || f.SpecialFiles > 0 {
				fmt.Fprintf(w, "%-19snot taken: %d symbolic link(s), %d named pipe(s) or other special file(s), left in place: put the files themselves there\n", "", f.Symlinks, f.SpecialFiles)
			}
			if f.ClaimsFailing {
				fmt.Fprintf(w, "FOLDER STUCK:      %s: files cannot be claimed (%s; %s, last %s) - %s\n",
					f.Name, f.LastClaimError, fmt.Sprintf("%d %s", f.ClaimErrors, plural(int(f.ClaimErrors), "failed attempt", "failed attempts")), f.LastClaimErrorAt.Local().Format("2006-01-02 15:04:05"), stuckAdvice(f))
			}
		}
		for _, fe := range s.Fetches {
			fmt.Fprintf(w, "%sfrom %s: %d files fetched since start", statusLabel("fetch "+fe.Folder+":"), fe.From, fe.Fetched)
			if !fe.LastPoll.IsZero() {
				fmt.Fprintf(w, "; last listed %s ago", ago(fe.LastPoll, now))
			}
			fmt.Fprintln(w)
			if fe.LastError != "" {
				fmt.Fprintf(w, "%-19slast poll failed: %s\n", "", fe.LastError)
			}
		}
		for _, m := range s.Mailboxes {
			fmt.Fprintf(w, "%s%s on %s: %d taken, %d failed since start", statusLabel("mailbox "+m.Name+":"), m.Mailbox, m.Address, m.Taken, m.Failed)
			if !m.LastPoll.IsZero() {
				fmt.Fprintf(w, "; last read %s ago", ago(m.LastPoll, now))
			}
			fmt.Fprintln(w)
			if m.LastError != "" {
				fmt.Fprintf(w, "%-19slast poll failed: %s\n", "", m.LastError)
			}
		}
		if s.Delivery.LastError != "" {
			fmt.Fprintf(w, "last error:        %s (%s)\n", s.Delivery.LastError, s.Delivery.LastErrorAt.Local().Format("2006-01-02 15:04:05"))
		}
		if s.Delivery.ConfigProblem != "" {
			fmt.Fprintf(w, "NEEDS AN OPERATOR: %s\n", s.Delivery.ConfigProblem)
		}
		if a := s.Audit; a != nil {
			// Lost counts the events the repository refused as invalid
			// and those the spool's bound dropped: a gap in the trail.
			fmt.Fprintf(w, "audit trail:       %d sent, %d spooled waiting for the repository, %d dropped (lost to the trail), %d truncated to fit a datagram since start\n", a.Sent, a.Pending, a.Dropped, a.Truncated)
			if a.LastError != "" {
				fmt.Fprintf(w, "%-19slast error: %s (%s)\n", "", a.LastError, a.LastErrorAt.Local().Format("2006-01-02 15:04:05"))
			}
		}
	}
	fmt.Fprintf(w, "dead letters:      %d", s.Queue.DeadLetters)
	if s.Queue.DeadLetters > 0 {
		fmt.Fprintf(w, " (see `ferry queue list`)")
	}
	fmt.Fprintln(w)
	if s.Queue.Corrupt > 0 {
		fmt.Fprintf(w, "corrupt records:   %d skipped (disk damage? see the log)\n", s.Queue.Corrupt)
	}
	if s.Queue.WriteErrors > 0 {
		fmt.Fprintf(w, "failed writes:     %d since start (messages refused, to be sent again; disk full?), last %s: %s\n",
			s.Queue.WriteErrors, s.Queue.LastWriteErrorAt.Local().Format("2006-01-02 15:04:05"), s.Queue.LastWriteError)
	}
	if s.Queue.Full != "" {
		fmt.Fprintf(w, "QUEUE FULL:        %s; senders are told to resend later (AR) until deliveries make room\n", s.Queue.Full)
	}
	if s.Queue.Stopped != "" {
		fmt.Fprintf(w, "QUEUE STOPPED:     %s (ferry exits; a restart recovers)\n", s.Queue.Stopped)
	}
	for _, r := range s.RetentionStuck {
		fmt.Fprintf(w, "RETENTION STUCK:   %s: the retention pass started %s ago (%s) has not ended (a file server not answering?); the other places are pruned without it\n",
			r.Place, ago(r.Since, now), r.Since.Local().Format("2006-01-02 15:04:05"))
	}
	for _, c := range s.Certificates {
		switch {
		case c.Error != "":
			fmt.Fprintf(w, "certificate:       %s: %s\n", c.Use, c.Error)
		case c.DaysLeft < 0:
			fmt.Fprintf(w, "certificate:       %s EXPIRED on %s\n", c.Use, c.NotAfter.UTC().Format(time.DateOnly))
		case !c.NotValidUntil.IsZero():
			fmt.Fprintf(w, "certificate:       %s NOT VALID until %s (%q; check the system clock)\n", c.Use, c.NotValidUntil.UTC().Format(time.DateOnly), c.Subject)
		default:
			warn := ""
			if c.DaysLeft < 30 {
				warn = " - renew soon"
			}
			fmt.Fprintf(w, "certificate:       %s expires %s (%d days left%s)\n", c.Use, c.NotAfter.UTC().Format(time.DateOnly), c.DaysLeft, warn)
		}
	}
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < 48*time.Hour:
		return d.Truncate(time.Minute).String()
	}
	return fmt.Sprintf("%dd%s", int(d.Hours()/24), (d % (24 * time.Hour)).Truncate(time.Hour))
}

// sequenceLine describes a listener's sequence-numbered streams: the
// number each expects next (the first few), and the gaps and repeats seen.
func sequenceLine(src SourceStatus) string {
	streams := slices.Sorted(maps.Keys(src.Sequences))
	const show = 4
	parts := make([]string, 0, show)
	for _, st := range streams[:min(len(streams), show)] {
		parts = append(parts, fmt.Sprintf("%s expects %d", st, src.Sequences[st]+1))
	}
	if len(streams) > show {
		parts = append(parts, fmt.Sprintf("and %d more", len(streams)-show))
	}
	line := fmt.Sprintf("HL7 sequence numbers (MSH-13): %s", strings.Join(parts, ", "))
	if src.SequenceGaps > 0 || src.SequenceRepeats > 0 {
		line += fmt.Sprintf("; %d gaps (%d refused), %d repeats since start", src.SequenceGaps, src.SequenceRefused, src.SequenceRepeats)
	}
	return line
}
