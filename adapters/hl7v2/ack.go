package hl7v2

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ferry-health/ferry/queue"
)

// Acknowledgement codes (HL7 table 0008). The A* codes belong to original
// mode; the C* codes are the accept acknowledgements of enhanced mode, which
// a receiver sends once the message is "committed to safe storage".
const (
	CodeAA = "AA" // application accept
	CodeAE = "AE" // application error: fix the message, then resend
	CodeAR = "AR" // application reject: unsupported, or try again later
	CodeCA = "CA" // commit accept
	CodeCE = "CE" // commit error
	CodeCR = "CR" // commit reject
)

// Acknowledgement conditions (HL7 table 0155), the values of MSH-15 (accept
// acknowledgement) and MSH-16 (application acknowledgement) that tell the
// receiver when the sender wants an acknowledgement.
const (
	CondAlways  = "AL" // always
	CondNever   = "NE" // never
	CondError   = "ER" // only on error or reject (CE/CR, AE/AR)
	CondSuccess = "SU" // only on successful completion (CA, AA)
)

// Condition normalises a table 0155 value as read from MSH-15 or MSH-16:
// case and surrounding spaces are ignored, and an empty or unrecognised
// value counts as AL. Treating a value ferry does not know as "always" errs
// on the side of answering: a sender that gets an ACK it did not want
// discards it, one that waits for an ACK that never comes stalls its feed.
func Condition(v string) string {
	v = strings.TrimSpace(v)
	for _, c := range [...]string{CondAlways, CondNever, CondError, CondSuccess} {
		if strings.EqualFold(v, c) {
			return c
		}
	}
	return CondAlways
}

// AcceptAckDue reports whether an enhanced-mode accept acknowledgement with
// the given code (CA, CE or CR) is to be sent under condition, an MSH-15
// value (see Condition): AL always, NE never, ER only when the message was
// not accepted (CE, CR), SU only when it was (CA). The same rule decides an
// application acknowledgement (AA, AE, AR) under MSH-16 (BuildAppAck).
func AcceptAckDue(condition, code string) bool {
	switch Condition(condition) {
	case CondNever:
		return false
	case CondError:
		return code != CodeCA && code != CodeAA
	case CondSuccess:
		return code == CodeCA || code == CodeAA
	}
	return true
}

// Error codes of HL7 table 0357 that ferry uses in ERR-3.
const (
	ErrSegmentSequence  = "100"
	ErrRequiredMissing  = "101"
	ErrDataType         = "102"
	ErrTableValue       = "103"
	ErrUnsupportedType  = "200"
	ErrUnsupportedEvent = "201"
	ErrUnsupportedProc  = "202"
	ErrUnsupportedVer   = "203"
	ErrRecordLocked     = "206"
	ErrApplication      = "207"
)

// errText is the table 0357 display text, written beside the code in ERR-3.
var errText = map[string]string{
	"0":   "Message accepted",
	"100": "Segment sequence error",
	"101": "Required field missing",
	"102": "Data type error",
	"103": "Table value not found",
	"104": "Value too long",
	"200": "Unsupported message type",
	"201": "Unsupported event code",
	"202": "Unsupported processing id",
	"203": "Unsupported version id",
	"204": "Unknown key identifier",
	"205": "Duplicate key identifier",
	"206": "Application record locked",
	"207": "Application internal error",
}

// AckError is an error a converter (or any Consumer) returns to choose the
// HL7 acknowledgement precisely. Code is AE (the sender must fix the
// message) or AR (unsupported message type/event/version, or the receiver
// cannot take it now); enhanced mode maps them to CE/CR. ErrCode is a table
// 0357 code for ERR-3. Segment and Field locate the problem (Field 0: the
// whole segment). Text is sent to the sender in the ERR segment; it may name
// values and so is never logged unless PHI logging is on.
//
// The Consumer contract still applies around it: wrap an AckError with
// queue.Permanent when the input was quarantined. BuildAck finds an AckError
// anywhere in the error chain and lets it decide the code.
type AckError struct {
	Code    string // AE or AR
	ErrCode string // HL7 table 0357, e.g. "101", "200"
	Segment string // segment ID, e.g. "PID"; empty when not tied to one
	// Sequence is which occurrence of Segment (1-based, ERR-2.2); 0
	// means the first. A frame's second MSH is MSH^2.
	Sequence int
	Field    int    // 1-based field number; 0 when not tied to one
	Text     string // human-readable reason
}

