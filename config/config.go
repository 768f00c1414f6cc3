// Package config loads ferry's one YAML configuration file. Loading is
// strict (an unknown key is an error, as in Caddy and the OTel Collector),
// every field has a default, and Validate reports every problem at once,
// each prefixed with its field path and, when known, its line in the file.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/config/configproxy"
	"github.com/ferry-health/ferry/config/configtext"
	"github.com/ferry-health/ferry/config/configtls"
	"github.com/ferry-health/ferry/transport/fhirhttp"
	"github.com/ferry-health/ferry/transport/mllptls"
	"github.com/ferry-health/ferry/transport/sftpdrop"
)

// DefaultYAML is the embedded configuration `ferry run` uses when no file
// is given: MLLP on loopback, data under ./ferry-data, and, since no
// exchange is configured, delivery into the local outbox folder.
//
//go:embed default.yaml
var DefaultYAML []byte

// Config is the root of the configuration file.
type Config struct {
	DataDir     string      `yaml:"data_dir"`
	Log         Log         `yaml:"log"`
	Sources     Sources     `yaml:"sources"`
	Exchange    Exchange    `yaml:"exchange"`
	Queue       Queue       `yaml:"queue"`
	Identifiers Identifiers `yaml:"identifiers"`
	// HL7v2 tunes the HL7 v2 conversion.
	HL7v2 HL7v2 `yaml:"hl7v2"`
	// Fax says how received faxes become FHIR documents (IHE MHD or US
	// Core), and how the documents of XDM packages that are not C-CDA,
	// HL7 v2 or FHIR are filed: the same bundle under the same profile,
	// source_id, patient_link and binary_method. A folder's own
	// source_id (sources.folders[].source_id), and an XDM package's own
	// sourceId, come before fax.source_id.
	Fax    faxfhir.Config `yaml:"fax"`
	Status Status         `yaml:"status"`
	// Retention says how long delivered files are kept.
	Retention Retention `yaml:"retention"`
	// Audit sends the ATNA audit trail to an audit repository (audit.go).
	Audit Audit `yaml:"audit"`
	// Encryption seals the data kept at rest (see Encryption).
	Encryption Encryption `yaml:"encryption"`
	// Proxy is the HTTP proxy every outbound HTTP client uses: the
	// exchange (bundles, SMART and UDAP tokens, CRLs and OCSP), an
	// https:// audit repository, `ferry udap-register` and `ferry
	// doctor`. Absent: the environment's HTTPS_PROXY and NO_PROXY, which a
	// Windows service does not see (configproxy). MLLP and syslog are
	// not HTTP and always connect directly.
	Proxy configproxy.Config `yaml:"proxy"`

	source      string     // file name, for LoadKey's problems
	keyFileLine int        // line of encryption.key_file, 0 when unknown
	root        *yaml.Node // the parsed file, for the lines of Warnings
}

// Retention bounds what ferry keeps after delivery.
type Retention struct {
	// Done is how long folder sources keep their dated done/ archives
	// (default 720h, 30 days).
	Done time.Duration `yaml:"done"`
	// Outbox is how long delivered outbox files are kept when no exchange
	// is configured; 0 keeps them (they are the delivery, for another
	// program to collect).
	Outbox time.Duration `yaml:"outbox"`
}

// Log controls the gateway's own logging.
type Log struct {
	Level string `yaml:"level"`
	// PHI allows message content in logs. Off by default: logs travel to
	// places (support tickets, syslog servers) that PHI must not.
	PHI bool `yaml:"phi"`
	// File, when set, is the file the log is written to instead of
	// standard error, rotated by size (a new file is created mode 0600).
	// Empty means standard error, which systemd keeps in the journal; a
	// Windows service's standard error goes nowhere, so a service on
	// Windows with no file logs to <data_dir>\logs\ferry.log
	// (DefaultServiceLogFile).
	File string `yaml:"file"`
	// MaxSizeMB is the size in MiB at which the file is rotated (default
	// 50); MaxFiles how many rotated files are kept beside it (default
	// 10), the oldest removed first.
	MaxSizeMB int `yaml:"max_size_mb"`
	MaxFiles  int `yaml:"max_files"`
}

// DefaultServiceLogFile is where a Windows service logs when log.file is
// empty: the Service Control Manager discards standard error.
func (c *Config) DefaultServiceLogFile() string {
	return filepath.Join(c.DataDir, "logs", "ferry.log")
}

// Sources lists the inputs.
type Sources struct {
	MLLP    []MLLP   `yaml:"mllp"`
	Folders []Folder `yaml:"folders"`
	// Mailboxes are fax mailboxes: IMAP mailboxes a fax-to-e-mail service
	// delivers faxes to, polled over TLS (fax.MailboxConfig).
	Mailboxes []Mailbox `yaml:"mailboxes"`
	// MaxWholeFileBytes bounds the files read whole into memory: a FHIR
	// JSON document (a Bundle) and an HL7 v2 batch file dropped in an
	// EHR folder (0: pipeline.DefaultMaxWholeFileBytes, 128 MiB). A
	// larger one is refused, unread, and goes to failed/.
	MaxWholeFileBytes int64 `yaml:"max_whole_file_bytes"`
}

