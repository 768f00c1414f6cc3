// Package configopaque holds String, a string type for secrets (passwords,
// tokens, key passphrases) that redacts itself wherever it might be printed
// or serialised: fmt verbs, JSON, YAML and text marshalling. It follows the
// OpenTelemetry Collector's config/configopaque so that a config dump, a log
// line or a status page can never leak a secret by accident.
package configopaque

import (
	"encoding/json"
	"fmt"
)

// Redacted is what a String prints instead of its value.
const Redacted = "[REDACTED]"

// String is a secret. Convert it explicitly with string(s) where the real
// value is needed; every printing path shows Redacted instead.
//
// Unmarshalling (YAML, JSON, text) is not overridden, so a config file can
// set the value normally.
type String string

// String implements fmt.Stringer.
func (s String) String() string { return Redacted }

// GoString implements fmt.GoStringer so %#v redacts too.
func (s String) GoString() string { return fmt.Sprintf("%q", Redacted) }

// Format implements fmt.Formatter so that every verb (%s, %v, %q, %x, %d)
// prints the redacted form; without it %x would hex-dump the secret.
func (s String) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", Redacted)
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, Redacted)
	default:
		fmt.Fprint(f, Redacted)
	}
}

// MarshalText implements encoding.TextMarshaler (also used by slog's text
// and JSON handlers and by encoding/xml).
func (s String) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalYAML implements the yaml.Marshaler interface of go.yaml.in/yaml/v3
// (and gopkg.in/yaml.v3) without importing it.
func (s String) MarshalYAML() (any, error) { return Redacted, nil }

// UnmarshalText implements encoding.TextUnmarshaler. It is defined because
// a type whose MarshalText redacts would otherwise round-trip through
// decoders that prefer TextUnmarshaler inconsistently; this keeps decoding
// the plain value explicit.
func (s *String) UnmarshalText(b []byte) error {
	*s = String(b)
	return nil
}

// IsSet reports whether the secret has a non-empty value, for validation
// messages that must not show the value itself.
func (s String) IsSet() bool { return s != "" }
