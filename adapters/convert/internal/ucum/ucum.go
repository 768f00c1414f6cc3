// Package ucum checks that a unit string is a case-sensitive UCUM code
// (https://ucum.org/ucum §2–§5) before a converter labels a Quantity with
// system http://unitsofmeasure.org and that code. Senders label units
// UCUM on their own word ("mcg", "mEq/L", "K/uL", "Puffs"); the exchange's
// terminology validator rejects such a Quantity and UCUM-based comparison
// goes wrong, so a unit that fails here travels as Quantity.unit text only.
//
// The check is syntactic plus the atom table: it does not convert or
// compare units. It errs towards rejecting: a valid code it does not know
// loses only its coding, never its text.
package ucum

// maxDepth bounds parenthesis nesting so a hostile unit attribute cannot
// recurse deeply; real units nest once at most ("mL/(24.h)").
const maxDepth = 8

// Valid reports whether s is a valid case-sensitive UCUM expression:
//
//	main-term  = "/" term | term
//	term       = component | term "." component | term "/" component
//	component  = simple-unit [exponent] [annotation] | annotation | factor [annotation] | "(" term ")"
//	simple-unit = atom | prefix metric-atom
//
// with no white space anywhere. The annotated factor ("/100{WBCs}") is not
// in the specification's BNF (§2.2) but is in UCUM's own formal grammar
// page and its table of example codes for electronic messaging, which
// labs follow. Kelvin is accepted only alone: in a
// product or quotient ("K/uL", "K/mm3") it is the lab idiom for "thousand",
// never a clinical kelvin-per-volume, and the code would be wrong.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	p := parser{s: s}
	if s[0] == '/' {
		p.i++
	}
	if !p.term() || p.i != len(s) {
		return false
	}
	return p.kelvin == 0 || p.units == 1
}

type parser struct {
	s      string
	i      int
	depth  int
	units  int // simple units read (factors and annotations not counted)
	kelvin int // simple units whose atom is K
}

func (p *parser) term() bool {
	for {
		if !p.component() {
			return false
		}
		if p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == '/') {
			p.i++
			continue
		}
		return true
	}
}

func (p *parser) component() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch p.s[p.i] {
	case '(':
		if p.depth++; p.depth > maxDepth {
			return false
		}
		p.i++
		if !p.term() || p.i >= len(p.s) || p.s[p.i] != ')' {
			return false
		}
		p.i++
		p.depth--
		return true
	case '{':
		return p.annotation()
	}
	// The symbol runs to the next operator, parenthesis or annotation
	// outside square brackets: bracketed atoms hold '.', '/' and '('
	// themselves ("B[10.nV]", "[m/s2/Hz^(1/2)]").
	start, open := p.i, false
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		if c <= ' ' || c > '~' {
			return false
		}
		if !open && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '}') {
			break
		}
		switch c {
		case '[':
			if open {
				return false
			}
			open = true
		case ']':
			if !open {
				return false
			}
			open = false
		}
	}
	tok := p.s[start:p.i]
	if open || tok == "" {
		return false
	}
	if digits(tok) {
		// A factor ("24" in "mL/(24.h)"), which may be annotated as a
		// unit may: the differential counts "/100{WBCs}" of UCUM's
		// common-units table, as its formal grammar reads them.
		if p.i < len(p.s) && p.s[p.i] == '{' {
			return p.annotation()
		}
		return true
	}
	unit := trimExponent(tok)
	if unit == "" || !p.simpleUnit(unit) {
		return false
	}
	if p.i < len(p.s) && p.s[p.i] == '{' {
		return p.annotation()
	}
	return true
}

// trimExponent strips a trailing signed integer exponent: "m2" → "m",
// "s-1" → "s", "10*3" → "10*". No atom ends in a digit outside brackets,
// so the split is unambiguous.
func trimExponent(tok string) string {
	j := len(tok)
	for j > 0 && tok[j-1] >= '0' && tok[j-1] <= '9' {
		j--
	}
	if j == len(tok) {
		return tok
	}
	if j > 0 && (tok[j-1] == '+' || tok[j-1] == '-') {
		j--
	}
	return tok[:j]
}

// annotation reads "{...}": printable ASCII other than the braces, at
// least one character.
func (p *parser) annotation() bool {
	p.i++ // '{'
	start := p.i
	for ; p.i < len(p.s) && p.s[p.i] != '}'; p.i++ {
		if c := p.s[p.i]; c <= ' ' || c > '~' || c == '{' {
			return false
		}
	}
	if p.i >= len(p.s) || p.i == start {
		return false
	}
	p.i++ // '}'
	return true
}

// simpleUnit accepts an atom, or a prefix with a metric atom. The whole
// symbol is tried first: "cd" is the candela, "Pa" the pascal.
func (p *parser) simpleUnit(u string) bool {
	_, ok := atoms[u]
	atom := u
	if !ok {
		for _, pre := range prefixes {
			if len(u) > len(pre) && u[:len(pre)] == pre {
				if m, found := atoms[u[len(pre):]]; found && m {
					ok, atom = true, u[len(pre):]
					break
				}
			}
		}
	}
	if !ok {
		return false
	}
	p.units++
	if atom == "K" {
		p.kelvin++
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// prefixes are UCUM's prefix symbols (§11, table 1 and the binary ones),
// two-letter ones first so "da" is not read as deci before "a".
var prefixes = []string{
	"da", "Ki", "Mi", "Gi", "Ti",
	"Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y",
}
