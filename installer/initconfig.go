package installer

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
)

// Answers are what `ferry init` asks for. Empty strings take the defaults
// of ConfigDefaults; an empty ExchangeURL means "no exchange yet": bundles
// are written to the local outbox folder until one is configured.
type Answers struct {
	ExchangeURL  string
	CAFile       string
	CertFile     string
	KeyFile      string
	ServerName   string
	MLLPListen   string
	DataDir      string
	StatusListen string
	// EncryptionKeyFile, when set, turns on encryption at rest with the
	// key in this file (encryption.key_file).
	EncryptionKeyFile string
	// SFTPKeyFile and KnownHosts log in to an exchange that takes files
	// (ExchangeURL sftp://...): exchange.sftp.
	SFTPKeyFile, KnownHosts string
	// ConfigDir is where the file's examples put certificates and keys:
	// the package layout's configuration folder, whose permissions
	// (Windows: its ACL) keep them from other users.
	ConfigDir string
}

// SFTP reports whether the exchange takes bundles as files over SFTP.
// The scheme is read in any case, as ferry reads exchange.url.
func (a Answers) SFTP() bool {
	return len(a.ExchangeURL) > 5 && strings.EqualFold(a.ExchangeURL[:5], "sftp:")
}

// ConfigDefaults are the answers `ferry init` proposes, for the package
// layout on this OS.
func ConfigDefaults() Answers {
	return Answers{
		MLLPListen:   "127.0.0.1:2575",
		DataDir:      PackageLayout().DataDir,
		StatusListen: "127.0.0.1:8089",
		ConfigDir:    PackageLayout().ConfigDir,
	}
}

func (a Answers) withDefaults() Answers {
	d := ConfigDefaults()
	if a.MLLPListen == "" {
		a.MLLPListen = d.MLLPListen
	}
	if a.DataDir == "" {
		a.DataDir = d.DataDir
	}
	if a.StatusListen == "" {
		a.StatusListen = d.StatusListen
	}
	if a.ConfigDir == "" {
		a.ConfigDir = d.ConfigDir
	}
	return a
}

