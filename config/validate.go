package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters/convert/csvfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/fax"
	"github.com/ferry-health/ferry/adapters/fetch"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/transport/fhirhttp"
	"github.com/ferry-health/ferry/transport/mllptls"
	"github.com/ferry-health/ferry/transport/sftpdrop"
)

// Validate checks every field offline (no connections, no file opens beyond
// what TLS validation needs to name a missing file). Parse runs it on every
// file it loads; it is exported so that code which changes a configuration
// after loading (a test, a command-line override, `ferry init`) can check
// the result the same way. It does not apply defaults: start from Default
// or a loaded Config. The error is a *Error listing every problem, each
// named by its field path (exchange.tls.cert_file); lines are known only
// to Parse, which fills them in.
func (c *Config) Validate() error {
	probs := c.problems()
	if len(probs) == 0 {
		return nil
	}
	return &Error{File: c.source, Problems: probs}
}

// problems returns every problem Validate reports.
func (c *Config) problems() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	addErr := func(path string, err error) {
		if err == nil {
			return
		}
		for _, e := range flatten(err) {
			msg := e.Error()
			// Component validators name their own field first ("cert_file: ...");
			// fold that into the path so every message has one form.
			if i := strings.Index(msg, ": "); i > 0 && isKey(msg[:i]) {
				ps = append(ps, Problem{Path: path + "." + msg[:i], Msg: msg[i+2:]})
				continue
			}
			ps = append(ps, Problem{Path: path, Msg: msg})
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level)
	}
	if c.Log.File != "" {
		if fi, err := os.Stat(c.Log.File); err == nil && fi.IsDir() {
			add("log.file", "%q is a folder; name the log file in it, e.g. %s", c.Log.File, filepath.Join(c.Log.File, "ferry.log"))
		}
	}
	if c.Log.MaxSizeMB < 1 || c.Log.MaxSizeMB > 10240 {
		add("log.max_size_mb", "must be between 1 and 10240; got %d", c.Log.MaxSizeMB)
	}
	if c.Log.MaxFiles < 1 || c.Log.MaxFiles > 1000 {
		add("log.max_files", "must be between 1 and 1000; got %d", c.Log.MaxFiles)
	}

	names := map[string]string{}
	unique := func(path, name string) {
		if prev, ok := names[name]; ok {
			add(path+".name", "%q is already used by %s", name, prev)
			return
		}
		names[name] = path
	}
	type listener struct{ addr, path string }
	var listens []listener
	// usedBy names the listener before that binds the socket addr would:
	// one spelled the same, or the same port on a wildcard address or on
	// localhost and 127.0.0.1 (the second bind fails at start).
	usedBy := func(addr string) string {
		for _, l := range listens {
			if sameSocket(l.addr, addr) {
				if l.addr == addr {
					return l.path
				}
				return fmt.Sprintf("%s (%s)", l.path, l.addr)
			}
		}
		return ""
	}
	for i, m := range c.Sources.MLLP {
		p := fmt.Sprintf("sources.mllp[%d]", i)
		unique(p, m.Name)
		if _, port, err := net.SplitHostPort(m.Listen); err != nil {
			add(p+".listen", "want host:port, got %q", m.Listen)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add(p+".listen", "port %q is not a number from 0 to 65535", port)
		} else if prev := usedBy(m.Listen); prev != "" && n != 0 {
			add(p+".listen", "%s is already used by %s", m.Listen, prev)
		} else {
			listens = append(listens, listener{m.Listen, p})
		}
		for j, a := range m.Allow {
			if _, err := ParseAllow(a); err != nil {
				add(fmt.Sprintf("%s.allow[%d]", p, j), "%v", err)
			}
		}
		if m.MaxFrameBytes < 1024 || m.MaxFrameBytes > 1<<30 {
			add(p+".max_frame_bytes", "must be from 1024 to 1073741824, got %d", m.MaxFrameBytes)
		}
		if m.ReadTimeout < 0 {
			add(p+".read_timeout", "must not be negative")
		}
		if m.IdleTimeout < 0 {
			add(p+".idle_timeout", "must not be negative")
		}
		if m.MaxConns < 1 {
			add(p+".max_conns", "must be at least 1")
		}
		if m.MaxConnsPerIP < 1 {
			add(p+".max_conns_per_ip", "must be at least 1")
		}
		if m.FrameTimeout < 0 {
			add(p+".frame_timeout", "must not be negative")
		}
		if m.MaxBufferedBytes < int64(m.MaxFrameBytes) {
			add(p+".max_buffered_bytes", "must be at least max_frame_bytes (%d), else a message of that size could never be read; got %d", m.MaxFrameBytes, m.MaxBufferedBytes)
		}
		if m.TLS != nil {
			addErr(p+".tls", m.TLS.Validate())
		}
		switch m.SequenceNumbers {
		case "track", "enforce", "off":
		default:
			add(p+".sequence_numbers", "must be track, enforce or off; got %q", m.SequenceNumbers)
		}
		for j, v := range m.ProcessingIDs {
			if _, err := hl7v2.ParseProcessingID(v); err != nil {
				add(fmt.Sprintf("%s.processing_ids[%d]", p, j), "%v", err)
			}
		}
	}
	// faxes counts the fax inboxes that file under fax.source_id, those
	// without a source_id of their own.
	faxes, ownSource, ehrs := 0, 0, 0
	works := map[string]int{}   // work folder → index of the folder using it
	fetches := map[string]int{} // remote directory → index of the folder fetching it
	for i := range c.Sources.Folders {
		f := &c.Sources.Folders[i]
		p := fmt.Sprintf("sources.folders[%d]", i)
		unique(p, f.Name)
		if f.Path != "" {
			// Two folders sharing a work folder would take each other's
			// claimed files (two HylaFAX spools' recvqs in one parent).
			if wp, err := f.Config.Config.ResolvePaths(); err == nil {
				if j, ok := works[folderKey(wp.Work)]; ok {
					add(p+".work_dir", "%s is also the work folder of sources.folders[%d]; give each folder its own", wp.Work, j)
				} else {
					works[folderKey(wp.Work)] = i
				}
			}
		}
		if f.SourceID != "" {
			if !validSourceID(f.SourceID) {
				add(p+".source_id", "%q is not an OID (digits and dots, at most 64 characters, bare or urn:oid:)", f.SourceID)
			}
		}
		switch f.Kind {
		case "fax", "hylafax":
			if f.SourceID == "" {
				faxes++
			} else {
				ownSource++
			}
			addErr(p, f.Config.Validate())
			if len(f.CSV) > 0 {
				add(p+".csv", "CSV mappings are for EHR export drops (kind ehr), not a %s inbox", f.Kind)
			}
		default:
			ehrs++
			addErr(p, f.Config.Config.Validate())
			if len(f.Lines) > 0 {
				add(p+".lines", "fax lines are for fax inboxes (kind fax or hylafax); this folder is kind %s", f.Kind)
			}
			// The other keys of a fax inbox, which this kind reads
			// none of: taken, they would be ignored unsaid.
			if len(f.Patterns) > 0 {
				add(p+".patterns", "are for fax inboxes (kind fax or hylafax), whose file names name the patient; this folder is kind %s", f.Kind)
			}
			if f.TimeZone != "" {
				add(p+".time_zone", "is for fax inboxes (kind fax or hylafax); this folder is kind %s, whose HL7 v2 times take hl7v2.time_zone and CSV times their mapping's time_zone", f.Kind)
			}
			if f.XferFaxLog != "" {
				add(p+".xferfaxlog", "is for fax inboxes (kind fax or hylafax), HylaFAX's receive log; this folder is kind %s", f.Kind)
			}
			ps = append(ps, csvProblems(p, f.CSV)...)
		}
		if f.Fetch != nil {
			addErr(p+".fetch", f.Fetch.Validate())
			// Two folders emptying one directory would race for its
			// files: both download one, and one's move fails.
			if t, err := configssh.ParseURL(f.Fetch.URL); err == nil {
				at := t.User + "@" + strings.ToLower(t.Addr) + ":" + path.Clean(t.Dir)
				if j, ok := fetches[at]; ok {
					add(p+".fetch.url", "sources.folders[%d] fetches the same directory; fetch it into one folder", j)
				} else {
					fetches[at] = i
				}
			}
			if f.Kind == "hylafax" {
				add(p+".fetch", "a HylaFAX recvq is filled by HylaFAX itself; fetch into a kind fax or ehr folder")
			} else if f.takesDownloads() {
				add(p+".ignore", "the folder would take the files fetch is still downloading (%s*, half written); keep \".*\" in the list, as the default has it, or add %q", fetch.TempPrefix, fetch.TempPrefix+"*")
			}
		}
	}
	for i, m := range c.Sources.Mailboxes {
		p := fmt.Sprintf("sources.mailboxes[%d]", i)
		unique(p, m.Name)
		addErr(p, m.MailboxConfig.Validate())
		addErr(p+".tls", m.TLS.Validate())
		if m.TLS.CertFile != "" {
			add(p+".tls.cert_file", "an IMAP server takes a password, not a client certificate; leave cert_file and key_file out")
		}
		switch {
		case m.SourceID == "":
			faxes++
		case !validSourceID(m.SourceID):
			add(p+".source_id", "%q is not an OID (digits and dots, at most 64 characters, bare or urn:oid:)", m.SourceID)
		default:
			ownSource++
		}
	}
	switch {
	case faxes > 0:
		addErr("fax", c.Fax.Validate())
	case ehrs > 0 || ownSource > 0:
		// The PDFs and TIFFs of XDM packages dropped into an ehr folder
		// are filed under the fax section's settings too, so a mistake in
		// it is one here as well, as it is for fax inboxes that all name
		// their own source_id. Its source_id may be left out: as
		// without a fax section at all, the gateway then derives one
		// from the host name.
		f := c.Fax
		if f.SourceID == "" {
			f.SourceID = "2.25"
		}
		addErr("fax", f.Validate())
	}

	if c.Exchange.URL != "" {
		u, err := url.Parse(c.Exchange.URL)
		switch {
		case strings.IndexFunc(c.Exchange.URL, unicode.IsSpace) >= 0:
			// Quoted with a blank pasted at an end, it parses, and the
			// URL printed looks right.
			add("exchange.url", "holds white space (a blank at its start or end?), which no URL has; remove it")
		case err != nil:
			// url.Error repeats the whole URL, password included.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			add("exchange.url", "not a URL: %v", err)
		case u.Scheme == sftpdrop.Scheme:
			addErr("exchange", c.Exchange.SFTPConfig().Validate())
		case u.User != nil:
			// The gateway refuses it at start (fhirhttp, mllptls), and
			// the check must not print it back in its "ok" line.
			add("exchange.url", "must not contain credentials (user:password@): ferry proves who it is with its client certificate (exchange.tls) or exchange.auth")
		case u.Port() != "" && !tcpPort(u.Port()):
			// url.Parse takes any digits; the dial of every delivery
			// would fail ("invalid port").
			add("exchange.url", "port %q is not a number from 1 to 65535", u.Port())
		case u.Scheme == mllptls.Scheme:
			if _, err := mllptls.HostPort(c.Exchange.URL); err != nil {
				add("exchange.url", "%v", err)
			}
		case u.Scheme != "https":
			add("exchange.url", "must be https (a FHIR base), mllps://host:port (HL7 v2 over MLLP in TLS) or sftp://user@host/dir (bundles as files over SFTP): PHI never travels in clear text; got %q", u.Scheme)
		case u.Host == "":
			add("exchange.url", "has no host")
		case u.RawQuery != "" || u.ForceQuery:
			// The FHIR base: ferry adds /<type> (a create) and
			// /.well-known/... (SMART, UDAP discovery), which would
			// land in the query. It is not quoted: it may hold a key.
			add("exchange.url", "has a query (?...); give the FHIR base alone, https://host/path")
		case u.Fragment != "":
			add("exchange.url", "has a fragment (#...); give the FHIR base alone, https://host/path")
		}
		// ferry authenticates to the exchange with its client
		// certificate (mutual TLS), or with SMART Backend Services or
		// UDAP, or both: one of them is required.
		smart, udap := c.Exchange.Auth.SMART, c.Exchange.Auth.UDAP
		switch {
		case c.Exchange.FileDrop():
			// SSH authenticates both ends (exchange.sftp); there is no
			// TLS and no token.
			if smart.Enabled() || udap.Enabled() {
				add("exchange.auth", "SMART and UDAP are for a FHIR exchange (https://), not SFTP")
			}
			if t := c.Exchange.TLS; t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" {
				add("exchange.tls", "an sftp:// exchange does not use TLS: SSH authenticates both ends (exchange.sftp.key_file, exchange.sftp.known_hosts)")
			}
		case smart.Enabled() && c.Exchange.MLLP():
			add("exchange.auth.smart", "SMART Backend Services is for a FHIR exchange (https://), not MLLP")
		case udap.Enabled() && c.Exchange.MLLP():
			add("exchange.auth.udap", "UDAP is for a FHIR exchange (https://), not MLLP")
		case smart.Enabled() && udap.Enabled():
			add("exchange.auth", "configure smart or udap, not both: each gets the access token sent with every request")
		case smart.Enabled():
			addErr("exchange.tls", c.Exchange.TLS.Validate())
			addErr("exchange.auth.smart", smart.Validate())
		case udap.Enabled():
			addErr("exchange.tls", c.Exchange.TLS.Validate())
			addErr("exchange.auth.udap", udap.Validate())
			// A certificate without a URI cannot be registered; say so
			// now rather than at the first delivery. A file not there
			// yet is for `ferry doctor` to report.
			if udap.CertFile != "" {
				if _, err := os.Stat(udap.CertFile); err == nil {
					if _, err := fhirhttp.CheckUDAPCertificate(udap.CertFile); err != nil {
						add("exchange.auth.udap.cert_file", "%v", err)
					}
				}
			}
		default:
			addErr("exchange.tls", c.Exchange.TLS.ValidateMutual())
		}
	}
	if s := c.Exchange.SFTP; !c.Exchange.FileDrop() && (s.KeyFile != "" || s.KnownHosts != "" || s.Format != "") {
		add("exchange.sftp", "is for an sftp:// exchange.url; this exchange is %q", c.Exchange.URL)
	}
	if c.Exchange.Timeout <= 0 {
		add("exchange.timeout", "must be positive")
	}
	if c.Exchange.Retry.InitialInterval <= 0 {
		add("exchange.retry.initial_interval", "must be positive")
	}
	if c.Exchange.Retry.MaxInterval < c.Exchange.Retry.InitialInterval {
		add("exchange.retry.max_interval", "must not be shorter than initial_interval")
	}
	if r := c.Exchange.Retry; r.MaxAge < r.MaxInterval {
		add("exchange.retry.max_age", "must be at least max_interval (%s), got %s: a bundle would be dead-lettered after a retry or two", r.MaxInterval, r.MaxAge)
	}
	if c.Exchange.Retry.UnknownOutcomeDelay < 0 {
		add("exchange.retry.unknown_outcome_delay", "must not be negative")
	}
	if c.Exchange.Workers < 1 || c.Exchange.Workers > 256 {
		add("exchange.workers", "must be from 1 to 256, got %d", c.Exchange.Workers)
	}
	for i, code := range c.Exchange.Hold {
		if !fhir.DescribesData(code) {
			add(fmt.Sprintf("exchange.hold[%d]", i), "unknown security label %q (want a v3-Confidentiality code such as R or V, a sensitivity code such as HIV, SUD, PSY, or 42CFRPart2)", code)
		}
	}
	if n := c.Sources.MaxWholeFileBytes; n != 0 && (n < 1<<20 || n > 64<<30) {
		add("sources.max_whole_file_bytes", "must be 0 (128 MiB) or from 1048576 (1 MiB) to 68719476736 (64 GiB), got %d", n)
	}
	if c.Queue.MaxBytes < 1<<20 {
		add("queue.max_bytes", "must be at least 1048576 (1 MiB), got %d", c.Queue.MaxBytes)
	}
	if c.Queue.MaxItems < 1 {
		add("queue.max_items", "must be at least 1, got %d", c.Queue.MaxItems)
	}
	for k, v := range c.Identifiers.Systems {
		// The system is matched exactly against the one a C-CDA root,
		// fax.patient_system or a CSV system gives the same number,
		// which refuse spaces and '|' as this does.
		if !systemURI(v) {
			add("identifiers.systems."+k, "must be an absolute URI such as urn:oid:1.2.3 or https://..., without spaces or '|', got %q", v)
		}
	}
	// Every system ferry mints begins with the base (<base>:id:MRN), and
	// the gateway's own identifier is the base as a urn:ietf:rfc:3986.
	if b := c.Identifiers.Base; b != "" && !systemURI(b) {
		add("identifiers.base", "must be an absolute URI this site controls, such as urn:ferry:clinic7 or https://..., without spaces or '|', got %q", b)
	}
	if c.Retention.Done < time.Hour {
		add("retention.done", "must be at least 1h, got %s", c.Retention.Done)
	}
	if c.Retention.Outbox < 0 {
		add("retention.outbox", "must not be negative")
	}
	if c.HL7v2.TimeZone != "" {
		if _, err := time.LoadLocation(c.HL7v2.TimeZone); err != nil {
			add("hl7v2.time_zone", "unknown time zone %q (want an IANA name such as America/Chicago)", c.HL7v2.TimeZone)
		}
	}
	if c.HL7v2.MaxEntries < 0 || c.HL7v2.MaxEntries > 1000 {
		add("hl7v2.max_entries", "%d is out of range (0, the write mode's default, or 1 to 1000)", c.HL7v2.MaxEntries)
	}
	switch c.HL7v2.Writes {
	case "patient-conditional", "ids", "conditional":
	default:
		add("hl7v2.writes", "unknown write mode %q (want patient-conditional, ids or conditional)", c.HL7v2.Writes)
	}
	addErr("audit", c.Audit.Validate())
	addErr("proxy", c.Proxy.Validate())
	ps = append(ps, c.Encryption.validate(c.DataDir)...)
	if c.Status.Listen != "" {
		host, port, err := net.SplitHostPort(c.Status.Listen)
		n, nerr := strconv.Atoi(port)
		ip := net.ParseIP(host)
		switch {
		case err != nil:
			add("status.listen", "want host:port, got %q", c.Status.Listen)
		case nerr == nil && n == 0:
			// The commands find the running gateway at this address.
			add("status.listen", "port 0 lets the system pick a port that ferry status, doctor, queue and backup cannot find; give a fixed port such as 127.0.0.1:8089")
		case nerr != nil || n < 1 || n > 65535:
			add("status.listen", "port %q is not a number from 1 to 65535", port)
		case host != "localhost" && (ip == nil || !ip.IsLoopback()):
			add("status.listen", "must be a loopback address (the status page has no authentication); got %q", host)
		default:
			if prev := usedBy(c.Status.Listen); prev != "" {
				add("status.listen", "%s is already used by %s", c.Status.Listen, prev)
			}
		}
	}
	for i, h := range c.Status.AllowedHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, "/ \t*@") {
			add(fmt.Sprintf("status.allowed_hosts[%d]", i), "want a host name, optionally with :port; got %q", h)
		}
	}
	return ps
}

