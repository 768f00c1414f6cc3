package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/configs")

// TestConfigCases runs every testdata/configs/*.yaml through Parse and
// compares the problems (or "ok" and the warnings) with the .golden file
// beside it.
func TestConfigCases(t *testing.T) {
	files, err := filepath.Glob("../testdata/configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no config cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			got := "ok\n"
			if err == nil {
				for _, w := range c.Warnings() {
					got += "warning: " + w.String() + "\n"
				}
			}
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("error is %T, want *config.Error: %v", err, err)
				}
				var b strings.Builder
				for _, p := range ce.Problems {
					b.WriteString(p.String() + "\n")
				}
				got = b.String()
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if runtime.GOOS == "windows" { // the suggested log file is joined with the system's separator
				want = bytes.ReplaceAll(want, []byte("../testdata/configs/ferry.log"), []byte(filepath.FromSlash("../testdata/configs/ferry.log")))
			}
			if got != string(want) {
				t.Errorf("problems differ\n--- got\n%s--- want\n%s", got, want)
			}
			if strings.HasPrefix(filepath.Base(f), "bad_") && got == "ok\n" {
				t.Error("a bad_ case must fail")
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.DataDir != "./ferry-data" || len(c.Sources.MLLP) != 1 || c.Sources.MLLP[0].Listen != "127.0.0.1:2575" {
		t.Fatalf("unexpected default: %+v", c)
	}
	m := c.Sources.MLLP[0]
	if m.MaxFrameBytes != 16<<20 || m.ReadTimeout != 30*time.Second {
		t.Errorf("defaults not applied: %+v", m)
	}
	if c.Exchange.URL != "" {
		t.Error("default must not name an exchange (outbox delivery)")
	}
	if c.HL7v2.Writes != "patient-conditional" {
		t.Errorf("hl7v2.writes defaults to %q, want patient-conditional", c.HL7v2.Writes)
	}
	if got := c.Path("outbox"); got != filepath.Join("ferry-data", "outbox") {
		t.Errorf("Path = %q", got)
	}
}

// TestEmptyFileIsAProblem: a configuration file with nothing in it (empty,
// comments only, a bare "---") is not taken as the defaults: those have no
// source, keep the data under the working directory and send nowhere, so
// the gateway would run and take nothing. It is the wrong file, or one
// emptied by mistake, and says so. An explicit "{}" asks for the defaults.
func TestEmptyFileIsAProblem(t *testing.T) {
	for _, b := range []string{"", "\n\n", "# ferry configuration\n# (to be filled in)\n", "---\n", "---\n# nothing yet\n...\n"} {
		_, err := Parse("empty.yaml", []byte(b))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Problems[0].Msg, "the file sets nothing") {
			t.Errorf("%q: Parse = %v, want the problem that it sets nothing", b, err)
		}
	}
	c, err := Parse("defaults.yaml", []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./ferry-data" || c.Exchange.Workers != 4 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// TestREADMEExample keeps the configuration shown in README.md valid: the
// complete example as it stands, and every other yaml block, a fragment a
// contractor copies into a configuration, merged into readmeBase.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(b))
	if len(blocks) == 0 {
		t.Fatal("README.md has no yaml example")
	}
	if _, err := Parse("README.md", []byte(blocks[0].text)); err != nil {
		t.Fatalf("README example (line %d): %v", blocks[0].line, err)
	}
	for _, bl := range blocks[1:] {
		merged, err := mergeIntoBase(readmeBase, bl.text)
		if err != nil {
			t.Errorf("README.md line %d: %v", bl.line, err)
			continue
		}
		if _, err := Parse("README.md", merged); err != nil {
			t.Errorf("README.md yaml block at line %d: %v\n%s", bl.line, err, merged)
		}
	}
}

// readmeBase is what a README fragment is checked inside: what the
// complete example gives a fragment that does not say it (the fax
// section's fax.source_id, which an e-mailed fax needs).
const readmeBase = `
data_dir: /var/lib/ferry
fax:
  source_id: 1.3.6.1.4.1.21367.2026.1
`

type yamlBlock struct {
	line int // of the block's first line in the file
	text string
}

// yamlBlocks returns the ```yaml blocks of a Markdown text.
func yamlBlocks(s string) []yamlBlock {
	var out []yamlBlock
	lines := strings.SplitAfter(s, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		bl := yamlBlock{line: i + 2}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			bl.text += lines[i]
		}
		out = append(out, bl)
	}
	return out
}

