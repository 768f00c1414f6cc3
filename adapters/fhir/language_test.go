package fhir

import "testing"

// TestLanguageTag: ISO 639-2 codes of languages with an ISO 639-1 code
// become the two letters BCP 47 registers, in lower case; tags that are
// already BCP 47 keep their region or script; other codes are left as
// they are.
func TestLanguageTag(t *testing.T) {
	for in, want := range map[string]string{
		"eng": "en", "ENG": "en", " spa ": "es", "fre": "fr", "fra": "fr", "chi": "zh", "vie": "vi", "TGL": "tl",
		"en": "en", "EN": "en", "en-US": "en-US", "eng-US": "en-US", "zh-Hant": "zh-Hant", "es_MX": "es-MX",
		"hmn": "hmn", "haw": "haw", "ceb": "ceb",
		"": "", "E": "E", "English": "English", "1": "1", "e1": "e1",
	} {
		if got := LanguageTag(in); got != want {
			t.Errorf("LanguageTag(%q) = %q, want %q", in, got, want)
		}
	}
}