// Mailbox is one fax mailbox: the IMAP settings and what its faxes are
// (fax.MailboxConfig), and the TLS settings of the connection (the
// server's certificate is always verified; tls.ca_file for a private CA).
type Mailbox struct {
	fax.MailboxConfig `yaml:",inline"`
	TLS               configtls.ClientConfig `yaml:"tls"`
}

// Resolved returns the mailbox's settings with what they take from the
// rest of the configuration: the HTTP client its OAuth 2.0 token requests
// go out with (through proxy, verifying the endpoint against oauth2.ca_file
// or the system's roots).
func (m Mailbox) Resolved(proxy configproxy.Config) (fax.MailboxConfig, error) {
	c := m.MailboxConfig
	if c.OAuth2 == nil {
		return c, nil
	}
	tc, err := configtls.ClientConfig{CAFile: c.OAuth2.CAFile}.LoadTLSConfig()
	if err != nil {
		return c, fmt.Errorf("oauth2: %w", err)
	}
	tr := &http.Transport{TLSClientConfig: tc}
	proxy.Apply(tr)
	c.HTTP = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return c, nil
}

// MLLP is one HL7 v2 listener. ReadTimeout is an inactivity limit inside a
// message: a sender that sends no byte for that long mid-message is
// disconnected, while a large message that keeps arriving (a PDF over a
// slow VPN) is not cut before FrameTimeout; it also bounds the TLS
// handshake and writing one ACK. IdleTimeout closes a connection on which
// no message starts for that long.
type MLLP struct {
	Name          string        `yaml:"name"`
	Listen        string        `yaml:"listen"`
	MaxFrameBytes int           `yaml:"max_frame_bytes"`
	ReadTimeout   time.Duration `yaml:"read_timeout"`
	IdleTimeout   time.Duration `yaml:"idle_timeout"`
	// FrameTimeout bounds one message from its first byte to its last,
	// however steadily it arrives, so that a sender trickling a byte just
	// within read_timeout cannot hold a connection forever. The default,
	// 10m, carries a 16 MiB message (max_frame_bytes' default) at 256
	// kbit/s: 16 MiB × 8 / 256 kbit/s ≈ 524 s. Raise it with
	// max_frame_bytes or for slower links.
	FrameTimeout time.Duration `yaml:"frame_timeout"`
	// MaxBufferedBytes bounds the memory all connections of the listener
	// may hold for messages larger than a connection's 64 KiB read buffer
	// (default 64 MiB, and never less than max_frame_bytes). A large
	// message that would go beyond it is answered AR ("send again later")
	// and its connection closed; ordinary messages never draw on it.
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes"`
	MaxConns         int   `yaml:"max_conns"`
	// MaxConnsPerIP bounds the connections one address may hold open
	// (default 32, loopback included), so that one host cannot take all
	// of max_conns. An IPv6 address counts on its own, not its /64,
	// which the senders of one clinic network share; a host with several
	// addresses is bounded by max_conns and allow.
	MaxConnsPerIP int `yaml:"max_conns_per_ip"`
	// Allow lists the senders that may connect: IPv4 or IPv6 addresses
	// and CIDR networks (10.1.2.0/24, fd00::/8). A connection from any
	// other address is closed before anything is read from it. Empty
	// admits everyone who can reach the port; `ferry config check` and
	// `ferry doctor` warn about that on a non-loopback address without
	// mutual TLS (tls.client_ca_file).
	Allow []string                `yaml:"allow"`
	TLS   *configtls.ServerConfig `yaml:"tls"`
	// CommitACK answers MLLP release 2 senders with the transport commit
	// acknowledgement (or NAK) before each HL7 ACK; release 1 senders
	// (most) must not get it.
	CommitACK bool `yaml:"commit_ack"`
	// AppAck makes the listener stand in for the application: a message
	// whose MSH-16 asks for an application acknowledgement gets one
	// (AA/AE/AR) after its accept acknowledgement, once it is stored or
	// quarantined. For senders that cannot be set to stop waiting for it;
	// off by default, since the exchange has not seen the message then.
	AppAck bool `yaml:"app_ack"`
	// ProcessingIDs lists the processing ids (MSH-11.1, HL7 table 0103:
	// P production, T training, D debugging) this listener accepts;
	// default [P]. A message with another id is not converted: it is
	// quarantined and answered AR with ERR-3 202 (unsupported processing
	// id), so that a test system pointed at the production gateway never
	// reaches the exchange. A gateway that forwards a test feed to a test
	// exchange lists [T] or [P, T]. An empty MSH-11 counts as P.
	ProcessingIDs []string `yaml:"processing_ids"`
	// SequenceNumbers is how the listener takes the HL7 sequence number
	// protocol (MSH-13, MSA-4) of the senders that use it: track (the
	// default) answers their link starts and resynchronisations, records
	// each stream's last number before the ACK and tells the sender the
	// next in MSA-4, and stores a message past the one expected (a gap)
	// with a warning; enforce refuses such a message (AR, MSA-4 the number
	// expected), as the protocol says, so that the sender sends the
	// missing ones first; off leaves MSH-13 alone. Messages without
	// MSH-13 are the same in every mode.
	SequenceNumbers string `yaml:"sequence_numbers"`
}