// mergeIntoBase lays the mappings of fragment over those of base, key by
// key (a fragment's value wins, a mapping in both is merged), and returns
// the YAML of the result.
func mergeIntoBase(base, fragment string) ([]byte, error) {
	var b, f yaml.Node
	if err := yaml.Unmarshal([]byte(base), &b); err != nil {
		return nil, fmt.Errorf("base: %v", err)
	}
	if err := yaml.Unmarshal([]byte(fragment), &f); err != nil {
		return nil, fmt.Errorf("fragment: %v", err)
	}
	if len(f.Content) != 1 || f.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("fragment: not a mapping")
	}
	mergeMapping(b.Content[0], f.Content[0])
	return yaml.Marshal(&b)
}

func mergeMapping(dst, src *yaml.Node) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		found := false
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value != k.Value {
				continue
			}
			found = true
			if dst.Content[j+1].Kind == yaml.MappingNode && v.Kind == yaml.MappingNode {
				mergeMapping(dst.Content[j+1], v)
			} else {
				dst.Content[j+1] = v
			}
		}
		if !found {
			dst.Content = append(dst.Content, k, v)
		}
	}
}

// TestREADMECSVExample keeps the csv mappings shown in README.md valid.
func TestREADMECSVExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "### CSV files in an EHR drop")
	if i < 0 {
		t.Fatal("README.md has no CSV section")
	}
	s = s[i:]
	s = s[strings.Index(s, "```yaml\n")+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	c, err := Parse("README.md", []byte(s))
	if err != nil {
		t.Fatalf("README csv example: %v", err)
	}
	if n := len(c.Sources.Folders[0].CSV); n != 9 {
		t.Errorf("README csv example has %d mappings", n)
	}
}

// TestValidateAfterChange is the reason Validate is exported: code that
// changes a loaded configuration re-checks it, and the problems name the
// field paths just as Parse's do.
func TestValidateAfterChange(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	c.Exchange.URL = "https://hie.example.org/fhir/R4"
	c.Sources.MLLP[0].Listen = "2575"
	err := c.Validate()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Validate = %v (%T), want *config.Error", err, err)
	}
	paths := map[string]bool{}
	for _, p := range ce.Problems {
		paths[p.Path] = true
	}
	for _, want := range []string{"sources.mllp[0].listen", "exchange.tls.cert_file", "exchange.tls.key_file"} {
		if !paths[want] {
			t.Errorf("no problem at %s in %v", want, ce.Problems)
		}
	}
	if len(ce.Problems) != 3 {
		t.Errorf("problems = %v, want exactly those three", ce.Problems)
	}
	if !strings.Contains(err.Error(), "default.yaml: sources.mllp[0].listen: want host:port") {
		t.Errorf("message does not name the file and field: %v", err)
	}

	c.Exchange.TLS.CertFile, c.Exchange.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
	c.Sources.MLLP[0].Listen = "127.0.0.1:2575"
	if err := c.Validate(); err != nil {
		t.Errorf("fixed config: %v", err)
	}
}

