package fax

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/ferry-health/ferry/adapters/convert/faxfhir"
	"github.com/ferry-health/ferry/adapters/convert/faxfhir/tiffpdf"
	"github.com/ferry-health/ferry/config/configtext"
)

// fromTIFF fills what the TIFF tags say (HylaFAX writes all of these; other
// fax software some). Fields already set are kept.
func fromTIFF(f *faxfhir.Fax, tf *tiffpdf.File, loc *time.Location) {
	if f.Pages == 0 {
		f.Pages = len(tf.Pages)
	}
	p := tf.Pages[0]
	if p.ImageDescription != "" {
		setIf(&f.CSID, p.TSI())
		number, name := parseCallID(p.CallID())
		setIf(&f.CallerNumber, number)
		setIf(&f.CallerName, name)
	}
	if t, err := time.ParseInLocation("2006:01:02 15:04:05", strings.TrimSpace(p.DateTime), loc); err == nil && f.Received.IsZero() {
		f.Received = t
	}
	setIf(&f.Modem, strings.TrimSpace(strings.TrimSpace(p.Make)+" "+strings.TrimSpace(p.Model)))
	setIf(&f.SubAddress, strings.TrimSpace(p.FaxSubAddress))
}

func setIf(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// parseCallID reads HylaFAX's caller-id lines. HylaFAX+ writes
// "label\tvalue" (CIDNumber, CIDName); older versions write bare values,
// number first.
func parseCallID(lines []string) (number, name string) {
	var bare []string
	for _, l := range lines {
		label, value, ok := strings.Cut(l, "\t")
		if !ok {
			bare = append(bare, strings.TrimSpace(l))
			continue
		}
		value = strings.TrimSpace(value)
		switch lbl := strings.ToLower(label); {
		case strings.Contains(lbl, "name"):
			setIf(&name, value)
		case strings.Contains(lbl, "num") || strings.Contains(lbl, "nmbr"):
			setIf(&number, value)
		}
	}
	if len(bare) > 0 {
		setIf(&number, bare[0])
	}
	if len(bare) > 1 {
		setIf(&name, bare[1])
	}
	return number, name
}

// xferRecord is the part of an xferfaxlog RECV record ferry uses.
type xferRecord struct {
	when        time.Time
	commID      string
	modem       string
	localNumber string
	tsi         string
	pages       int
	reason      string // why the receive failed; "" for a fax received whole
	callerName  string // CallID2 (CIDName)
	callerNum   string // CallID1 (CIDNumber)
}

// findXferRecord scans xferfaxlog for the RECV record of the recvq file
// named file (the last one wins: HylaFAX reuses sequence numbers only
// after wrapping). Record layout (xferfaxlog(5)), tab-separated, quoted
// strings: date RECV commid modem qfile <null> fax "local-number" "TSI"
// params #pages jobtime conntime "reason" "CIDName" "CIDNumber"
// "CallID3::…" "owner" "dcs" (HylaFAX+ adds jobinfo). The name comes
// before the number: FaxAcctInfo::record writes CallID2 (the name) as
// field 15 and CallID1 (the number) as field 16, though the manual
// page's synopsis lists "CallID1" "CallID2". Older versions leave qfile
// empty; their records cannot be matched to a file.
// When near (the fax's receive or modification time) is known, a record
// dated more than xferWindow from it is another fax of the same name: the
// sequence numbers started over (a reinstall) and xferfaxlog was kept.
func findXferRecord(logPath, file string, loc *time.Location, near time.Time) (*xferRecord, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found *xferRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 11 || fields[1] != "RECV" || path.Base(unquote(fields[4])) != file {
			continue
		}
		r := &xferRecord{commID: unquote(fields[2]), modem: unquote(fields[3]),
			localNumber: unquote(fields[7]), tsi: unquote(fields[8])}
		r.pages, _ = strconv.Atoi(unquote(fields[10]))
		if len(fields) > 13 {
			r.reason = unquote(fields[13])
		}
		if t, err := time.ParseInLocation("01/02/06 15:04", fields[0], loc); err == nil {
			r.when = t
		}
		if !near.IsZero() && !r.when.IsZero() && (r.when.Sub(near) > xferWindow || near.Sub(r.when) > xferWindow) {
			continue
		}
		if len(fields) > 14 {
			r.callerName = unquote(fields[14])
		}
		if len(fields) > 15 {
			r.callerNum = unquote(fields[15])
		}
		found = r
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", logPath, err)
	}
	return found, nil
}