// AcceptedProcessingIDs is ProcessingIDs as a set (default P). It
// ignores values that are not table 0103 ids, which Validate reports.
func (m MLLP) AcceptedProcessingIDs() hl7v2.ProcessingIDs {
	var s hl7v2.ProcessingIDs
	for _, v := range m.ProcessingIDs {
		id, _ := hl7v2.ParseProcessingID(v)
		s |= id
	}
	if len(m.ProcessingIDs) == 0 {
		s = hl7v2.Production
	}
	return s
}

// Folder is one watched folder: an EHR export drop (kind ehr) or a fax
// inbox (kind fax or hylafax). The folder engine's settings (settle,
// rescan, after, ignore, markers, sidecars ...) are inline; patterns,
// xferfaxlog and time_zone apply to fax inboxes, csv to EHR drops.
type Folder struct {
	fax.Config `yaml:",inline"`
	// CSV maps the CSV files of an EHR drop (and the CSVs inside its ZIP
	// archives) to FHIR resources, one mapping per kind of file, matched
	// on the file's name; the first that matches reads the file. A CSV
	// no mapping matches is refused, as before. See csvfhir.Mapping.
	CSV []csvfhir.Mapping `yaml:"csv"`
	// SourceID is the IHE MHD sourceId (an OID) of the documents this
	// folder brings in, the SubmissionSet's ihe-sourceId, in place of
	// fax.source_id: MHD wants a broker such as ferry to use a different
	// sourceId for each source system, so a second fax service, or an
	// EHR's export folder, gets its own. In an ehr folder it applies to
	// the PDFs and TIFFs of XDM packages whose METADATA.XML gives no
	// valid sourceId of the sender's own (which always comes first).
	// Empty: fax.source_id. No identifier derives from it: setting it
	// later changes no document's ids at the exchange.
	SourceID string `yaml:"source_id"`
	// Fetch, when set, empties a remote SFTP directory into this folder
	// (adapters/fetch): a cloud EHR's exports, a fax service's outbound
	// directory. Nil: the folder is filled by others, as usual.
	Fetch *fetch.Config `yaml:"fetch"`
}

// FolderSourceIDs maps the name of each folder with a source_id of its
// own to it, for faxfhir.Converter.WithFolderSourceIDs.
func (c *Config) FolderSourceIDs() map[string]string {
	var m map[string]string
	add := func(name, id string) {
		if id == "" {
			return
		}
		if m == nil {
			m = map[string]string{}
		}
		m[name] = id
	}
	for _, f := range c.Sources.Folders {
		add(f.Name, f.SourceID)
	}
	for _, mb := range c.Sources.Mailboxes {
		add(mb.Name, mb.SourceID) // a mailbox's faxes carry its name as their folder
	}
	return m
}

// Exchange is the receiving health information exchange. With an empty
// URL, bundles go to the local outbox folder instead.
type Exchange struct {
	URL     string                 `yaml:"url"`
	Timeout time.Duration          `yaml:"timeout"`
	TLS     configtls.ClientConfig `yaml:"tls"`
	// Auth adds authentication beside (or, for SMART and UDAP, instead
	// of) the client certificate.
	Auth    ExchangeAuth `yaml:"auth"`
	Retry   Retry        `yaml:"retry"`
	Workers int          `yaml:"workers"`
	// Hold lists the security labels this exchange may not receive
	// without review (STANDARDS.md §7): bundles carrying one are kept in
	// <data_dir>/held, acknowledged to the sender, and audited, instead of
	// forwarded. Codes are v3-Confidentiality ("R" holds R and V),
	// v3-ActCode sensitivity ("HIV", "SUD", "PSY" ...) or policy
	// ("42CFRPart2"). Left out, with an exchange configured: DefaultHold,
	// so the duty holds out of the box. An explicit empty list (hold: [])
	// forwards everything.
	Hold []string `yaml:"hold"`
	// SFTP is the login to an exchange that takes bundles as files
	// (exchange.url sftp://user@host[:port]/dir): ferry's key and the
	// server's host key.
	SFTP sftpdrop.Options `yaml:"sftp"`
}

// MLLP reports whether the exchange takes HL7 v2 over MLLP in TLS
// (exchange.url mllps://host:port) rather than FHIR.
func (e Exchange) MLLP() bool { return hasScheme(e.URL, mllptls.Scheme) }

// hasScheme reports whether raw is a URL of scheme, written in any case
// (RFC 3986 §3.1: "An implementation should accept uppercase letters as
// equivalent to lowercase in scheme names"), as url.Parse, which
// Validate and the sinks read the URL with, takes it.
func hasScheme(raw, scheme string) bool {
	return len(raw) > len(scheme) && raw[len(scheme)] == ':' && strings.EqualFold(raw[:len(scheme)], scheme)
}