// ConfigPath names file in the configuration folder, with the folder's own
// separator (the Windows package's file is rendered on Linux too).
func (a Answers) ConfigPath(file string) string {
	sep := "/"
	if strings.Contains(a.ConfigDir, `\`) {
		sep = `\`
	}
	return strings.TrimSuffix(a.ConfigDir, sep) + sep + file
}

// RenderConfig writes a complete, commented configuration file from the
// answers. Every value is quoted as a YAML string, so a Windows path or an
// odd character cannot change the file's structure. The result is what
// `ferry config check` accepts when the answers are sensible (a https URL,
// a cert with its key); the caller checks it before writing.
func RenderConfig(a Answers) []byte {
	a = a.withDefaults()
	var b bytes.Buffer
	if err := configTmpl.Execute(&b, a); err != nil {
		// The template is fixed and the data are strings: this cannot fail.
		panic(fmt.Sprintf("render config: %v", err))
	}
	return b.Bytes()
}

// yamlString quotes s as a YAML scalar. Single quotes keep Windows paths
// readable (no backslash escapes); a value with control characters, which
// single quotes cannot carry, is double-quoted instead.
func yamlString(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			// strconv.Quote's output is a valid YAML double-quoted scalar
			// for these escapes (\n, \t, \x..).
			return strconv.Quote(s)
		}
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

var configTmpl = template.Must(template.New("ferry.yaml").Funcs(template.FuncMap{
	"q":     yamlString,
	"upper": strings.ToUpper,
}).Parse(`# ferry configuration (written by ` + "`ferry init`" + `).
# Check it with:  ferry config check <this file>
# Then:           ferry doctor --config <this file>
# Durations are Go durations ("30s", "10m"). Unknown keys are errors.

# Where ferry keeps the durable queue, quarantine, dead letters and the
# outbox. Only the service account may read it: it holds patient data.
data_dir: {{q .DataDir}}

log:
  level: info        # debug | info | warn | error
  phi: false         # never log patient data unless you must debug with it
  # file: PATH       # log to this file (created 0600) instead of standard error, which systemd keeps
  #                  # in the journal; a Windows service without it logs to <data_dir>\logs\ferry.log
  # max_size_mb: 50  # rotate the file at this size
  # max_files: 10    # rotated files kept

sources:
  # HL7 v2 over MLLP. Point the EHR/LIS interface engine at this address.
  # 127.0.0.1 accepts only local senders; use the LAN address (or 0.0.0.0)
  # for senders on other machines, and consider the tls: block below.
  mllp:
    - name: main
      listen: {{q .MLLPListen}}
      # allow: [192.168.10.20, 10.0.5.0/24]   # only these senders may connect (checked before TLS)
      # max_conns_per_ip: 32
      # frame_timeout: 10m        # the longest one message may take to arrive
      # max_frame_bytes: 16777216
      # max_buffered_bytes: 67108864  # all connections together, for messages over 64 KiB (embedded PDFs); more get AR "busy"
      # read_timeout: 30s         # a sender silent this long mid-message is dropped (inactivity, not total time)
      # idle_timeout: 10m
      # commit_ack: true          # MLLP release 2 senders only: commit ACK/NAK before each HL7 ACK
      # tls:                      # MLLP over TLS
      #   cert_file: {{.ConfigPath "mllp.pem"}}
      #   key_file: {{.ConfigPath "mllp.key"}}
      #   client_ca_file: {{.ConfigPath "senders-ca.pem"}}   # require client certificates
  # EHR export drops and fax inboxes (uncomment and adjust; a fax folder
  # also needs the fax: section below):
  # folders:
  #   - name: ehr
  #     kind: ehr                 # C-CDA, HL7 v2 files and batches, FHIR JSON/NDJSON, ZIP (XDM)
  #     path: /srv/exports
  #     after: move               # move (to .ferry/done/YYYY-MM-DD/, deleted after retention.done, 720h) | delete
  #   - name: fax
  #     kind: fax                 # TIFF/PDF (+ .json/.xml sidecars); hylafax for a HylaFAX recvq
  #     path: /srv/fax/inbox
  #     # patterns: ['^(?P<doctype>[a-z]+)_(?P<mrn>\d+)']   # document type and chart number from the file name

# Faxes (and the PDFs and scans of XDM packages in ehr folders) are filed as
# IHE MHD documents. With a fax folder, name the clinic's fax system (an
# OID, its MHD sourceId; required) and the identifier system of the chart
# numbers that file names or sidecars give:
# fax:
#   source_id: 1.3.6.1.4.1.21367.2026.1
#   patient_system: urn:oid:2.16.840.1.113883.3.999.1

{{if .ExchangeURL}}{{if .SFTP}}# The health information exchange collects bundles as files from this SFTP
# directory: ferry logs in with its key, and the server must show the host
# key known_hosts names.
{{else}}# The health information exchange. Delivery is HTTPS with mutual TLS; the
# server's name is always verified.
{{end}}exchange:
  url: {{q .ExchangeURL}}
  timeout: 30s
{{- if .SFTP}}
  sftp:
    key_file: {{q .SFTPKeyFile}}      # ferry's SSH key (ssh-keygen -t ed25519 -N ''); the exchange adds its .pub
    known_hosts: {{q .KnownHosts}}    # the server's host key (ssh-keyscan), fingerprint checked with the exchange
{{- else}}
  tls:
{{- if .CAFile}}
    ca_file: {{q .CAFile}}         # CA that signed the exchange's server certificate
{{- else}}
    # ca_file: {{.ConfigPath "exchange-ca.pem"}}   # empty: the system's trusted CAs
{{- end}}
{{- if .CertFile}}
    cert_file: {{q .CertFile}}     # ferry's client certificate from the exchange
    key_file: {{q .KeyFile}}       # its private key (readable only by the service account)
{{- else}}
    # cert_file: {{.ConfigPath "client.pem"}}      # ferry's client certificate
    # key_file: {{.ConfigPath "client.key"}}
{{- end}}
{{- if .ServerName}}
    server_name: {{q .ServerName}}
{{- end}}
{{- end}}
  retry:
    initial_interval: 1s
    max_interval: 5m
  # Bundles labelled restricted (R; also holds V), very restricted (V) or
  # 42 CFR Part 2 are kept in <data_dir>/held for review (` + "`ferry held list`" + `),
  # not sent. Empty the list only if the exchange's agreement allows them.
  hold: [R, V, 42CFRPart2]
{{else}}# No exchange yet: converted FHIR Bundles are written as files into
# <data_dir>/outbox/. Uncomment and fill in when the exchange sends you
# its URL and your client certificate:
# exchange:
#   url: https://hie.example.org/fhir/R4   # or mllps://host:port for an exchange that takes HL7 v2,
#                                          # or sftp://user@host/dir for one that collects files (then sftp: key_file, known_hosts)
#   tls:
#     ca_file: {{.ConfigPath "exchange-ca.pem"}}
#     cert_file: {{.ConfigPath "client.pem"}}
#     key_file: {{.ConfigPath "client.key"}}
#   # Restricted (R, V) and 42 CFR Part 2 content is kept back for review
#   # (ferry held list) unless the exchange's agreement allows it:
#   hold: [R, V, 42CFRPart2]     # the default; hold: [] sends everything
{{end}}
# Map HL7 v2 assigning authorities (PID-3 CX.4) to FHIR identifier systems:
# identifiers:
#   systems:
#     HOSP: urn:oid:2.16.840.1.113883.3.999.1

{{if .EncryptionKeyFile}}# Encryption at rest: the queue, quarantine, dead letters and held bundles
# are sealed (AES-256-GCM) with this key. Keep a copy of the key file away
# from this machine: without it the data waiting here cannot be read.
encryption:
  key_file: {{q .EncryptionKeyFile}}
{{else}}# Encryption at rest of the queue, quarantine, dead letters and held
# bundles (AES-256-GCM). Make a key with ` + "`ferry keygen {{.ConfigPath \"ferry.key\"}}`" + `,
# keep a copy of it away from this machine, then uncomment:
# encryption:
#   key_file: {{.ConfigPath "ferry.key"}}
{{end}}
# If this network reaches the internet only through an HTTP proxy, name it
# here: a Windows service does not see the HTTPS_PROXY an administrator
# sets for their own account. MLLP and syslog never use it.
# proxy:
#   url: http://proxy.clinic.local:3128    # user:password@ allowed; direct ignores HTTPS_PROXY
#   no_proxy: [hie-test.local, 10.0.0.0/8]

# Read-only status page, /metrics for Prometheus and /healthz. Loopback only.
status:
  listen: {{q .StatusListen}}
`))