// xferWindow is how far a RECV record's date may be from the fax's own
// time: generous for a clock set wrong by hours, or time zones confused,
// yet far below the years before sequence numbers come round again.
const xferWindow = 36 * time.Hour

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(s)
}

func fromXfer(f *faxfhir.Fax, r *xferRecord) {
	setIf(&f.CommID, r.commID)
	setIf(&f.Modem, r.modem)
	setIf(&f.CalledNumber, r.localNumber)
	setIf(&f.CSID, r.tsi)
	if f.Pages == 0 {
		f.Pages = r.pages
	}
	// HylaFAX keeps the pages of a receive that failed (a file of none is
	// deleted) and logs why it failed as the record's reason: the fax is
	// what came before the call ended.
	if r.reason != "" {
		f.Partial = true
		setIf(&f.PartialReason, r.reason)
	}
	setIf(&f.CallerNumber, r.callerNum)
	setIf(&f.CallerName, r.callerName)
	if f.Received.IsZero() {
		f.Received = r.when
	}
}

// sidecarNames lists the normalised sidecar field names (lower case,
// letters and digits only) from common cloud-fax and fax-server exports
// that name each Fax field, the preferred name first: a sidecar (or a
// fax e-mail's text) that gives one field under two names (mrn and
// patientId, createdAt and completedAt) is read by the first listed,
// whatever order it writes them in.
var sidecarNames = [...]struct{ field, names string }{
	{"caller", "callernumber callerid from fromnumber sendernumber ani cidnumber remotenumber callingnumber"},
	{"callername", "callername cidname sendername fromname"},
	{"called", "callednumber to tonumber did dnis recipientnumber localnumber faxnumber"},
	{"csid", "csid tsi tsid faxsendercsid sendercsid remotecsid remoteid stationid"},
	{"pages", "pages faxpages numpages pagecount numberofpages"},
	{"partial", "partial ispartial partialcontent partialfax incomplete"},
	{"received", "received receivedat receivetime receivedtime datereceived receiveddate timestamp date completedat transmissionend createdat"},
	{"subaddress", "subaddress faxsubaddress"},
	{"commid", "commid faxid jobid id messageid"},
	{"mrn", "mrn medicalrecordnumber patientmrn patientid"},
	{"dob", "dob birthdate dateofbirth patientdob"},
	{"name", "patientname patient"},
	{"doctype", "doctype documenttype type category"},
}

// sidecarKeys maps each name of sidecarNames to its Fax field, and
// sidecarRank to its place in the list.
var sidecarKeys, sidecarRank = func() (map[string]string, map[string]int) {
	keys, rank := map[string]string{}, map[string]int{}
	for _, f := range sidecarNames {
		for _, n := range strings.Fields(f.names) {
			keys[n], rank[n] = f.field, len(rank)
		}
	}
	return keys, rank
}()

func normKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(k) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// parseSidecar reads a JSON object or an XML document into flat fields and
// applies the ones it knows. Nested objects are flattened (the innermost
// key wins), so {"fax": {"from": …}} works too.
func parseSidecar(f *faxfhir.Fax, data []byte, loc *time.Location) error {
	fields := map[string]string{}
	data, err := configtext.UTF8(data)
	if err != nil {
		return fmt.Errorf("sidecar: %w", err)
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		if !utf8.Valid(trimmed) {
			// JSON is UTF-8 (RFC 8259 §8.1); a Windows tool's is its
			// ANSI code page, whose letters encoding/json would turn
			// into U+FFFD.
			trimmed, _ = charmap.Windows1252.NewDecoder().Bytes(trimmed)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return syntaxErr("json", err)
		}
		flattenJSON(fields, v)
	case len(trimmed) > 0 && trimmed[0] == '<':
		if err := flattenXML(fields, trimmed); err != nil {
			return syntaxErr("xml", err)
		}
	default:
		return errors.New("sidecar: neither a json object nor xml")
	}
	applyFields(f, fields, loc)
	return nil
}