// TakesV2 reports whether the exchange takes HL7 v2 messages as they were
// received (mllps://, or an sftp:// exchange with sftp.format hl7v2)
// rather than FHIR.
func (e Exchange) TakesV2() bool {
	return e.MLLP() || e.FileDrop() && e.SFTP.Format == sftpdrop.FormatHL7v2
}

// FileDrop reports whether the exchange takes bundles as files over SFTP
// (exchange.url sftp://user@host/dir) rather than over HTTPS.
func (e Exchange) FileDrop() bool { return hasScheme(e.URL, sftpdrop.Scheme) }

// SFTPConfig is the sftpdrop sink's configuration.
func (e Exchange) SFTPConfig() sftpdrop.Config {
	return sftpdrop.Config{URL: e.URL, Options: e.SFTP, Timeout: e.Timeout}
}

// ExchangeAuth is how ferry proves itself to the exchange beyond TLS.
type ExchangeAuth struct {
	// SMART is SMART Backend Services (client_credentials with a
	// private_key_jwt assertion; a Bearer token on every request).
	SMART fhirhttp.SMARTConfig `yaml:"smart"`
	// UDAP is UDAP B2B client credentials (HL7 UDAP Security IG, as
	// TEFCA asks): signed metadata, dynamic registration with ferry's
	// community certificate, an hl7-b2b token request. One of SMART and
	// UDAP at most.
	UDAP fhirhttp.UDAPConfig `yaml:"udap"`
}

// Retry is the delivery backoff policy.
type Retry struct {
	InitialInterval time.Duration `yaml:"initial_interval"`
	MaxInterval     time.Duration `yaml:"max_interval"`
	// MaxAge dead-letters a bundle that has kept failing with retryable
	// errors (5xx, timeouts) for this long while the exchange accepted
	// other bundles (default 72h). Its clock runs only while other
	// bundles are delivered, so an outage of the exchange, a long weekend
	// or longer, dead-letters nothing; what it ends is one bundle the
	// exchange cannot take, which otherwise holds back that patient's
	// later bundles until someone notices. Three days leave the exchange's
	// staff a working day or two to fix their side first. Set a larger
	// value to wait longer.
	MaxAge time.Duration `yaml:"max_age"`
	// UnknownOutcomeDelay is the least wait before re-sending a bundle
	// whose attempt ended without an answer (a timeout, a reset
	// connection): the exchange may still be committing it, and an early
	// re-send could apply it twice. Default: exchange.timeout.
	UnknownOutcomeDelay time.Duration `yaml:"unknown_outcome_delay"`
}

// DefaultMaxAge is exchange.retry.max_age when it is not set.
const DefaultMaxAge = 72 * time.Hour

// Queue sizes the durable buffer. Put beyond either limit fails, and the
// sources keep the input where it is: MLLP answers AR so the sender
// resends later, a drop folder's file stays for the next scan.
type Queue struct {
	// MaxBytes caps what the waiting bundles take on disk (default 10 GiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxItems caps how many bundles may wait (default 1,000,000). The
	// queue keeps about 195 bytes of index in memory per waiting bundle
	// (BENCHMARKS.md, HeapPerItem), so this is what bounds the heap
	// during a long outage: 1,000,000 × 195 B ≈ 195 MB, plus ≈ 66 MB for
	// the duplicate filter's 1,000,000 keys (66 B each), which fits a
	// small clinic PC. MaxBytes alone would not: 10 GiB of 3.4 KB ADT
	// bundles is about 3 million items, ≈ 600 MB of index.
	MaxItems int `yaml:"max_items"`
}

// Defaults of an MLLP listener's limits (see MLLP).
const (
	DefaultMaxConnsPerIP = 32
	DefaultFrameTimeout  = 10 * time.Minute
	// DefaultMaxBufferedBytes is sources.mllp[].max_buffered_bytes' default:
	// four messages of max_frame_bytes' default size at once.
	DefaultMaxBufferedBytes = 64 << 20
)

// DefaultQueueMaxItems is queue.max_items when the file does not set it.
const DefaultQueueMaxItems = 1_000_000

// Identifiers maps HL7 v2 assigning authorities (CX.4 namespace ids) to
// FHIR identifier system URIs.
type Identifiers struct {
	Systems map[string]string `yaml:"systems"`
	// Base prefixes the systems ferry mints for identifiers whose
	// authority has no known system. Empty means urn:ferry:site:<uuid>,
	// from the site id the gateway creates once under data_dir
	// (IdentifierBase): a fixed base shared by every installation would
	// let two clinics' "MRN 123" merge into one patient at the exchange.
	// Set it only to a URI this site controls, never to one another
	// site uses.
	Base string `yaml:"base"`
}

