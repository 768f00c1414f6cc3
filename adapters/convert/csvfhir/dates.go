package csvfhir

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-health/ferry/adapters/convert/internal/wallclock"
)

// DefaultDateFormats are the layouts tried when a mapping gives none:
// ISO 8601 and its compact form, which no one reads two ways.
var DefaultDateFormats = []string{
	"YYYY-MM-DD",
	"YYYY-MM-DDTHH:mm:ssZ",
	"YYYY-MM-DDTHH:mm:ss",
	"YYYY-MM-DDTHH:mm",
	"YYYY-MM-DD HH:mm:ss",
	"YYYY-MM-DD HH:mm",
	"YYYYMMDD",
	"YYYYMMDDHHmmss",
	"YYYYMMDDHHmm",
	"YYYY-MM",
	"YYYY",
}

// Layout is a parsed date format.
type Layout struct {
	src    string
	goFmt  string // the time package's layout
	prec   int    // precYear, precMonth, precDay or precTime
	offset bool   // the format carries a UTC offset (Z)
	ampm   bool   // the format has A (AM/PM)
}

const (
	precYear = iota + 1
	precMonth
	precDay
	precTime
)

// layoutTokens maps the tokens of a date format to the time package's
// layout elements. Longer tokens come first so that MM is not read as M M.
var layoutTokens = []struct{ tok, goFmt string }{
	{"YYYY", "2006"}, {"MM", "01"}, {"M", "1"}, {"DD", "02"}, {"D", "2"},
	{"HH", "15"}, {"H", "15"}, {"hh", "03"}, {"h", "3"}, {"mm", "04"}, {"ss", "05"},
	{"A", "PM"}, {"Z", "Z07:00"},
}

// tokenElement names what the tokens starting with each letter give.
var tokenElement = map[string]string{"Y": "year", "M": "month", "D": "day", "H": "hour", "h": "hour", "m": "minutes", "s": "seconds", "A": "AM/PM", "Z": "offset"}