// applyFields applies the fields (by normalised key, see sidecarKeys)
// that f does not have yet, the names sidecarNames prefers first: the
// same sidecar always names the same patient.
func applyFields(f *faxfhir.Fax, fields map[string]string, loc *time.Location) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if _, known := sidecarRank[k]; known {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(sidecarRank[a], sidecarRank[b]) })
	for _, k := range keys {
		v := strings.TrimSpace(fields[k])
		if v == "" {
			continue
		}
		switch sidecarKeys[k] {
		case "caller":
			setIf(&f.CallerNumber, v)
		case "callername":
			setIf(&f.CallerName, v)
		case "called":
			setIf(&f.CalledNumber, v)
		case "csid":
			setIf(&f.CSID, v)
		case "pages":
			if n, err := strconv.Atoi(v); err == nil && f.Pages == 0 {
				f.Pages = n
			}
		case "partial":
			if b, err := strconv.ParseBool(v); err == nil && b || strings.EqualFold(v, "yes") {
				f.Partial = true
			}
		case "received":
			if t, ok := parseTime(v, loc); ok && f.Received.IsZero() {
				f.Received = t
			}
		case "subaddress":
			setIf(&f.SubAddress, v)
		case "commid":
			setIf(&f.CommID, v)
		case "mrn":
			setIf(&f.MRN, v)
		case "dob":
			setIf(&f.DOB, v)
		case "name":
			setIf(&f.PatientName, v)
		case "doctype":
			setIf(&f.DocType, v)
		}
	}
}

// sidecarError is a sidecar's syntax error told by its place only: the
// parsers' own messages quote the text around the fault (encoding/xml's
// "invalid character entity &Jones" of "Smith&Jones"), and a sidecar's
// text is the patient's name, MRN and birth date. The parser's error stays
// reachable through Unwrap.
type sidecarError struct {
	msg string
	err error
}

func (e *sidecarError) Error() string { return e.msg }
func (e *sidecarError) Unwrap() error { return e.err }

// syntaxErr describes the parser error err of a kind ("json", "xml")
// sidecar by line or byte offset.
func syntaxErr(kind string, err error) error {
	var xe *xml.SyntaxError
	var je *json.SyntaxError
	where := "unreadable"
	switch {
	case errors.As(err, &xe):
		where = fmt.Sprintf("syntax error on line %d", xe.Line)
	case errors.As(err, &je):
		where = fmt.Sprintf("syntax error at byte %d", je.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		where = "unexpected end of file"
	}
	return &sidecarError{msg: "sidecar: " + kind + ": " + where, err: err}
}

// flattenJSON takes an object's fields by normalised key, in the order
// of their names, then its nested objects' (so the innermost key wins):
// the same sidecar always gives the same fields.
func flattenJSON(out map[string]string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		switch x := m[k].(type) {
		case string:
			out[normKey(k)] = x
		case json.Number:
			out[normKey(k)] = x.String()
		case bool:
			out[normKey(k)] = strconv.FormatBool(x)
		}
	}
	for _, k := range keys {
		if x, ok := m[k].(map[string]any); ok {
			flattenJSON(out, x)
		}
	}
}