// HL7v2 tunes the HL7 v2 → FHIR conversion.
type HL7v2 struct {
	// TimeZone is the IANA zone of v2 times written without an offset
	// (empty: the gateway's local zone).
	TimeZone string `yaml:"time_zone"`
	// PatientFromADTOnly writes the Patient and the Encounter only from
	// ADT messages; other messages (ORU, ORM, VXU ...) refer to them by
	// their ids. Every write replaces the whole resource at the exchange,
	// so a lab's sparse PID would otherwise blank the address an ADT feed
	// sent, and an order's PV1 the visit's status and location. Use it
	// when the same gateway carries the site's ADT feed. (With writes:
	// conditional an order's or result's visit is a conditional create
	// whatever this says.)
	PatientFromADTOnly bool `yaml:"patient_from_adt_only"`
	// Writes says how bundle entries land at the exchange so that a
	// re-sent message changes nothing there (default patient-conditional):
	//   - patient-conditional: the Patient is a conditional update,
	//     PUT Patient?identifier=<system>|<MRN>, and everything refers to
	//     it by urn:uuid, so the exchange's own record of the patient (under
	//     whatever id it gave it) is found and updated, or created once;
	//     other resources are PUT Type/<deterministic id>. Bundles are cut
	//     into transactions of at most 8 entries, Medplum's limit for
	//     transactions that may create conditionally, each repeating the
	//     Patient entry. With patient_from_adt_only, non-ADT messages write
	//     the Patient as a conditional create (only if absent). C-CDA
	//     documents then write their Patient the same way, so a patient
	//     that arrives by either path lands on one record.
	//   - ids: every resource is PUT Type/<deterministic id> (UUIDv5 of its
	//     identifier); up to 50 entries per transaction. A patient the
	//     exchange already holds under its own id gets a second record, and
	//     an exchange that refuses client-assigned ids refuses everything.
	//   - conditional: every resource with an identifier is PUT
	//     Type?identifier=... with no id (MessageHeader, Binary and
	//     Provenance keep their ids). A bundle of more than 8 entries
	//     (Medplum refuses more when one creates) is sent after parts of
	//     at most 8 that create, by identifier, what the exchange lacks,
	//     so that none of its conditional writes creates (see README).
	//   With ids and conditional, C-CDA documents keep PUT Type/<id>.
	Writes string `yaml:"writes"`
	// MaxEntries is the most entries one transaction may hold; a longer
	// message or document is cut into several, in order (0: the write
	// mode's default, 8 with patient-conditional and conditional, and
	// 50 with ids). The defaults suit Medplum-based exchanges;
	// with an exchange that takes larger transactions that may create
	// conditionally (HAPI, for one), a higher value keeps every message
	// one all-or-nothing transaction and saves requests.
	MaxEntries int `yaml:"max_entries"`
	// ZSegmentExtension copies each Z-segment's text into an extension on
	// the MessageHeader (the whole message always travels in the Binary).
	ZSegmentExtension bool `yaml:"z_segment_extension"`
}

// Location returns the time zone for v2 times without an offset.
func (h HL7v2) Location() *time.Location {
	if h.TimeZone == "" {
		return time.Local
	}
	if l, err := time.LoadLocation(h.TimeZone); err == nil {
		return l
	}
	return time.Local
}

// Status is the read-only local status page.
type Status struct {
	Listen string `yaml:"listen"`
	// AllowedHosts lists further names the page may be asked for in the
	// HTTP Host header ("ferry.clinic.lan", or with a port), e.g. a name
	// the hosts file maps to loopback or a reverse proxy's: one without a
	// port is taken on the listener's port, 80 and 443 (ops.HostGuard),
	// one with a port with that port only. The listener's own address,
	// loopback addresses and localhost are always accepted; any other
	// Host is refused, so that a web page cannot read the page through
	// DNS rebinding.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Default returns the embedded default configuration.
func Default() *Config {
	c, err := Parse("default.yaml", DefaultYAML)
	if err != nil {
		panic(fmt.Sprintf("embedded default config is invalid: %v", err))
	}
	return c
}

// Load reads, parses and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, b)
}

