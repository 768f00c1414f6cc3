package faxfhir

import (
	"strings"
	"testing"
)

// TestConfigLanguageIsALanguageTag: fax.language is every document's
// attachment.language, a FHIR code from BCP 47 (all languages; MHD maps
// it to XDS languageCode, RFC 5646, and mhd-comprehensive requires it).
// A value that is no language tag, a Windows or Java locale name (en_US)
// or a language's name (English), was taken as written and sent on
// every document, which an exchange that validates refuses, while ferry
// config check said ok. It is refused, naming the field.
func TestConfigLanguageIsALanguageTag(t *testing.T) {
	for _, tc := range []struct {
		lang string
		ok   bool
	}{
		{"", true}, {"en-US", true}, {"en", true}, {"es-419", true}, {"zh-Hant-TW", true}, {"fr-CA", true},
		{"en_US", false}, {"English", false}, {"en US", false}, {"en-", false}, {" en-US", false}, {"en-US-", false},
	} {
		cfg := testConfig()
		cfg.Language = tc.lang
		err := cfg.Validate()
		switch {
		case tc.ok && err != nil:
			t.Errorf("language %q: %v", tc.lang, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "language:") || !strings.Contains(err.Error(), "BCP 47")):
			t.Errorf("language %q: %v, want an error naming language", tc.lang, err)
		}
	}
}