// ParseLayout reads a date format written with the tokens YYYY (year),
// MM or M (month, M also without a leading zero), DD or D (day), HH or H
// (hour, 24-hour clock), hh or h with A (12-hour clock and AM/PM), mm
// (minutes), ss (seconds) and Z (a UTC offset, +01:00 or Z), separated by
// any of - / . : space T ,. Examples: "M/D/YYYY", "DD.MM.YYYY HH:mm",
// "YYYYMMDD". Each element is given once: "HH:MM" is refused, since the
// time package would read its minutes as the month.
func ParseLayout(f string) (Layout, error) {
	l := Layout{src: f}
	var b strings.Builder
	seen := map[string]bool{}
	rest := f
	for rest != "" {
		matched := false
		for _, t := range layoutTokens {
			if strings.HasPrefix(rest, t.tok) {
				// The time package keeps the last of an element given
				// twice: "HH:MM" (minutes are mm) would read 14:05 as
				// May, and drop the minutes.
				if e := tokenElement[t.tok[:1]]; seen[t.tok[:1]] || e == "hour" && (seen["H"] || seen["h"]) {
					return l, fmt.Errorf("date format %q gives the %s twice (months are M or MM, minutes mm; a month's name is not read)", f, e)
				}
				b.WriteString(t.goFmt)
				rest = rest[len(t.tok):]
				seen[t.tok[:1]] = true
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		c := rest[0]
		if !strings.ContainsRune("-/.: T,", rune(c)) {
			return l, fmt.Errorf("date format %q: %q is neither a token (YYYY MM M DD D HH H hh h mm ss A Z) nor a separator (- / . : space T ,)", f, rest[:1])
		}
		b.WriteByte(c)
		rest = rest[1:]
	}
	switch {
	case !seen["Y"]:
		return l, fmt.Errorf("date format %q has no year (YYYY)", f)
	case seen["h"] != seen["A"]:
		return l, fmt.Errorf("date format %q: a 12-hour clock (hh) needs A for AM/PM, and A needs hh", f)
	case seen["H"] || seen["h"]:
		if !seen["D"] {
			return l, fmt.Errorf("date format %q has a time but no day", f)
		}
		l.prec = precTime
	case seen["m"] || seen["s"]:
		return l, fmt.Errorf("date format %q has minutes or seconds without an hour", f)
	case seen["D"]:
		if !seen["M"] {
			return l, fmt.Errorf("date format %q has a day but no month", f)
		}
		l.prec = precDay
	case seen["M"]:
		l.prec = precMonth
	default:
		l.prec = precYear
	}
	if seen["Z"] && l.prec != precTime {
		return l, fmt.Errorf("date format %q has an offset (Z) but no time", f)
	}
	l.offset = seen["Z"]
	l.ampm = seen["A"]
	l.goFmt = b.String()
	return l, nil
}

// maxOffset is the largest UTC offset, in seconds, a FHIR dateTime may
// carry (+14:00, Kiribati's).
const maxOffset = 14 * 60 * 60

// cellReader reads the dates and numbers of one mapping.
type cellReader struct {
	layouts []Layout
	loc     *time.Location
	// comma: numbers are written with a decimal comma (5,4), as
	// spreadsheets in much of Europe write them.
	comma bool
}

var defaultDates = mustDates(nil, time.Local)

func mustDates(formats []string, loc *time.Location) *cellReader {
	dp, err := newCellReader(formats, loc)
	if err != nil {
		panic(err)
	}
	return dp
}

func newCellReader(formats []string, loc *time.Location) (*cellReader, error) {
	if len(formats) == 0 {
		formats = DefaultDateFormats
	}
	dp := &cellReader{loc: loc}
	for _, f := range formats {
		l, err := ParseLayout(f)
		if err != nil {
			return nil, err
		}
		dp.layouts = append(dp.layouts, l)
	}
	return dp, nil
}

// parse reads v with the first layout that fits it and writes it as a
// FHIR date (dateOnly: birthDate; a time is dropped) or dateTime, with
// the precision the layout has: 2024, 2024-03, 2024-03-05, or
// 2024-03-05T14:30:00-05:00 (FHIR wants an offset once there is a time;
// times written without one are in the mapping's zone).
func (dp *cellReader) parse(v string, dateOnly bool) (string, error) {
	for _, l := range dp.layouts {
		loc := dp.loc
		if !l.offset {
			// Read as written, and given the zone's offset at that
			// clock time after: the time package would move a clock
			// time the zone skips by the change (see wallclock).
			loc = time.UTC
		}
		s := v
		if l.ampm {
			// The time package reads AM and PM in capitals only; many
			// exports write "8:05 pm". The rest of a date is digits and
			// separators, which upper case leaves as they are.
			s = strings.ToUpper(v)
		}
		t, err := time.ParseInLocation(l.goFmt, s, loc)
		if err != nil {
			continue
		}
		if !l.offset {
			off := wallclock.Offset(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), dp.loc)
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off))
		}
		if t.Year() < 1000 {
			continue
		}
		if _, off := t.Zone(); l.offset && (off > maxOffset || off < -maxOffset) {
			// The time package reads offsets up to ±24:59; FHIR's
			// dateTime (and every real zone) stays within ±14:00.
			continue
		}
		switch {
		case l.prec == precYear:
			return t.Format("2006"), nil
		case l.prec == precMonth:
			return t.Format("2006-01"), nil
		case l.prec == precDay || dateOnly:
			return t.Format("2006-01-02"), nil
		}
		return t.Format("2006-01-02T15:04:05Z07:00"), nil
	}
	names := make([]string, len(dp.layouts))
	for i, l := range dp.layouts {
		names[i] = l.src
	}
	return "", errors.New("not a date in any of the formats " + strings.Join(names, ", ") + " (set date_formats)")
}
