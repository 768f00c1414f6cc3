// Package wallclock gives the UTC offset of a clock time written without
// one, in a zone, where the time package leaves the choice open: a clock
// time the zone skips (the spring-forward hour) or has twice (the
// fall-back hour). time.Date then gives "a time that is correct in one of
// the two zones involved in the transition, but it does not guarantee
// which", and which it is differs between zones east and west of UTC.
// As RFC 5545 (3.3.5) reads a local time, a skipped one takes the offset
// before the gap, which keeps its clock time (a device not yet moved on),
// and one that occurs twice is the first occurrence.
package wallclock

import "time"

// Offset is the UTC offset, in seconds, of the clock time y-mo-d h:mi:s
// in loc. It assumes, as every zone of the IANA database has it, that
// the offsets in effect a day before and a day after are the two that a
// transition at that time is between.
func Offset(y int, mo time.Month, d, h, mi, s int, loc *time.Location) int {
	w := time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix()
	_, before := time.Unix(w-86400, 0).In(loc).Zone()
	_, after := time.Unix(w+86400, 0).In(loc).Zone()
	if before == after {
		return before
	}
	// An offset o fits when the instant w-o is, in loc, at offset o.
	fits := func(o int) bool {
		_, z := time.Unix(w-int64(o), 0).In(loc).Zone()
		return z == o
	}
	switch b, a := fits(before), fits(after); {
	case b && a:
		return max(before, after) // twice: the earlier instant
	case a:
		return after
	default:
		return before // skipped: the offset before the gap
	}
}