// Error describes the problem and where it is.
func (e *AckError) Error() string {
	var b strings.Builder
	b.WriteString("hl7v2 ")
	b.WriteString(strings.ToLower(e.Code))
	if e.ErrCode != "" {
		b.WriteString(" " + e.ErrCode)
	}
	if e.Segment != "" {
		b.WriteString(" at " + e.Segment)
		if e.Sequence > 1 {
			b.WriteString("[" + strconv.Itoa(e.Sequence) + "]")
		}
		if e.Field > 0 {
			b.WriteString("-" + strconv.Itoa(e.Field))
		}
	}
	if e.Text != "" {
		b.WriteString(": " + e.Text)
	}
	return b.String()
}

// Ack is an acknowledgement built for one received message.
type Ack struct {
	// Code is the MSA-1 code sent: AA/AE/AR, or CA/CE/CR in enhanced mode.
	Code string
	// Enhanced is true when the message asked for enhanced mode (MSH-15 or
	// MSH-16 valued).
	Enhanced bool
	// Suppressed is true when the sender asked, in MSH-15, not to get this
	// accept acknowledgement (NE; ER and the message was accepted; SU and
	// it was not; see AcceptAckDue). The ACK is built all the same, so that
	// Code and MessageControlID can be counted and logged; the caller sends
	// nothing for the message. Original-mode ACKs are never suppressed.
	Suppressed bool
	// AppAckRequested is true when MSH-16 asks for an application
	// acknowledgement (any value other than NE). BuildAck never builds
	// one: as a store-and-forward gateway ferry is not the application,
	// which is the exchange reached later. A listener configured to stand
	// in for it sends BuildAppAck's; callers count these requests either
	// way, so that operators can spot senders waiting for something that
	// will not come.
	AppAckRequested bool
	// MessageControlID is MSH-10 of the acknowledged message, echoed in MSA-2
	// (empty when it could not be read). It is not PHI and may be logged.
	MessageControlID string
	// ControlID is MSH-10 of the ACK itself.
	ControlID string
	// Bytes is the ACK message, CR-terminated segments, without MLLP framing.
	Bytes []byte
}

// ControlIDs hands out MSH-10 values for ferry's own messages. They must
// never repeat for this sending application, also across restarts (IHE PCD
// "MSH-10"), so the counter starts at the clock in nanoseconds; rendered in
// base 36 the id stays 13 characters, within MSH-10's 20-character limit of
// v2.3–v2.5.
type ControlIDs struct{ n atomic.Uint64 }

// NewControlIDs returns a generator seeded from the clock.
func NewControlIDs() *ControlIDs {
	c := &ControlIDs{}
	c.n.Store(uint64(time.Now().UnixNano()))
	return c
}

// Next returns a new control id.
func (c *ControlIDs) Next() string {
	var buf [16]byte // 36^13 > 2^64: 13 digits at most
	b := strconv.AppendUint(buf[:0], c.n.Add(1), 36)
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
	}
	return string(b)
}

// header is what BuildAck reads from the MSH segment of the message being
// acknowledged, as raw (still escaped) field values, so that they can be
// copied into the ACK unchanged: the ACK uses the same delimiters.
type header struct {
	d      Delimiters
	fields []string // fields[n] is MSH-n; fields[1] is the field separator
	// added are the encoding characters the ACK declares that the
	// message did not (its MSH-2 was short): in the message they were
	// plain text, so echo escapes them.
	added []byte
}

// echo returns MSH-n to be copied into the ACK: as received, but for the
// characters that are plain text in the message and delimiters in the
// ACK, which are escaped (MSH-2 "^~\" leaves '&' plain text: a control
// id "A&B" written raw under the ACK's "^~\&" would read "A").
func (h header) echo(n int) string {
	v := h.get(n)
	if len(h.added) == 0 || !strings.ContainsAny(v, string(h.added)) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		code := ""
		if bytes.IndexByte(h.added, c) >= 0 {
			switch c {
			case h.d.Component:
				code = "S"
			case h.d.Repetition:
				code = "R"
			case h.d.Escape:
				code = "E"
			case h.d.Subcomponent:
				code = "T"
			}
		}
		if code == "" {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(h.d.Escape)
		b.WriteString(code)
		b.WriteByte(h.d.Escape)
	}
	return b.String()
}