// flattenXML takes every leaf element's text and every attribute as a
// field, by local name.
func flattenXML(out map[string]string, data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = configtext.CharsetReader
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			text.Reset()
			for _, a := range t.Attr {
				out[normKey(a.Name.Local)] = a.Value
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if s := strings.TrimSpace(text.String()); s != "" && len(stack) > 0 {
				out[normKey(stack[len(stack)-1])] = s
			}
			text.Reset()
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// timeLayouts are the receive times fax exports write. Month first, the
// month and day may have one digit, and the clock 12 hours, as .NET and
// US Windows tools write a time ("1/2/2026 9:15:02 AM").
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00",
	"2006:01:02 15:04:05", "1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "2006-01-02"}

var digitsRE = regexp.MustCompile(`^\d{9,13}$`)

// compactLayouts are receive times written as digits alone, year first,
// by their length. Twelve digits are no Unix milliseconds of a fax
// received now (those have 13 since 2001), so they are read so first.
var compactLayouts = map[int]string{12: "200601021504", 14: "20060102150405"}

// parseTime reads the time formats fax exports use, including Unix
// seconds or milliseconds; times without an offset are in loc.
func parseTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if l, ok := compactLayouts[len(s)]; ok {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	if digitsRE.MatchString(s) {
		n, _ := strconv.ParseInt(s, 10, 64)
		if len(s) >= 12 {
			return time.UnixMilli(n), true
		}
		return time.Unix(n, 0), true
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// fromName applies the first matching file name pattern.
func fromName(f *faxfhir.Fax, patterns []*regexp.Regexp, name string) bool {
	for _, re := range patterns {
		m := re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		for i, g := range re.SubexpNames() {
			v := strings.TrimSpace(m[i])
			if v == "" {
				continue
			}
			switch g {
			case "mrn":
				setIf(&f.MRN, v)
			case "dob":
				setIf(&f.DOB, v)
			case "name":
				setIf(&f.PatientName, strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r == '_' || r == '+' }), " "))
			case "doctype":
				setIf(&f.DocType, v)
			}
		}
		return true
	}
	return false
}

// usDateRE is a date written month first, as US fax services and fax
// servers write one (01/02/1970, 1/2/1970, 01-02-1970), possibly with
// the time .NET writes after it ("1/2/1970 12:00:00 AM").
var usDateRE = regexp.MustCompile(`^(\d{1,2})([/-])(\d{1,2})[/-](\d+)(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$`)

// isoDateRE is YYYY-MM-DD, possibly followed by a time (.NET and most
// JSON writers serialise a date as 1970-01-02T00:00:00).
var isoDateRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$`)

// birthDate reads a patient's birth date as a sidecar, an e-mail's text
// or a file name gives it, and returns it as YYYY-MM-DD. A date that
// cannot be read for sure gives why instead (without the date: it is
// PHI): a two-digit year leaves the century open, a day-first date
// (25/12/1970) says the sender writes day first, so that 03/04/1970 would
// be read wrong, and dotted dates are day first (01.02.1970).
func birthDate(s string, now time.Time) (date, problem string) {
	s = strings.TrimSpace(s)
	var t time.Time
	var err error
	switch m := usDateRE.FindStringSubmatch(s); {
	case len(s) == 8 && digits(s) == s:
		t, err = time.Parse("20060102", s)
	case isoDateRE.MatchString(s):
		t, err = time.Parse("2006-01-02", isoDateRE.FindStringSubmatch(s)[1])
	case m != nil:
		month, _ := strconv.Atoi(m[1])
		day, _ := strconv.Atoi(m[3])
		switch {
		case len(m[4]) != 4:
			return "", "a year of " + strconv.Itoa(len(m[4])) + " digits (the century is not known); write MM/DD/YYYY or YYYY-MM-DD"
		case month > 12 && day <= 12:
			return "", "written day first (DD/MM/YYYY), which cannot be told from month first for days up to the 12th; write MM/DD/YYYY or YYYY-MM-DD"
		}
		t, err = time.Parse("01/02/2006", fmt.Sprintf("%02d/%02d/%s", month, day, m[4]))
	default:
		return "", "not a date ferry reads (YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY)"
	}
	switch {
	case err != nil:
		return "", "not a date of the calendar"
	case t.Year() < 1850 || t.After(now):
		return "", "a year no patient can be born in"
	}
	return t.Format("2006-01-02"), ""
}
