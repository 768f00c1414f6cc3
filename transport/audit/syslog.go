package audit

import (
	"strconv"
	"strings"
	"time"
)

// Syslog header values fixed by IHE ITI-20.
const (
	// PRI is facility 10 (security/authorization) × 8 + severity 5 (notice).
	PRI = 85
	// AppName is the RFC 5424 APP-NAME.
	AppName = "ferry"
	// MsgID is the MSGID ITI-20 requires for DICOM/RFC 3881 audit XML.
	MsgID = "IHE+RFC-3881"
)

// bom marks the MSG as UTF-8 (RFC 5424 §6.4).
var bom = []byte{0xEF, 0xBB, 0xBF}

// Header holds the per-host parts of the syslog header.
type Header struct {
	Hostname string // "-" when empty
	ProcID   string // "-" when empty
}

// Format wraps msg (the audit XML) in an RFC 5424 message:
//
//	<85>1 2026-11-25T22:30:00.123Z host ferry 1234 IHE+RFC-3881 - BOM<AuditMessage…>
func (h Header) Format(t time.Time, msg []byte) []byte {
	b := make([]byte, 0, 96+len(msg))
	b = append(b, '<')
	b = strconv.AppendInt(b, PRI, 10)
	b = append(b, ">1 "...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ' ')
	b = append(b, headerField(h.Hostname, 255)...)
	b = append(b, ' ')
	b = append(b, AppName...)
	b = append(b, ' ')
	b = append(b, headerField(h.ProcID, 128)...)
	b = append(b, ' ')
	b = append(b, MsgID...)
	b = append(b, " - "...)
	b = append(b, bom...)
	return append(b, msg...)
}

// headerField makes s a valid RFC 5424 header field: printable US-ASCII
// without spaces, at most max octets, "-" when empty.
func headerField(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	if s == "" {
		return "-"
	}
	return s
}

// Message is a parsed RFC 5424 message, as a receiver sees it.
type Message struct {
	PRI      int
	Version  int
	Time     time.Time
	Hostname string
	AppName  string
	ProcID   string
	MsgID    string
	SD       string
	BOM      bool
	Msg      []byte
}

// Parse reads an RFC 5424 message whose structured data is "-" (as ferry
// writes them). It is here for tests, for tools that read syslog
// messages, and for converting messages an earlier ferry spooled.
func Parse(b []byte) (Message, error) {
	var m Message
	if len(b) < 4 || b[0] != '<' {
		return m, errSyntax("no PRI")
	}
	end := strings.IndexByte(string(b[:min(len(b), 6)]), '>')
	if end < 2 {
		return m, errSyntax("bad PRI")
	}
	pri, err := strconv.Atoi(string(b[1:end]))
	if err != nil || pri < 0 || pri > 191 {
		return m, errSyntax("bad PRI")
	}
	m.PRI = pri
	rest := string(b[end+1:])
	fields := make([]string, 0, 7)
	for range 7 {
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			fields = append(fields, rest)
			rest = ""
			break
		}
		fields = append(fields, rest[:i])
		rest = rest[i+1:]
	}
	if len(fields) < 7 {
		return m, errSyntax("header has fewer than seven fields")
	}
	if m.Version, err = strconv.Atoi(fields[0]); err != nil || m.Version != 1 {
		return m, errSyntax("version is not 1")
	}
	if m.Time, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
		return m, errSyntax("bad timestamp")
	}
	m.Hostname, m.AppName, m.ProcID, m.MsgID, m.SD = fields[2], fields[3], fields[4], fields[5], fields[6]
	if m.SD != "-" {
		return m, errSyntax("structured data other than \"-\" is not supported")
	}
	msg := []byte(rest)
	if len(msg) >= 3 && string(msg[:3]) == string(bom) {
		m.BOM = true
		msg = msg[3:]
	}
	m.Msg = msg
	return m, nil
}

type errSyntax string

func (e errSyntax) Error() string { return "parse syslog message: " + string(e) }