// Parse decodes YAML strictly, applies defaults and validates. The error,
// if any, is a *Error listing every problem.
func Parse(name string, b []byte) (*Config, error) {
	// yaml.v3 would decode UTF-16 and skip a byte-order mark itself, but
	// the lines of the problems are found in b: it is made the UTF-8 text
	// the file holds first, as Notepad and PowerShell 5 may have saved it.
	b, err := configtext.UTF8(b)
	if err != nil {
		return nil, &Error{File: name, err: err, Problems: []Problem{{Msg: "the file starts with a UTF-16 byte-order mark but does not decode as UTF-16 " +
			"(cut short, or its first bytes are not a mark): save it again as UTF-8"}}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Problems: []Problem{syntaxProblem(escapeProblem(tabProblem(yamlProblem(err), b)), b)}}
	}
	if probs := extraDocuments(dec, b); len(probs) > 0 {
		return nil, &Error{File: name, Problems: probs}
	}
	if emptyDocument(&root) {
		// Not the defaults: with no source, the data under the working
		// folder and no exchange, the gateway would run and take
		// nothing. Such a file is the wrong one, or one emptied by a
		// failed copy or edit; "{}" asks for the defaults.
		return nil, &Error{File: name, Problems: []Problem{{Msg: "the file sets nothing (it is empty or holds only comments): " +
			"is it the right file? Write the configuration into it (ferry init writes one); " +
			"ferry run without --config runs the embedded default"}}}
	}
	c := &Config{}
	// decodeProbs are the unknown and mistyped keys. They do not stop the
	// check: yaml.v3 decodes everything else (a mistyped value stays
	// zero), so the file is decoded again without KnownFields and
	// validated too, and one `ferry config check` lists every problem
	// instead of one round per kind.
	decodeProbs := escapedValues(&root, b)
	if root.Kind != 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, &Error{File: name, Problems: []Problem{yamlProblem(err)}}
			}
			for _, s := range te.Errors {
				p := yamlProblem(errors.New(s))
				p.Path = pathAtLine(&root, p.Line, p.Msg)
				if !underProblem(decodeProbs, p.Path) {
					decodeProbs = append(decodeProbs, p)
				}
			}
			c = &Config{}
			err := yaml.NewDecoder(bytes.NewReader(b)).Decode(c)
			if err != nil && !errors.As(err, &te) {
				return nil, &Error{File: name, Problems: decodeProbs}
			}
		}
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil || len(decodeProbs) > 0 {
		e := &Error{File: name, Problems: decodeProbs}
		if err != nil {
			for _, p := range err.(*Error).Problems {
				if p.Line == 0 {
					p.Line = lineOf(&root, p.Path)
				}
				// A mistyped value decoded as zero: its own problem is
				// the type, not what Validate makes of the zero.
				if !underProblem(decodeProbs, p.Path) {
					e.Problems = append(e.Problems, p)
				}
			}
		}
		return nil, e
	}
	c.source = name
	c.keyFileLine = lineOf(&root, "encryption.key_file")
	c.root = &root
	return c, nil
}

// underProblem reports whether path is one of the decode problems' paths or
// lies under one.
func underProblem(decodeProbs []Problem, path string) bool {
	for _, d := range decodeProbs {
		if d.Path != "" && (path == d.Path || strings.HasPrefix(path, d.Path+".") || strings.HasPrefix(path, d.Path+"[")) {
			return true
		}
	}
	return false
}

// extraDocuments reads the documents after the first and reports each one
// that holds anything. yaml.v3 decodes only the first document, so without
// this a second one (a pasted snippet after "---", two files concatenated)
// would be ignored without a word, its settings silently not applied. A
// document with nothing in it (a trailing "---", comments only) is harmless
// and tolerated.
func extraDocuments(dec *yaml.Decoder, b []byte) []Problem {
	var ps []Problem
	for n := 2; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return ps
		}
		if err != nil {
			return append(ps, escapeProblem(tabProblem(yamlProblem(err), b)))
		}
		if emptyDocument(&doc) {
			continue
		}
		ps = append(ps, Problem{Line: doc.Line, Msg: fmt.Sprintf(
			"YAML document %d starts here; a configuration file holds one document (merge its settings into the first or remove it)", n)})
	}
}

// emptyDocument reports whether doc has no content: no node, or only the
// implicit null of a bare "---". An explicit "~" or "null" counts as content.
func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	v := doc.Content[0]
	return len(doc.Content) == 1 && v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == ""
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	Path string // dotted field path, e.g. sources.mllp[0].listen
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one configuration file.
type Error struct {
	File     string
	Problems []Problem

	err error // the cause, when one error made the only problem
}