// ackField is the last MSH field the ACK reads (MSH-20, character
// switching); header keeps none after it.
const ackField = 20

func (h header) get(n int) string {
	if n < len(h.fields) {
		return h.fields[n]
	}
	return ""
}

// readHeader reads the MSH segment of msg as far as it can. It works on
// input Parse would reject (wrong segment terminators, junk after the
// header), because even a broken message deserves an ACK naming its MSH-10.
func readHeader(msg []byte) (header, bool) {
	h := header{d: DefaultDelimiters}
	// What Parse skips before the MSH (byte-order marks, blanks, line
	// ends, start blocks), in any order: a message it reads is named.
	msg = TrimEnvelope(msg)
	i := bytes.Index(msg, []byte("MSH"))
	if i < 0 || len(msg) < i+8 {
		return h, false
	}
	if i > 0 && msg[i-1] != '\r' && msg[i-1] != '\n' && strings.TrimSpace(string(msg[:i])) != "" {
		return h, false
	}
	seg := msg[i:]
	if j := bytes.IndexAny(seg, "\r\n"); j >= 0 {
		seg = seg[:j]
	}
	if len(seg) < 8 {
		return h, false
	}
	fs := seg[3]
	if !okDelim(fs) {
		return h, false
	}
	rest := string(seg[4:]) // one copy; the fields below are slices of it
	enc, _, _ := strings.Cut(rest, string(fs))
	if len(enc) < 1 || len(enc) > 5 {
		return h, false
	}
	// Delimiters must be printable and distinct, or the ACK written with
	// them could not be read back.
	var seen [256]bool
	seen[fs] = true
	for i := 0; i < len(enc); i++ {
		if !okDelim(enc[i]) || seen[enc[i]] {
			return h, false
		}
		seen[enc[i]] = true
	}
	// Parse reads a message that declares fewer than four encoding
	// characters (MSH-2 "^~\" without "&", as some older systems send), so its ACK
	// must name the message too. The ACK declares the ones missing
	// with their usual values, so that it has all it writes with, or
	// with another character where the message took the usual one for
	// an earlier slot (MSH-2 "^~&" makes '&' the escape character).
	slots := [...]byte{0, 0, 0, 0, 0}
	copy(slots[:], enc)
	for i, def := range [...]byte{DefaultDelimiters.Component, DefaultDelimiters.Repetition, DefaultDelimiters.Escape, DefaultDelimiters.Subcomponent} {
		if slots[i] != 0 {
			continue
		}
		for _, c := range []byte{def, '^', '~', '\\', '&', '#', '$', '*', '@'} {
			if !seen[c] {
				slots[i], seen[c] = c, true
				h.added = append(h.added, c)
				break
			}
		}
	}
	h.d = Delimiters{Field: fs, Component: slots[0], Repetition: slots[1], Escape: slots[2], Subcomponent: slots[3], Truncation: slots[4]}
	// The ACK reads MSH-3 to MSH-20 (ackField): the fields after them
	// are not split, so a header of a great many fields costs no more
	// than its one copy in rest.
	h.fields = make([]string, 0, ackField+1)
	h.fields = append(h.fields, "MSH", string(fs))
	// rest is seg[4:] as a string: a separator found in one is at the
	// same offset in the other.
	set, raw := headerSet(seg, fs, []byte(enc)), seg[4:]
	for {
		i := indexSep(raw, fs, set)
		p := rest
		if i >= 0 {
			p, rest, raw = rest[:i], rest[i+1:], raw[i+1:]
		}
		// Control characters (MLLP framing bytes among them) must never
		// be echoed into the ACK, but for the designations of a header
		// that switches sets with them.
		if set == iso2022Header {
			h.fields = append(h.fields, echoISO2022(p))
		} else {
			h.fields = append(h.fields, dropControls(p))
		}
		if i < 0 || len(h.fields) > ackField {
			break
		}
	}
	if set == nil {
		// A header that is not valid in the double-byte set it names
		// (a field ends in the first byte of a character) was split
		// by bytes; echoed before a separator, that byte would take
		// the separator into its character in the ACK, which declares
		// the set, and shift the fields after it.
		label, _, _ := strings.Cut(h.get(18), string(h.d.Repetition))
		label, _, _ = strings.Cut(label, string(h.d.Component))
		if e, _ := lookupCharset([]byte(label)); slices.Contains(doubleByteSets[:], e) {
			for n, f := range h.fields {
				h.fields[n] = wholeChars(e, f)
			}
		}
	}
	return h, true
}

