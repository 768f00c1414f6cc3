package fhir

import "strings"

// IdentifierQuery returns the search "identifier=<system>|<value>" as a
// URL query, for a conditional create's ifNoneExist or, after "Type?", a
// conditional update's or reference's URL. See AppendTokenQuery.
func IdentifierQuery(system, value string) string {
	var stack [256]byte
	return string(AppendTokenQuery(stack[:0], "identifier", system, value))
}

// AppendTokenQuery appends the token search "<name>=<system>|<value>" to b.
//
// Two layers of escaping, in this order, as FHIR search asks (R4 §3.1.1.5.7,
// "Escaping Search Parameters"):
//   - inside system and value, a backslash goes before each '\', '|', ','
//     and '$'. Without it a value holding a ',' becomes a list of two
//     values (either of which matches), and one holding a '|' moves the
//     system/value split: a conditional update could then match another
//     patient's record;
//   - the whole parameter value is then query-escaped as url.QueryEscape
//     does it (letters, digits and "-_.~" kept, a space as '+', every other
//     byte %XX), the separating '|' included.
//
// Every search ferry builds from an identifier goes through here, so the
// HL7 v2, C-CDA, fax and FHIR pass-through paths name the same record the
// same way.
func AppendTokenQuery(b []byte, name, system, value string) []byte {
	b = appendQueryEscaped(b, name)
	b = append(b, '=')
	b = appendTokenPart(b, system)
	b = append(b, "%7C"...) // '|'
	return appendTokenPart(b, value)
}

// appendTokenPart appends s with FHIR search's backslash escapes, then
// query-escaped.
func appendTokenPart(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '|', ',', '$':
			b = append(b, "%5C"...) // '\'
			b = appendQueryEscaped(b, s[i:i+1])
		default:
			b = appendQueryEscaped(b, s[i:i+1])
		}
	}
	return b
}

// appendQueryEscaped appends s escaped as url.QueryEscape escapes it.
func appendQueryEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// MappedSystem is the identifier system systems (identifiers.systems)
// maps the assigning authority name to: the entry of that very name, else
// the one entry whose name differs from it in case only (a feed writing
// "Riverside" for the RIVERSIDE mapped), as ferry treats an authority's
// name everywhere else. Several such entries mapped to different systems
// name none, and neither does an empty name.
func MappedSystem(systems map[string]string, name string) string {
	if name == "" {
		return ""
	}
	if s := systems[name]; s != "" {
		return s
	}
	found := ""
	for k, s := range systems {
		if s == "" || !strings.EqualFold(k, name) {
			continue
		}
		if found != "" && found != s {
			return ""
		}
		found = s
	}
	return found
}