// Unwrap gives the cause of a single-problem error (LoadKey's), if any.
func (e *Error) Unwrap() error { return e.err }

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if e.File == "" {
			lines = append(lines, p.String())
			continue
		}
		lines = append(lines, e.File+": "+p.String())
	}
	return strings.Join(lines, "\n")
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlProblem turns a yaml.v3 message ("line 7: field htttp not found in
// type config.MLLP") into a Problem with the line split out and Go type
// names replaced by plain words.
func yamlProblem(err error) Problem {
	msg := err.Error()
	p := Problem{Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	} else {
		p.Msg = strings.TrimPrefix(msg, "yaml: ") // an error on line 1 has no line
	}
	if i := strings.Index(p.Msg, " not found in type "); i > 0 && strings.HasPrefix(p.Msg, "field ") {
		p.Msg = "unknown key " + strconv.Quote(strings.TrimPrefix(p.Msg[:i], "field "))
	}
	p.Msg = strings.ReplaceAll(p.Msg, "time.Duration", "duration (like 30s)")
	return p
}

// tabProblem rewrites yaml.v3's scanner error for a tab in a line's
// indentation ("found character that cannot start any token", or "found a
// tab character that violates indentation") to say so. A tab is invisible
// in an editor, and yaml.v3 gives the line before the tab's at times (the
// last line with content before it, when blank lines come between), or no
// line at all on line 1: the line given and those after it up to the next
// with content are searched for the tab, in their indentation or after a
// list item's "-" (which yaml.v3 does not take either), and the problem is
// put on its line.
func tabProblem(p Problem, b []byte) Problem {
	if p.Msg != "found character that cannot start any token" && p.Msg != "found a tab character that violates indentation" {
		return p
	}
	lines := strings.Split(string(b), "\n")
	from := max(p.Line, 1)
	for n := from; n <= len(lines); n++ {
		indent := lines[n-1][:len(lines[n-1])-len(strings.TrimLeft(lines[n-1], " \t-"))]
		if strings.Contains(indent, "\t") {
			return Problem{Line: n, Msg: "a tab indents this line; YAML indents with spaces only: replace the tab with spaces"}
		}
		if n > from && strings.TrimSpace(lines[n-1]) != "" {
			break
		}
	}
	return p
}

// syntaxProblem puts a YAML syntax error on the line that is wrong, and
// says to check the indentation where that is what such an error means.
// yaml.v3 gives the line where the block around the error began (or the one
// before it: "line 2: did not find expected key" for a key indented one
// space too few on line 6). The parser reads the file in order and fails at
// the first token it cannot take, so every part of the file that reaches
// that token fails the same way, and the part that stops one line short of
// it does not: the last line of the shortest such part is the wrong one.
func syntaxProblem(p Problem, b []byte) Problem {
	if p.Line == 0 || strings.HasPrefix(p.Msg, "a tab indents") || strings.HasPrefix(p.Msg, "an unknown backslash escape") {
		return p
	}
	lines := strings.SplitAfter(string(b), "\n")
	fails := func(n int) bool {
		var doc yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(lines[:n], "")), &doc)
		return err != nil && yamlProblem(err).Msg == p.Msg
	}
	if n := len(lines); fails(n) {
		for n > 1 && fails(n-1) {
			n--
		}
		p.Line = n
	}
	switch p.Msg {
	case "did not find expected key", "did not find expected '-' indicator":
		p.Msg += ": check the indentation of this line: the keys of one block start in the same column, and a list's items under one another"
	case "mapping values are not allowed in this context":
		p.Msg += ": check the indentation of this line (a key indented deeper than the one before it), " +
			"or quote a value that holds \": \""
	}
	return p
}

// backslashHow says how to write a Windows path in YAML.
const backslashHow = "in double quotes a backslash starts an escape (\\t, \\n, \\f, \\P), so a Windows path written so is not the path it shows: " +
	"write it in single quotes ('C:\\ProgramData\\ferry', '\\\\server\\share'), without quotes, or with forward slashes"

// escapeProblem rewrites yaml.v3's error for a backslash escape YAML does
// not know ("D:\ferry\data": \d), which a Windows path in double quotes
// makes, to say so, and gives it a line when yaml.v3 gave none (line 1).
func escapeProblem(p Problem) Problem {
	if p.Msg != "found unknown escape character" {
		return p
	}
	if p.Line == 0 {
		p.Line = 1
	}
	return Problem{Line: p.Line, Msg: "an unknown backslash escape in a double-quoted value: " + backslashHow}
}

// escapedValues finds double-quoted values that begin as a Windows path
// does (a drive letter, or the backslash left of a UNC path's two) and
// were written, in src, with a backslash escape other than \\: it made a
// character of one of the path's backslashes and what follows it
// ("C:\ProgramData\ferry" is C:, U+2029, "rogramData", a form feed and
// "erry"; "\\server\new" a new line; "D:\_archive" a no-break space;
// "C:\xfer" a þ), so the value is not the path that was meant. Where the
// value cannot be found in src, one holding a control character, a next
// line (U+0085) or a line or paragraph separator (U+2028, U+2029), which
// Windows takes in no name, is reported.
func escapedValues(root *yaml.Node, src []byte) []Problem {
	var ps []Problem
	lines := strings.Split(string(src), "\n")
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.ScalarNode:
			if n.Style&yaml.DoubleQuotedStyle == 0 || !windowsPathLike(n.Value) {
				return
			}
			// The escape or the character is named, not the value: it
			// may be a secret (proxy.url's password).
			if esc := quotedEscape(lines, n.Line, n.Column); esc != "" {
				ps = append(ps, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("%s in the value is a YAML escape, not a backslash of the path; %s", esc, backslashHow)})
			} else if i := strings.IndexFunc(n.Value, func(r rune) bool {
				return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
			}); i >= 0 {
				r, _ := utf8.DecodeRuneInString(n.Value[i:])
				ps = append(ps, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("the value holds %U, which a backslash escape made; %s", r, backslashHow)})
			}
		}
	}
	walk(root, "")
	return ps
}

