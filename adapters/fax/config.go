// Package fax reads fax inboxes: the folders that fax servers, fax boards
// and cloud/e-mail fax services fill with received faxes. It is built on the
// watched-folder engine (adapters/folder), which finds, claims and settles
// the files; this package adds what is known about each fax without looking
// at the image (caller, called number, sender CSID, pages, receive time),
// links the fax to a patient and a document kind by file name patterns, and
// hands the result on as Raw{Format: "fax"} with the facts in Raw.Meta
// (faxfhir.Fax.Meta keys).
//
// Two inbox kinds:
//
//   - "fax": a plain folder of TIFF or PDF files, each optionally with a
//     sidecar of the same stem (x.json or x.xml) as cloud-fax webhooks and
//     fax-to-folder exports write: CallerNumber, CalledNumber, Pages, CSID,
//     receive time and so on. E-mailed faxes saved as .eml files (a
//     fax-to-e-mail service's messages, T.37 internet fax) are read for
//     their PDF or TIFF attachments, each a fax, with what the message's
//     text, subject, RFC 3192 address and date say of the call.
//   - "hylafax": a HylaFAX recvq (fax*.tif). faxgetty holds flock(LOCK_EX)
//     while it receives, and the engine never takes a locked file. The TSI
//     and caller id come from ImageDescription, the receive time from
//     DateTime, the modem from Make/Model, and etc/xferfaxlog's RECV record
//     (when readable) adds the communication id and the number dialled.
package fax

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/fhir"
	"github.com/ferry-health/ferry/adapters/folder"
)

// Kinds of fax inbox.
const (
	KindFax     = "fax"
	KindHylaFAX = "hylafax"
)

// Pattern group names a file name pattern may capture.
var patternGroups = []string{"mrn", "dob", "name", "doctype"}

// Config is one fax inbox: the watched folder plus fax-specific settings.
type Config struct {
	folder.Config `yaml:",inline"`
	// Patterns are regular expressions (Go syntax) matched against the file
	// name; the first that matches supplies its named groups mrn, dob, name
	// and doctype, e.g. `^(?P<doctype>[a-z]+)_(?P<mrn>\d+)_(?P<dob>\d{8})`.
	Patterns []string `yaml:"patterns"`
	// XferFaxLog is HylaFAX's etc/xferfaxlog; empty means <path>/../etc/xferfaxlog
	// when it exists. Only RECV records for the file are read.
	XferFaxLog string `yaml:"xferfaxlog"`
	// TimeZone is the IANA zone of the fax server's local times (TIFF
	// DateTime, xferfaxlog dates, sidecar times without offset). Empty means
	// the gateway's local zone.
	TimeZone string `yaml:"time_zone"`
	// Lines say what the faxes received on each of the practice's fax
	// lines are: the number dialled (DID) or the T.30 subaddress routes a
	// fax (STANDARDS.md §5), and a sender's TSI cannot be trusted to. The
	// first line that matches and gives a kind gives the fax its document
	// kind when neither a sidecar nor a file name pattern gave one; every
	// line that matches gives it its security labels.
	Lines []Line `yaml:"lines"`
}

// Line is one fax line of a practice: the faxes dialled to its number, or
// sent to its subaddress, are of one kind (the lab results line, the
// referrals line).
type Line struct {
	// Called is the number dialled (the DID, HylaFAX's local number,
	// a sidecar's CalledNumber), compared by its digits only: "+1 (555)
	// 010-0100" is "15550100100", and matches "5550100100" too, since a
	// fax server may drop the country code (the shorter must have at
	// least 7 digits to match the end of the longer).
	Called string `yaml:"called"`
	// SubAddress is the T.30 subaddress (HylaFAX's FaxSubAddress tag, a
	// sidecar's SubAddress), compared as written. With Called set too,
	// both must match.
	SubAddress string `yaml:"subaddress"`
	// DocType is the kind of document the line's faxes are, a kind
	// faxfhir.DocType knows ("lab", "referral" ...).
	DocType string `yaml:"doctype"`
	// Security labels every fax of the line, whatever its sidecar says:
	// v3 confidentiality codes (R, V) and v3-ActCode sensitivity or policy
	// codes (PSY, SUD, 42CFRPart2), e.g. [R, 42CFRPart2] for the fax line
	// of a substance use disorder program, so that exchange.hold keeps its
	// faxes back. Without a confidentiality code here the inbox's
	// (fax.confidentiality) applies.
	Security []string `yaml:"security"`
}

