// Package configoauth reads what an OAuth 2.0 token endpoint answers
// (RFC 6749 §5.1) where servers differ from the RFC: the SMART and UDAP
// exchange clients (transport/fhirhttp) and the fax mailbox's Microsoft
// 365 and Google logins (adapters/fax) share it.
package configoauth

import (
	"strconv"
	"strings"
)

// ExpiresIn is a token answer's expires_in, in seconds: "the lifetime in
// seconds of the access token" (RFC 6749 §5.1), a JSON number, which
// Microsoft's v1.0 endpoint and some other authorization servers write as
// a string ("3599"), read as the number it holds. Anything else is 0, no
// lifetime given.
type ExpiresIn int64

// UnmarshalJSON reads a number, or a string holding one; it never fails.
func (e *ExpiresIn) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	*e = 0
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		*e = ExpiresIn(min(f, 1e9)) // about 30 years; a Duration holds 292
	}
	return nil
}