// quotedEscape returns the first backslash escape other than \\ (and an
// escaped line break) in the double-quoted scalar whose opening quote is
// at line and column (1-based, the column in characters, as yaml.v3 gives
// them) of lines, or "" when there is none or no quote is there.
func quotedEscape(lines []string, line, column int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	r := []rune(strings.TrimSuffix(lines[line-1], "\r"))
	i := column - 1
	if i < 0 || i >= len(r) || r[i] != '"' {
		return ""
	}
	for i++; ; i++ {
		if i >= len(r) {
			if line++; line > len(lines) {
				return ""
			}
			r, i = []rune(strings.TrimSuffix(lines[line-1], "\r")), 0
			if len(r) == 0 {
				continue
			}
		}
		switch {
		case r[i] == '"':
			return ""
		case r[i] != '\\':
		case i+1 >= len(r):
			// An escaped line break: the value goes on on the next line.
		case r[i+1] == '\\':
			i++
		default:
			return string(r[i : i+2])
		}
	}
}

// windowsPathLike reports whether v begins as a Windows path does once
// YAML read its double quotes: a drive letter and colon, or a backslash.
func windowsPathLike(v string) bool {
	if strings.HasPrefix(v, `\`) {
		return true
	}
	return len(v) >= 2 && v[1] == ':' && ('a' <= v[0]|0x20 && v[0]|0x20 <= 'z')
}

// DefaultHold is exchange.hold when the file does not say: restricted
// and very restricted content (R also holds V) and 42 CFR Part 2 records
// wait for review instead of leaving for the exchange (STANDARDS.md §7,
// a MUST).
var DefaultHold = []string{"R", "V", "42CFRPart2"}

func (c *Config) applyDefaults() {
	if c.Exchange.URL != "" && c.Exchange.Hold == nil {
		c.Exchange.Hold = slices.Clone(DefaultHold)
	}
	if c.DataDir == "" {
		c.DataDir = "./ferry-data"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.MaxSizeMB == 0 {
		c.Log.MaxSizeMB = 50
	}
	if c.Log.MaxFiles == 0 {
		c.Log.MaxFiles = 10
	}
	for i := range c.Sources.MLLP {
		m := &c.Sources.MLLP[i]
		if m.Name == "" {
			m.Name = "mllp" + strconv.Itoa(i)
		}
		if m.MaxFrameBytes == 0 {
			m.MaxFrameBytes = 16 << 20
		}
		if m.ReadTimeout == 0 {
			m.ReadTimeout = 30 * time.Second
		}
		if m.IdleTimeout == 0 {
			m.IdleTimeout = 10 * time.Minute
		}
		if m.MaxConns == 0 {
			m.MaxConns = 256
		}
		if m.MaxConnsPerIP == 0 {
			m.MaxConnsPerIP = DefaultMaxConnsPerIP
		}
		if m.FrameTimeout == 0 {
			m.FrameTimeout = DefaultFrameTimeout
		}
		if m.MaxBufferedBytes == 0 {
			m.MaxBufferedBytes = max(DefaultMaxBufferedBytes, int64(m.MaxFrameBytes))
		}
		if len(m.ProcessingIDs) == 0 {
			m.ProcessingIDs = []string{"P"}
		}
		if m.SequenceNumbers == "" {
			m.SequenceNumbers = "track"
		}
	}
	for i := range c.Sources.Mailboxes {
		m := &c.Sources.Mailboxes[i]
		if m.Name == "" {
			m.Name = "mailbox" + strconv.Itoa(i)
		}
	}
	for i := range c.Sources.Folders {
		f := &c.Sources.Folders[i]
		if f.Name == "" {
			f.Name = "folder" + strconv.Itoa(i)
		}
		if f.Kind == "" {
			f.Kind = "ehr"
		}
	}
	if c.HL7v2.Writes == "" {
		c.HL7v2.Writes = "patient-conditional"
	}
	if c.Exchange.Timeout == 0 {
		c.Exchange.Timeout = 30 * time.Second
	}
	if c.Exchange.Retry.InitialInterval == 0 {
		c.Exchange.Retry.InitialInterval = time.Second
	}
	if c.Exchange.Retry.MaxInterval == 0 {
		c.Exchange.Retry.MaxInterval = 5 * time.Minute
	}
	if c.Exchange.Retry.MaxAge == 0 {
		c.Exchange.Retry.MaxAge = DefaultMaxAge
	}
	if c.Exchange.Retry.UnknownOutcomeDelay == 0 && c.Exchange.Timeout > 0 {
		// A negative timeout is exchange.timeout's problem, not this
		// key's, which the file may not set.
		c.Exchange.Retry.UnknownOutcomeDelay = c.Exchange.Timeout
	}
	if c.Exchange.Workers == 0 {
		c.Exchange.Workers = 4
	}
	if c.Retention.Done == 0 {
		c.Retention.Done = 30 * 24 * time.Hour
	}
	if c.Queue.MaxBytes == 0 {
		c.Queue.MaxBytes = 10 << 30
	}
	if c.Queue.MaxItems == 0 {
		c.Queue.MaxItems = DefaultQueueMaxItems
	}
}

// UDAPRegistrationFile is where the client id ferry's UDAP registration
// got is kept, so that a restart does not register again.
func (c *Config) UDAPRegistrationFile() string { return c.Path("udap", "client.json") }

// Path returns p relative to the data directory unless it is absolute.
func (c *Config) Path(p ...string) string {
	return filepath.Join(append([]string{c.DataDir}, p...)...)
}