// digits is s with everything but its ASCII digits left out.
func digits(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// sameNumber reports whether two phone numbers are the same by their
// digits: equal, or the shorter (of 7 digits or more) ending the longer.
func sameNumber(a, b string) bool {
	a, b = digits(a), digits(b)
	if len(a) > len(b) {
		a, b = b, a
	}
	if a == "" {
		return false
	}
	return a == b || len(a) >= 7 && strings.HasSuffix(b, a)
}

// matches reports whether a fax dialled to called with subaddress sub
// came in on line l.
func (l Line) matches(called, sub string) bool {
	if l.Called != "" && !sameNumber(l.Called, called) {
		return false
	}
	if l.SubAddress != "" && strings.TrimSpace(l.SubAddress) != strings.TrimSpace(sub) {
		return false
	}
	return l.Called != "" || l.SubAddress != ""
}

func (l Line) validate(i int) []error {
	var errs []error
	at := fmt.Sprintf("lines[%d]", i)
	switch {
	case l.Called == "" && strings.TrimSpace(l.SubAddress) == "":
		errs = append(errs, fmt.Errorf("%s: give called (the number dialled) or subaddress", at))
	case l.Called != "" && digits(l.Called) == "":
		errs = append(errs, fmt.Errorf("%s.called: %q has no digits", at, l.Called))
	}
	switch {
	case l.DocType == "" && len(l.Security) == 0:
		errs = append(errs, fmt.Errorf("%s: give doctype (one of %s) or security, or both", at, strings.Join(faxfhir.DocTypeNames(), ", ")))
	case l.DocType != "":
		if _, ok := faxfhir.DocType(l.DocType); !ok {
			errs = append(errs, fmt.Errorf("%s.doctype: %q is not a kind ferry knows (one of %s)", at, l.DocType, strings.Join(faxfhir.DocTypeNames(), ", ")))
		}
	}
	for j, c := range l.Security {
		if !fhir.DescribesData(c) {
			errs = append(errs, fmt.Errorf("%s.security[%d]: %q is not a confidentiality (R, V ...), sensitivity (PSY, SUD, HIV ...) or policy (42CFRPart2) code", at, j, c))
		}
	}
	return errs
}

// DefaultConfig returns the defaults for kind (KindFax or KindHylaFAX).
func DefaultConfig(kind string) Config {
	c := Config{Config: folder.DefaultConfig()}
	c.Kind = kind
	c.Include, c.Sidecars = defaultsFor(kind)
	return c
}

func defaultsFor(kind string) (include, sidecars []string) {
	if kind == KindHylaFAX {
		return []string{"fax*.tif"}, nil
	}
	// Extensions in any case, as sidecars match: "x.Pdf" and "x.Tif" are
	// faxes too, and would otherwise lie in the inbox unseen.
	return []string{"*.[tT][iI][fF]", "*.[tT][iI][fF][fF]", "*.[pP][dD][fF]", "*.[eE][mM][lL]"}, []string{".json", ".xml", ".JSON", ".XML"}
}

func (c Config) withDefaults() Config {
	include, sidecars := defaultsFor(c.Kind)
	if c.Include == nil {
		c.Include = include
	}
	if c.Sidecars == nil {
		c.Sidecars = sidecars
	}
	return c
}

// Validate checks the configuration without touching the disk.
func (c *Config) Validate() error {
	var errs []error
	if c.Kind != KindFax && c.Kind != KindHylaFAX {
		errs = append(errs, fmt.Errorf("kind: must be fax or hylafax for a fax inbox; got %q", c.Kind))
	}
	// With the kind's include and sidecars, as the inbox runs: a fax
	// inbox's sidecar_required needs no sidecars list of its own.
	fc := c.withDefaults().Config
	if err := fc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := compilePatterns(c.Patterns); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, zoneAndLines(c.TimeZone, c.Lines)...)
	return errors.Join(errs...)
}

// zoneAndLines checks the settings a fax inbox and a fax mailbox share:
// the time zone of the times without one, and the fax lines.
func zoneAndLines(tz string, lines []Line) []error {
	var errs []error
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			errs = append(errs, fmt.Errorf("time_zone: %w", err))
		}
	}
	for i, l := range lines {
		errs = append(errs, l.validate(i)...)
	}
	return errs
}

func compilePatterns(ps []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for i, p := range ps {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("patterns[%d]: %w", i, err)
		}
		named := 0
		for _, n := range re.SubexpNames() {
			if n == "" {
				continue
			}
			if !slices.Contains(patternGroups, n) {
				return nil, fmt.Errorf("patterns[%d]: unknown group %q (want mrn, dob, name, doctype)", i, n)
			}
			named++
		}
		if named == 0 {
			return nil, fmt.Errorf("patterns[%d]: no named group (mrn, dob, name, doctype)", i)
		}
		out = append(out, re)
	}
	return out, nil
}
