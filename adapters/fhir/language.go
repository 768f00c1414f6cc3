package fhir

import "strings"

// BCP47System is the code system of language tags (IETF BCP 47), which
// Patient.communication.language, Attachment.language and the like use.
const BCP47System = "urn:ietf:bcp:47"

// LanguageTag returns code as a BCP 47 language tag: lower case for the
// language (the registry's form, "en", not "EN"), and, for a language
// ISO 639-1 gives two letters, those two letters in place of its ISO
// 639-2 three (bibliographic or terminology form): "eng" and "ENG" are
// "en", "spa" is "es", "fre" and "fra" are "fr". BCP 47 (RFC 5646 2.2.1)
// takes the shortest ISO 639 code, so the IANA registry has no "eng",
// and an exchange that checks codes refuses the three letters HL7 v2
// feeds (PID-15 under ISO639) and EHR exports usually send. A three-letter
// code of a language without two letters (hmn, haw, chr, ceb, ilo) is a
// tag of its own and stays; a region or script after the language
// (en-US, zh-Hant) keeps its own case. Anything else is returned trimmed.
func LanguageTag(code string) string {
	code = strings.TrimSpace(code)
	lang, rest, sep := code, "", false
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		lang, rest, sep = code[:i], code[i+1:], true
	}
	if len(lang) < 2 || len(lang) > 3 || !isLetters(lang) {
		return code
	}
	lang = strings.ToLower(lang)
	if two, ok := iso639To1[lang]; ok {
		lang = two
	}
	if !sep {
		return lang
	}
	return lang + "-" + rest
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// iso639To1 maps the ISO 639-2 codes (B and T forms where they differ) of
// languages that also have an ISO 639-1 code to that code: the languages
// of US clinics' patients and the other widely spoken ones.
var iso639To1 = map[string]string{
	"afr": "af", "aka": "ak", "alb": "sq", "sqi": "sq", "amh": "am", "ara": "ar", "arm": "hy", "hye": "hy",
	"aze": "az", "bam": "bm", "baq": "eu", "eus": "eu", "bel": "be", "ben": "bn", "bos": "bs", "bul": "bg",
	"bur": "my", "mya": "my", "cat": "ca", "chi": "zh", "zho": "zh", "cze": "cs", "ces": "cs", "dan": "da",
	"dut": "nl", "nld": "nl", "eng": "en", "est": "et", "ewe": "ee", "fin": "fi", "fre": "fr", "fra": "fr",
	"ful": "ff", "geo": "ka", "kat": "ka", "ger": "de", "deu": "de", "gre": "el", "ell": "el", "guj": "gu",
	"hat": "ht", "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ibo": "ig", "ice": "is",
	"isl": "is", "ind": "id", "gle": "ga", "ita": "it", "jpn": "ja", "kan": "kn", "kaz": "kk", "khm": "km",
	"kin": "rw", "kor": "ko", "kur": "ku", "lao": "lo", "lav": "lv", "lit": "lt", "mac": "mk", "mkd": "mk",
	"mal": "ml", "mar": "mr", "may": "ms", "msa": "ms", "mon": "mn", "nav": "nv", "nep": "ne", "nor": "no",
	"orm": "om", "pan": "pa", "per": "fa", "fas": "fa", "pol": "pl", "por": "pt", "pus": "ps", "rum": "ro",
	"ron": "ro", "run": "rn", "rus": "ru", "sin": "si", "slo": "sk", "slk": "sk", "slv": "sl", "smo": "sm",
	"som": "so", "spa": "es", "srp": "sr", "swa": "sw", "swe": "sv", "tam": "ta", "tel": "te", "tgl": "tl",
	"tha": "th", "tir": "ti", "ton": "to", "tur": "tr", "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi",
	"wel": "cy", "cym": "cy", "wol": "wo", "xho": "xh", "yid": "yi", "yor": "yo", "zul": "zu",
}