// TestSecondDocument checks that a second YAML document is an error naming
// the file and the line of its "---", not ignored.
func TestSecondDocument(t *testing.T) {
	_, err := Parse("m.yaml", []byte("---\ndata_dir: /tmp/a\n---\nbogus: 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "m.yaml: line 3: YAML document 2 starts here") {
		t.Fatalf("err = %v", err)
	}
	for _, tolerated := range []string{"data_dir: /tmp/a\n---\n", "data_dir: /tmp/a\n---\n# done\n", "data_dir: /tmp/a\n...\n"} {
		if _, err := Parse("t.yaml", []byte(tolerated)); err != nil {
			t.Errorf("%q: %v", tolerated, err)
		}
	}
	for _, bad := range []string{"data_dir: /tmp/a\n--- ~\n", "data_dir: /tmp/a\n---\n---\n[\n"} {
		if _, err := Parse("t.yaml", []byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// TestQueueMaxItemsDefault: the item limit that bounds the queue's memory
// is on unless the file sets another one.
func TestQueueMaxItemsDefault(t *testing.T) {
	if got := Default().Queue.MaxItems; got != DefaultQueueMaxItems {
		t.Errorf("default queue.max_items = %d, want %d", got, DefaultQueueMaxItems)
	}
	c, err := Load("../testdata/configs/good_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Queue.MaxItems != 250000 {
		t.Errorf("queue.max_items = %d, want 250000 from the file", c.Queue.MaxItems)
	}
}

// TestRetryDefaults: max_age defaults to DefaultMaxAge and
// unknown_outcome_delay to the exchange's request timeout.
func TestRetryDefaults(t *testing.T) {
	c := Default()
	if c.Exchange.Retry.MaxAge != DefaultMaxAge || c.Exchange.Retry.UnknownOutcomeDelay != c.Exchange.Timeout {
		t.Errorf("retry defaults %+v, timeout %s", c.Exchange.Retry, c.Exchange.Timeout)
	}
	full, err := Load("../testdata/configs/good_full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := full.Exchange.Retry; r.MaxAge != 120*time.Hour || r.UnknownOutcomeDelay != 40*time.Second {
		t.Errorf("good_full retry %+v", r)
	}
}

// TestExchangeURLSchemes: the exchange is a FHIR base over https or an
// HL7 v2 receiver over MLLP in TLS (mllps://host:port); nothing travels in
// clear text, and folders whose documents an MLLP exchange cannot take are
// warned about.
func TestExchangeURLSchemes(t *testing.T) {
	for url, want := range map[string]string{
		"https://hie.example.org/fhir/R4": "",
		"mllps://hie.example.org:6661":    "",
		"mllps://hie.example.org":         "port",
		"mllp://hie.example.org:6661":     "clear text",
		"http://hie.example.org/fhir":     "clear text",
	} {
		c := Default()
		c.Exchange.URL = url
		c.Exchange.TLS.CertFile, c.Exchange.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
		err := c.Validate()
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
	}
	c, err := Parse("t.yaml", []byte(`
exchange:
  url: mllps://hie.example.org:6661
  tls: {cert_file: /etc/ferry/client.pem, key_file: /etc/ferry/client.key}
fax: {source_id: 1.2.3}
sources:
  folders:
    - {name: fax, kind: fax, path: /srv/fax}
    - {name: ehr, kind: ehr, path: /srv/ehr}
`))
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings()
	var got []string
	for _, w := range ws {
		got = append(got, w.Path+": "+w.Msg)
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "sources.folders[0].kind: the exchange takes HL7 v2 over MLLP") || !strings.Contains(joined, "faxes have no HL7 v2 message") ||
		!strings.Contains(joined, "sources.folders[1].kind") || !strings.Contains(joined, "C-CDA and FHIR documents will be dead-lettered") {
		t.Errorf("warnings:\n%s", joined)
	}
}

// TestExchangeSFTP: an sftp:// exchange needs an account, a directory,
// ferry's key and the server's host key, and takes no password, no TLS
// and no token; the problems name their keys.
func TestExchangeSFTP(t *testing.T) {
	const login = "  sftp: {key_file: /etc/ferry/sftp_ed25519, known_hosts: /etc/ferry/known_hosts}\n"
	for _, tc := range []struct{ yml, want string }{
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org:2222/inbound\n" + login, ""},
		{"exchange:\n  url: sftp://sftp.hie.example.org/inbound\n" + login, "exchange.url: names no account"},
		{"exchange:\n  url: sftp://ferry:hunter2@sftp.hie.example.org/inbound\n" + login, "exchange.url: holds a password"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org\n" + login, "exchange.url: names no directory"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org/inbound\n", "exchange.sftp.key_file: required"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org/inbound\n  sftp: {key_file: /k}\n", "exchange.sftp.known_hosts: required"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org/inbound\n" + login + "  auth: {smart: {client_id: x, key_file: /k}}\n", "not SFTP"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org/inbound\n" + login + "  tls: {ca_file: /etc/ferry/ca.pem}\n", "exchange.tls: an sftp:// exchange does not use TLS"},
		{"exchange:\n  url: https://hie.example.org/fhir\n  tls: {cert_file: /c.pem, key_file: /c.key}\n" + login, "exchange.sftp: is for an sftp:// exchange.url"},
		{"exchange:\n  url: sftp://ferry@sftp.hie.example.org/inbound\n  sftp: {key_file: /k, known_hosts: /h, format: csv}\n", "exchange.sftp.format"},
	} {
		expectProblem(t, tc.yml, tc.want)
		if c, err := Parse("t.yaml", []byte(tc.yml)); err == nil {
			if err := c.Validate(); err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the problem repeats the password: %v", err)
			}
		}
	}
}

// TestFolderFetch: a folder's fetch section is checked where it stands.
func TestFolderFetch(t *testing.T) {
	const fetch = "      fetch: {url: sftp://ehr@sftp.ehr.example.com/outbound, key_file: /etc/ferry/ehr_ed25519, known_hosts: /etc/ferry/known_hosts%s}\n"
	folder := func(kind, more string) string {
		return "sources:\n  folders:\n    - name: athena\n      kind: " + kind + "\n      path: /srv/exports/athena\n" + fmt.Sprintf(fetch, more)
	}
	for _, tc := range []struct{ yml, want string }{
		{folder("ehr", ""), ""},
		{folder("ehr", ", after: delete, poll: 10m"), ""},
		{folder("ehr", ", after: keep"), "sources.folders[0].fetch.after"},
		{folder("ehr", ", poll: 10ms"), "sources.folders[0].fetch.poll"},
		{folder("hylafax", ""), "a HylaFAX recvq is filled by HylaFAX itself"},
		{strings.Replace(folder("ehr", ""), "ehr@", "", 1), "sources.folders[0].fetch.url: names no account"},
		{strings.Replace(folder("ehr", ""), "key_file: /etc/ferry/ehr_ed25519, ", "", 1), "sources.folders[0].fetch.key_file: required"},
		// An ignore list replaces the default, whose ".*" skips the
		// downloads in progress (.ferry-fetch-*): without it the folder
		// would take a half-downloaded file.
		{strings.Replace(folder("ehr", ""), "path:", "ignore: ['*.tmp']\n      path:", 1), "sources.folders[0].ignore: "},
		{strings.Replace(folder("ehr", ""), "path:", "ignore: ['*.tmp', '.*']\n      path:", 1), ""},
		{strings.Replace(folder("ehr", ""), "path:", "ignore: ['*.tmp', '.ferry-fetch-*']\n      path:", 1), ""},
		{strings.Replace(folder("ehr", ""), "path:", "ignore: ['*.tmp']\n      include: ['*.hl7']\n      path:", 1), ""},
		{strings.Replace(folder("fax", ""), "path:", "ignore: ['*.tmp']\n      source_id: '1.2.3'\n      path:", 1), ""},
		{strings.Replace(folder("ehr", ""), "example.com/", "example.com:99999/", 1), "sources.folders[0].fetch.url: port 99999 is not a TCP port"},
		// Two folders emptying one directory (the port and a trailing
		// slash written differently) would race for its files.
		{folder("ehr", "") + "    - name: athena2\n      kind: ehr\n      path: /srv/exports/athena2\n" +
			strings.Replace(fmt.Sprintf(fetch, ""), "example.com/outbound", "EXAMPLE.com:22/outbound/", 1),
			"sources.folders[1].fetch.url: sources.folders[0] fetches the same directory"},
		{folder("ehr", "") + "    - name: athena2\n      kind: ehr\n      path: /srv/exports/athena2\n" +
			strings.Replace(fmt.Sprintf(fetch, ""), "/outbound", "/outbound2", 1), ""},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}

// TestExchangeSMART: with exchange.auth.smart the client certificate is
// optional (the bearer token authenticates); its fields are checked.
func TestExchangeSMART(t *testing.T) {
	c := Default()
	c.Exchange.URL = "https://hie.example.org/fhir/R4"
	c.Exchange.Auth.SMART.ClientID = "ferry-1"
	c.Exchange.Auth.SMART.KeyFile = "/etc/ferry/smart.key"
	if err := c.Validate(); err != nil {
		t.Errorf("SMART without a client certificate: %v", err)
	}
	c.Exchange.Auth.SMART.ClientID = ""
	c.Exchange.Auth.SMART.TokenURL = "http://auth.example.org/token"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "exchange.auth.smart.client_id") || !strings.Contains(err.Error(), "exchange.auth.smart.token_url") {
		t.Errorf("bad SMART settings: %v", err)
	}
	c = Default()
	c.Exchange.URL = "mllps://hie.example.org:6661"
	c.Exchange.TLS.CertFile, c.Exchange.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
	c.Exchange.Auth.SMART.ClientID, c.Exchange.Auth.SMART.KeyFile = "x", "/k"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not MLLP") {
		t.Errorf("SMART with mllps: %v", err)
	}
}

// TestDefaultHold: with an exchange and no hold key, restricted and Part 2
// content is held (STANDARDS.md §7); "hold: []" sends everything; with no
// exchange (the outbox) nothing is held.
func TestDefaultHold(t *testing.T) {
	const ex = "exchange:\n  url: https://hie.example.org/fhir\n  tls: {cert_file: c.pem, key_file: c.key}\n"
	for _, tc := range []struct{ yaml, want string }{
		{ex, "R,V,42CFRPart2"},
		{ex + "  hold: []\n", ""},
		{ex + "  hold: [HIV]\n", "HIV"},
		{"data_dir: d\n", ""},
	} {
		c, err := Parse("t.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if got := strings.Join(c.Exchange.Hold, ","); got != tc.want {
			t.Errorf("%q: hold %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

// TestExchangeUDAP: with exchange.auth.udap the client certificate for TLS
// is optional; a UDAP certificate without a URI subject alternative name
// (which names the client in registration) is refused when the file is
// there, and a missing file is left to `ferry doctor`.
func TestExchangeUDAP(t *testing.T) {
	c := Default()
	c.Exchange.URL = "https://hie.example.org/fhir/R4"
	u := &c.Exchange.Auth.UDAP
	u.CertFile, u.KeyFile, u.TrustAnchors = "/nonexistent/udap.pem", "/nonexistent/udap.key", "/nonexistent/anchors.pem"
	u.OrganizationID, u.Contacts = "urn:oid:2.16.840.1.113883.4.6#1234567893", []string{"mailto:it@example.org"}
	if err := c.Validate(); err != nil {
		t.Fatalf("UDAP without a TLS client certificate: %v", err)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert := func(uri string) string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		if uri != "" {
			p, _ := url.Parse(uri)
			tmpl.URIs = []*url.URL{p}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "udap.pem")
		os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		return path
	}
	u.CertFile = cert("https://clinic-12.example.org/ferry")
	if err := c.Validate(); err != nil {
		t.Errorf("certificate with a URI: %v", err)
	}
	u.CertFile = cert("")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "exchange.auth.udap.cert_file") || !strings.Contains(err.Error(), "no URI subject alternative name") {
		t.Errorf("certificate without a URI: %v", err)
	}

	c.Exchange.URL = "mllps://hie.example.org:6661"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not MLLP") {
		t.Errorf("UDAP with mllps: %v", err)
	}
}

// TestFaxSectionWithEHRFolders: the documents of XDM packages dropped into
// an ehr folder are filed under the fax section, so a mistake in it is
// reported without a fax folder too; its source_id may be left out there.
func TestFaxSectionWithEHRFolders(t *testing.T) {
	const ehr = "sources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/ehr}\n"
	for _, tc := range []struct{ yml, want string }{
		{ehr, ""},
		{"fax: {profile: us-core}\n" + ehr, ""},
		{"fax: {profile: mhd}\n" + ehr, "fax.profile"},
		{"fax: {source_id: x.y}\n" + ehr, "fax.source_id"},
		{"fax: {patient_link: maybe}\n" + ehr, "fax.patient_link"},
		{"fax: {binary_method: patch}\n" + ehr, "fax.binary_method"},
		// Without a folder that uses it, the fax section is not checked.
		{"fax: {binary_method: patch}\n", ""},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}

// TestProxyPasswordNotPrinted: neither a problem in the proxy section nor
// a dump of a configuration holding a proxy password shows the password.
func TestProxyPasswordNotPrinted(t *testing.T) {
	for _, f := range []string{"bad_proxy.yaml", "bad_proxy_url.yaml"} {
		_, err := Load(filepath.Join("../testdata/configs", f))
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hun%zzter2") {
			t.Errorf("%s: %v", f, err)
		}
	}
	c, err := Load("../testdata/configs/good_proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c.Proxy); strings.Contains(s, "hunter2") || !strings.Contains(s, "ferry:[REDACTED]@proxy.clinic.local:3128") {
		t.Errorf("printed configuration: %s", s)
	}
}

// TestExchangeURLCredentials: an exchange.url with user:password@ is
// refused by the check, as the gateway refuses it at start (fhirhttp), and
// no problem message repeats the password, not even for a URL that does
// not parse.
func TestExchangeURLCredentials(t *testing.T) {
	for _, u := range []string{
		"https://clinic:hunter2@hie.example.org/fhir/R4",
		"https://clinic:hunter2 x@hie.example.org/fhir/R4",
		"mllps://clinic:hunter2@hie.example.org:6661",
	} {
		c := Default()
		c.Exchange.URL = u
		c.Exchange.TLS.CertFile, c.Exchange.TLS.KeyFile = "/etc/ferry/client.pem", "/etc/ferry/client.key"
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: accepted; ferry run refuses it", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the problem shows the password: %v", u, err)
		}
		if !strings.Contains(err.Error(), "exchange.url") {
			t.Errorf("%s: the problem does not name exchange.url: %v", u, err)
		}
	}
}

// TestFolderSourceID: a folder's source_id must be an OID (the problem
// names the field path); fax.source_id stays required while a fax inbox
// files under it, and may be left out (derived from the host name) once
// every fax inbox names its own. FolderSourceIDs lists the folders that
// name one.
func TestFolderSourceID(t *testing.T) {
	const fax = "    - {name: fax, kind: fax, path: /srv/fax}\n"
	const own = "    - {name: cloudfax, kind: fax, path: /srv/cloudfax, source_id: 1.2.840.99999.2}\n"
	for _, tc := range []struct{ yml, want string }{
		{"sources:\n  folders:\n" + fax, "fax.source_id"},
		{"sources:\n  folders:\n" + own, ""},
		{"sources:\n  folders:\n" + own + fax, "fax.source_id"},
		{"fax: {source_id: 1.2.840.99999.1}\nsources:\n  folders:\n" + own + fax, ""},
		{"fax: {source_id: x.y}\nsources:\n  folders:\n" + own, "fax.source_id"},
		{"sources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/ehr, source_id: '1.2.840.99999.3'}\n", ""},
		{"sources:\n  folders:\n    - {name: ehr, kind: ehr, path: /srv/ehr, source_id: ehr-1}\n", "sources.folders[0].source_id"},
	} {
		expectProblem(t, tc.yml, tc.want)
	}

	c, err := Load("../testdata/configs/good_source_id.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := c.FolderSourceIDs()
	if len(got) != 2 || got["ehr"] != "1.3.6.1.4.1.21367.2026.3" || got["cloudfax"] != "urn:oid:1.3.6.1.4.1.21367.2026.2" {
		t.Errorf("FolderSourceIDs = %v", got)
	}
}

// TestFaxLines: a fax inbox's lines are checked with their field path; an
// EHR drop has no fax lines.
func TestFaxLines(t *testing.T) {
	const head = "fax: {source_id: 1.2.840.99999.1}\nsources:\n  folders:\n"
	for _, tc := range []struct{ yml, want string }{
		{head + "    - {name: fax, kind: fax, path: /srv/fax, lines: [{called: '+1 555 010 0100', doctype: lab}, {subaddress: '22', doctype: referral}]}\n", ""},
		{head + "    - {name: fax, kind: hylafax, path: /srv/recvq, lines: [{called: '5550100100', doctype: bills}]}\n", "sources.folders[0].lines[0].doctype"},
		{head + "    - {name: fax, kind: fax, path: /srv/fax, lines: [{doctype: lab}]}\n", "sources.folders[0].lines[0]: give called"},
		{head + "    - {name: fax, kind: fax, path: /srv/fax, lines: [{called: '5550100177', security: [R, 42CFRPart2]}]}\n", ""},
		{head + "    - {name: fax, kind: fax, path: /srv/fax, lines: [{called: '5550100177', security: [MASK]}]}\n", "sources.folders[0].lines[0].security[0]"},
		{head + "    - {name: ehr, kind: ehr, path: /srv/ehr, lines: [{called: '5550100100', doctype: lab}]}\n", "sources.folders[0].lines: fax lines are for fax inboxes"},
		{head + "    - {name: fax, kind: fax, path: /srv/fax, lines: [{called: '5550100100', doctype: lab, route: x}]}\n", "route"},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}

// TestFaxKeysInEHRFolder: patterns, time_zone and xferfaxlog are a fax
// inbox's (README: "sources.folders[].time_zone (fax)"); an ehr folder
// read none of them, so one given there is refused, as its lines are,
// rather than taken and ignored (HL7 v2 times read in another zone).
func TestFaxKeysInEHRFolder(t *testing.T) {
	const head = "sources:\n  folders:\n"
	for _, tc := range []struct{ yml, want string }{
		{head + "    - {name: ehr, kind: ehr, path: /srv/ehr, time_zone: America/Chicago}\n", "sources.folders[0].time_zone: is for fax inboxes"},
		{head + "    - {name: ehr, kind: ehr, path: /srv/ehr, patterns: ['^(?P<mrn>\\d+)']}\n", "sources.folders[0].patterns: are for fax inboxes"},
		{head + "    - {name: ehr, kind: ehr, path: /srv/ehr, xferfaxlog: /var/spool/hylafax/etc/xferfaxlog}\n", "sources.folders[0].xferfaxlog: is for fax inboxes"},
		{head + "    - {name: ehr, path: /srv/ehr, time_zone: America/Chicago}\n", "sources.folders[0].time_zone"},
		{"fax: {source_id: 1.2.840.99999.1}\n" + head + "    - {name: fax, kind: fax, path: /srv/fax, time_zone: America/Chicago, patterns: ['^(?P<mrn>\\d+)']}\n", ""},
		{"fax: {source_id: 1.2.840.99999.1}\n" + head + "    - {name: fax, kind: hylafax, path: /srv/recvq, xferfaxlog: /srv/etc/xferfaxlog}\n", ""},
	} {
		expectProblem(t, tc.yml, tc.want)
	}
}

// expectProblem parses and validates yml: want "" expects no problem,
// anything else a problem whose text holds it.
func expectProblem(t *testing.T, yml, want string) {
	t.Helper()
	c, err := Parse("t.yaml", []byte(yml))
	if err == nil {
		err = c.Validate()
	}
	switch {
	case want == "" && err != nil:
		t.Errorf("%q: %v", yml, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%q: %v, want a %s problem", yml, err, want)
	}
}