// dropControls removes the control bytes (below 0x20, and DEL) from s and
// keeps every other byte as it is. It works on bytes, not runes: a header
// in a single-byte character set (MSH-18 8859/1) is not UTF-8, and
// strings.Map would turn its accented letters into U+FFFD, so that the
// ACK, labelled with the same MSH-18, would carry another facility name
// and MSA-2 another control id than the message.
func dropControls(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= ' ' && c != 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

func okDelim(c byte) bool {
	return c > ' ' && c < 0x7f && (c < '0' || c > '9') && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z')
}

// cond returns MSH-n, an acknowledgement condition (MSH-15, MSH-16), with
// HL7's explicit null `""` read as empty: the mode rule is "both null (or
// not present): original mode", and senders that fill every empty field
// with `""` wait for AA like any original-mode sender.
func (h header) cond(n int) string {
	if v := h.get(n); v != `""` {
		return v
	}
	return ""
}

// component returns the n-th (1-based) component of a raw field value's
// first repetition.
func (h header) component(v string, n int) string {
	if i := strings.IndexByte(v, h.d.Repetition); i >= 0 {
		v = v[:i]
	}
	for range n - 1 {
		i := strings.IndexByte(v, h.d.Component)
		if i < 0 {
			return ""
		}
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, h.d.Component); i >= 0 {
		v = v[:i]
	}
	return v
}

// BuildAck builds the acknowledgement for msg given the Consumer's result
// (see adapters.Consumer): nil → AA; queue.IsPermanent(result) → AE; any
// other error → AR; an *AckError anywhere in the chain chooses AE or AR
// itself. When MSH-15 or MSH-16 is valued the message asked for enhanced
// mode, and the codes become the accept acknowledgements CA/CE/CR (HL7 v2
// table 0008; v2.3 §2.13.2). MSH-15 then decides, by table 0155, whether
// the accept acknowledgement is sent at all (Ack.Suppressed; an empty MSH-15
// beside a valued MSH-16 means AL). MSH-16 only sets Ack.AppAckRequested:
// ferry stores and forwards, and sends application acknowledgements only
// where a listener is configured to stand in for the application
// (BuildAppAck).
//
// The ACK swaps sender and receiver (MSH-3/4 ↔ MSH-5/6), keeps the
// delimiters, processing id, version and character set, answers MSH-9 with
// ACK^<trigger>^ACK, echoes MSH-10 in MSA-2 and, on AE/AR, explains the
// problem in an ERR segment (ERR-2 location, ERR-3 table 0357 code, ERR-4
// severity E, ERR-8 text; before v2.5 the same in ERR-1). A message whose
// header cannot be read still gets an ACK, with default delimiters and an
// empty MSA-2, so the sender learns that it was rejected rather than timing
// out.
func BuildAck(msg []byte, result error, controlID string, now time.Time) Ack {
	return buildAck(msg, result, controlID, now, false, "")
}

// BuildAppAck builds the enhanced-mode application acknowledgement for msg
// given the Consumer's result, as BuildAck builds the accept
// acknowledgement, and reports whether it is due: only when msg asked for
// enhanced mode and its MSH-16 (table 0155, see AcceptAckDue) calls for
// one with this outcome. MSH-16 empty or NE, or an original-mode message
// (whose AA/AE/AR is already the application's answer), gets none. The
// codes are the original ones (AA, AE, AR, with the same ERR segment), and
// MSH-15 and MSH-16 of the acknowledgement are NE: it is a message of its
// own, and wants nothing back.
func BuildAppAck(msg []byte, result error, controlID string, now time.Time) (Ack, bool) {
	a := buildAck(msg, result, controlID, now, true, "")
	return a, !a.Suppressed
}

// buildAck is BuildAck, or BuildAppAck when app is set; expected, when
// not empty, is MSA-4 (see BuildAckExpecting).
func buildAck(msg []byte, result error, controlID string, now time.Time, app bool, expected string) Ack {
	h, ok := readHeader(msg)
	if !ok && result == nil {
		// Nothing acknowledges an unreadable message as accepted.
		result = queue.Permanent(&AckError{Code: CodeAE, ErrCode: ErrSegmentSequence, Segment: "MSH", Text: "message header (MSH) cannot be read"})
	}
	code, ae := classify(result)
	if !ok && ae.Segment == "" {
		ae.Segment, ae.ErrCode = "MSH", ErrSegmentSequence
		if ae.Text == "" || result != nil {
			ae.Text = "message header (MSH) cannot be read"
		}
	}
	acceptCond, appCond := h.cond(15), h.cond(16)
	enhanced := acceptCond != "" || appCond != ""
	if enhanced && !app {
		code = map[string]string{CodeAA: CodeCA, CodeAE: CodeCE, CodeAR: CodeCR}[code]
	}
	version := h.component(h.echo(12), 1) // as the ACK declares it
	fs := string(h.d.Field)
	a := Ack{Code: code, Enhanced: enhanced, MessageControlID: h.get(10), ControlID: controlID}
	appCond = h.component(appCond, 1)
	a.AppAckRequested = enhanced && appCond != "" && Condition(appCond) != CondNever
	switch {
	case app:
		a.Suppressed = !a.AppAckRequested || !AcceptAckDue(appCond, code)
	case enhanced:
		a.Suppressed = !AcceptAckDue(h.component(acceptCond, 1), code)
	}

	var b bytes.Buffer
	b.Grow(256)
	sendApp, sendFac := h.echo(5), h.echo(6)
	if sendApp == "" && sendFac == "" {
		sendApp = "FERRY"
	}
	b.WriteString("MSH")
	b.WriteString(fs)
	b.WriteString(h.d.EncodingCharacters())
	var tsBuf [32]byte
	ts := now.AppendFormat(tsBuf[:0], "20060102150405-0700")
	if sign := ts[len(ts)-5]; h.d.needsEscape(string(sign)) {
		// A sender whose delimiters include '-' or '+' would read the
		// offset's sign as one: the time goes without its offset,
		// which TS/DTM allow, rather than splitting MSH-7.
		ts = ts[:len(ts)-5]
	}
	var ne string
	if enhanced {
		ne = "NE" // the ACK itself wants no acknowledgement
	}
	msh := [...]string{
		sendApp, sendFac, h.echo(3), h.echo(4), // MSH-3..6 swapped
		"", "", // MSH-7 (written from ts below), MSH-8
		ackType(h, version), // MSH-9
		controlID,           // MSH-10
		orDefault(h.echo(11), "P"),
		orDefault(h.echo(12), "2.5"),
		"", "", // MSH-13, 14
		ne, ne, // MSH-15, 16
		"", h.echo(18), // MSH-17, MSH-18 (same character set)
		"", h.echo(20), // MSH-19, MSH-20 (same character switching)
	}
	n := len(msh)
	for n > 0 && msh[n-1] == "" && n != 5 { // MSH-7 (index 4) is never empty
		n--
	}
	for i, f := range msh[:n] {
		b.WriteString(fs)
		if i == 4 {
			b.Write(ts)
			continue
		}
		b.WriteString(f)
	}
	b.WriteString("\r")
	b.WriteString("MSA" + fs + code + fs + h.echo(10))
	msa3 := ""
	if code != CodeAA && code != CodeCA && old(version) {
		// ERR-1 has no room for free text, so it goes in MSA-3.
		msa3 = h.text(ae.Text)
		if msa3 == "" {
			msa3 = h.text(errText[ae.ErrCode])
		}
	}
	msaTail(&b, fs, msa3, expected)
	if code != CodeAA && code != CodeCA {
		b.WriteString("\r")
		writeERR(&b, h, version, ae)
	}
	b.WriteString("\r")
	a.Bytes = b.Bytes()
	return a
}

// classify maps a Consumer result to an original-mode code and the details
// for ERR.
func classify(result error) (string, AckError) {
	if result == nil {
		return CodeAA, AckError{}
	}
	var ae *AckError
	if errors.As(result, &ae) {
		out := *ae
		if out.Code != CodeAR {
			out.Code = CodeAE
		}
		if out.ErrCode == "" {
			out.ErrCode = ErrApplication
		}
		if out.Text == "" {
			out.Text = errText[out.ErrCode]
		}
		return out.Code, out
	}
	out := AckError{Code: CodeAR, ErrCode: ErrApplication, Text: result.Error()}
	if queue.IsPermanent(result) {
		out.Code = CodeAE
	}
	var pe *ParseError
	if errors.As(result, &pe) {
		out.Segment, out.Field = pe.Name, pe.Field
		out.ErrCode = ErrSegmentSequence
		if pe.Field > 0 {
			out.ErrCode = ErrDataType
		}
	}
	return out.Code, out
}

// ackType renders MSH-9 of the ACK. The third component (message
// structure) exists from v2.3.1 on; older versions have two.
func ackType(h header, version string) string {
	c := string(h.d.Component)
	trigger := h.component(h.echo(9), 2)
	if trigger == "" {
		return "ACK"
	}
	switch version {
	case "2.1", "2.2", "2.3":
		return "ACK" + c + trigger
	}
	return "ACK" + c + trigger + c + "ACK"
}

// writeERR writes the ERR segment (without its terminator).
func writeERR(b *bytes.Buffer, h header, version string, ae AckError) {
	d := h.d
	fs, cs, ss := string(d.Field), string(d.Component), string(d.Subcomponent)
	text := h.text(ae.Text)
	field := ""
	if ae.Field > 0 {
		field = strconv.Itoa(ae.Field)
	}
	seq := ""
	if ae.Segment != "" {
		seq = strconv.Itoa(max(ae.Sequence, 1))
	}
	display := h.text(errText[ae.ErrCode])
	// An invalid segment name (a ParseError's, quoted) may hold
	// delimiters or the escape character.
	segment := h.text(ae.Segment)
	if old(version) {
		// v2.1–v2.4: ERR-1 (ELD) = segment^sequence^field^code&text&HL70357.
		b.WriteString("ERR" + fs + segment + cs + seq + cs + field + cs + ae.ErrCode + ss + display + ss + "HL70357")
		return
	}
	loc := ""
	if ae.Segment != "" {
		loc = segment + cs + seq
		if field != "" {
			loc += cs + field
		}
	}
	// ERR-1 empty, ERR-2 location, ERR-3 code, ERR-4 severity, ERR-5..7 empty, ERR-8 user message.
	b.WriteString("ERR" + fs + fs + loc + fs + ae.ErrCode + cs + display + cs + "HL70357" + fs + "E" + fs + fs + fs + fs + text)
}

// old reports whether version predates v2.5, where ERR has only ERR-1.
func old(version string) bool {
	switch version {
	case "2.1", "2.2", "2.3", "2.3.1", "2.4":
		return true
	}
	return false
}

// text makes free text safe inside a field of the ACK: escaped with the
// message's own delimiters (Delimiters.Encode: \F\ \S\ ... and \Xhh\ for
// control characters, which MLLP cannot carry), bounded so that a huge
// error message cannot bloat the ACK, and written in the character set the
// ACK declares in MSH-18, the message's (see ackCharset).
func (h header) text(s string) string {
	const maxText = 512
	if len(s) > maxText {
		s = strings.ToValidUTF8(s[:maxText], "")
	}
	return ackCharset(h.component(h.get(18), 1)).encode(h.d.Encode(s))
}

// textCharset is how the ACK's free text is written: as UTF-8, in a
// single-byte character set, or (cm nil, utf8 false) as ASCII.
type textCharset struct {
	cm   *charmap.Charmap
	utf8 bool
}

// ackCharset is the character set for an ACK whose MSH-18 is label (its
// first repetition, the default set). ferry's texts are UTF-8; a sender
// that declared 8859/1 reads the ACK as 8859/1, where UTF-8 "é" is two
// wrong letters. UTF-8 labels keep UTF-8 and single-byte sets (ISO 8859,
// windows-1252) get their bytes; everything else is ASCII: no label (HL7's
// default is 7-bit ASCII), an unknown one, and the multi-byte sets, whose
// bytes can hold the delimiters and the escape character.
func ackCharset(label string) textCharset {
	up := strings.ToUpper(strings.TrimSpace(label))
	enc, known := charsets[up]
	if cm, ok := enc.(*charmap.Charmap); ok {
		return textCharset{cm: cm}
	}
	if known && enc == nil && up != "ASCII" && up != "ISO IR6" {
		return textCharset{utf8: true}
	}
	return textCharset{}
}

// encode writes s, UTF-8, in the character set; a character it cannot
// represent becomes '?'.
func (c textCharset) encode(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	if c.utf8 {
		return strings.ToValidUTF8(s, "?")
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 {
			b = append(b, byte(r))
			continue
		}
		if c.cm != nil && r != utf8.RuneError {
			if x, ok := c.cm.EncodeRune(r); ok {
				b = append(b, x)
				continue
			}
		}
		b = append(b, '?')
	}
	return string(b)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