// tcpPort reports whether port is one a connection can be made to.
func tcpPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// systemURI reports whether v can be an identifier system: an absolute URI
// (FHIR's uri has no white space) without the '|' that ends the system in
// a search (identifier=<system>|<value>).
func systemURI(v string) bool {
	_, err := url.Parse(v)
	return err == nil && strings.Contains(v, ":") && !strings.ContainsAny(v, " \t\r\n|")
}

// csvProblems checks the csv mappings of the folder at path p. A
// mapping's problems name its fields below p.csv[i]: a column's header
// is taken as written (LastName, "Date of Birth"), as the file has it.
func csvProblems(p string, ms []csvfhir.Mapping) []Problem {
	var ps []Problem
	for i := range ms {
		mp := fmt.Sprintf("%s.csv[%d]", p, i)
		for _, pr := range ms[i].Validate() {
			ps = append(ps, Problem{Path: mp + "." + pr.Path, Msg: pr.Msg})
		}
		for _, c := range ms[i].Security {
			// Refrain and obligation codes say how to handle data, not
			// what it is: they stay out of the bundle's high-water mark
			// (DS4P), so they cannot label a whole file either.
			if !fhir.DescribesData(c) && fhir.KnownSecurityCode(c) {
				ps = append(ps, Problem{Path: mp + ".security", Msg: fmt.Sprintf("%q is a refrain or obligation code; give confidentiality (R, V ...), sensitivity (PSY, SUD, HIV ...) or policy (42CFRPart2) codes", c)})
			}
		}
		for j := 0; j < i; j++ {
			if strings.EqualFold(ms[j].Match, ms[i].Match) {
				ps = append(ps, Problem{Path: mp + ".match", Msg: fmt.Sprintf("%q is already matched by csv[%d], which reads every such file first", ms[i].Match, j)})
			}
		}
	}
	return ps
}

func isKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '[' || r == ']' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// flatten unwraps errors.Join trees into their leaves.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// lineOf finds the line of the node at a dotted path such as
// sources.mllp[0].listen; it returns the line of the deepest part that
// exists, or 0.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(path, ".") {
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		next := mapValue(n, key)
		if next == nil {
			return line
		}
		line = next.Line
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
				// Point at the key's line: for scalars it is the same line,
				// for an empty mapping the key is where the reader looks.
				return &yaml.Node{Kind: v.Kind, Line: n.Content[i].Line, Content: v.Content, Value: v.Value}
			}
			return v
		}
	}
	return nil
}

// pathAtLine returns the dotted path of the key a decoder message (msg,
// as yamlProblem made it) on line is about, so that decoder messages
// ("line 6: unknown key") read like validation ones. yaml.v3 gives only the
// line, and a flow mapping ({name: ehr, settle: 5}) puts many keys on one:
// the key named by an unknown-key or duplicate-key message, the key of
// the mistyped scalar the message quotes, or the key holding a mapping or
// list the message says is of the wrong kind, comes before the first key
// on the line.
func pathAtLine(root *yaml.Node, line int, msg string) string {
	type pair struct {
		path string
		k, v *yaml.Node
	}
	var pairs []pair
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line || v.Line == line {
					pairs = append(pairs, pair{p, k, v})
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	if line <= 0 {
		return ""
	}
	walk(root, "")
	var match func(pair) bool
	if key, ok := strings.CutPrefix(msg, "unknown key "); ok {
		key, _ = strconv.Unquote(key)
		match = func(p pair) bool { return p.k.Line == line && p.k.Value == key }
	} else if m := duplicateKey.FindStringSubmatch(msg); m != nil {
		key, _ := strconv.Unquote(m[1])
		match = func(p pair) bool { return p.k.Line == line && p.k.Value == key }
	} else if m := mistyped.FindStringSubmatch(msg); m != nil {
		tag, val := m[1], m[2]
		match = func(p pair) bool {
			if p.v.Line != line {
				return false
			}
			switch tag {
			case "!!map":
				return p.v.Kind == yaml.MappingNode
			case "!!seq":
				return p.v.Kind == yaml.SequenceNode
			}
			if p.v.Kind != yaml.ScalarNode {
				return false
			}
			if short, ok := strings.CutSuffix(val, "..."); ok { // yaml.v3 cuts long values
				return strings.HasPrefix(p.v.Value, short)
			}
			return p.v.Value == val
		}
	}
	if match != nil {
		for _, p := range pairs {
			if match(p) {
				return p.path
			}
		}
	}
	for _, p := range pairs {
		if p.k.Line == line {
			return p.path
		}
	}
	return ""
}

// duplicateKey matches yaml.v3's error for a key given twice in one
// mapping (on the line of the second), the key quoted.
var duplicateKey = regexp.MustCompile(`^mapping key (".*") already defined at line \d+$`)

// mistyped matches yaml.v3's type error: the value's tag and, for a
// scalar, its value.
var mistyped = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into ")

// validSourceID reports whether id can be an IHE MHD sourceId (an OID).
func validSourceID(id string) bool {
	_, ok := faxfhir.SourceOID(id)
	return ok
}

// takesDownloads reports whether the folder engine would take a file
// fetch is still downloading into the folder (fetch.TempPrefix...): an
// ignore list given replaces the default, whose ".*" skips it, and only an
// include list (a fax folder's default one) can leave it out otherwise.
func (f *Folder) takesDownloads() bool {
	name := fetch.TempPrefix + "1234567890"
	match := func(p string) bool { ok, _ := filepath.Match(p, name); return ok }
	ignore, include := f.Ignore, f.Include
	if ignore == nil {
		ignore = folder.DefaultIgnore
	}
	if include == nil && (f.Kind == fax.KindFax || f.Kind == fax.KindHylaFAX) {
		include = fax.DefaultConfig(f.Kind).Include
	}
	if slices.ContainsFunc(ignore, func(p string) bool { return folder.IgnoreMatch(p, name) }) {
		return false
	}
	return len(include) == 0 || slices.ContainsFunc(include, match)
}

// sameSocket reports whether listening on a and on b (host:port) binds one
// socket twice, so that the second listen fails: the same port, not 0, and
// the same host, or a wildcard host (empty, 0.0.0.0, ::, which take the
// port on every address), with localhost the 127.0.0.1 Go listens on.
func sameSocket(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	na, errA := strconv.Atoi(pa)
	nb, errB := strconv.Atoi(pb)
	if errA != nil || errB != nil || na != nb || na == 0 {
		return false
	}
	ipA, ipB := listenIP(ha), listenIP(hb)
	if ipA == nil || ipB == nil {
		return strings.EqualFold(ha, hb)
	}
	return ipA.IsUnspecified() || ipB.IsUnspecified() || ipA.Equal(ipB)
}

// listenIP is the address a listener on host binds: the wildcard for an
// empty host, 127.0.0.1 for localhost, nil for another name.
func listenIP(host string) net.IP {
	switch {
	case host == "":
		return net.IPv4zero
	case strings.EqualFold(host, "localhost"):
		return net.IPv4(127, 0, 0, 1)
	}
	return net.ParseIP(host)
}

// folderKey is what makes two paths one folder: the path itself, and on
// Windows, whose names are case-insensitive, the path in lower case
// (D:\Inbound and d:\inbound are one folder).
func folderKey(p string) string {
	if runtime.GOOS == "windows" {
		return strings.ToLower(p)
	}
	return p
}
