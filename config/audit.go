package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/ferry-health/ferry/config/configtls"
)

// Audit sends an IHE ATNA audit trail (ITI-20 Record Audit Event: DICOM
// audit XML in RFC 5424 syslog) to the audit repository, for HIPAA
// §164.312(b) audit controls. With an empty URL no audit events are sent.
//
//	audit:
//	  url: tls://audit.hie.example:6514   # or dtls://…:6514, udp://…:514
//	  source_id: clinic-12-ferry
//	  tls: {ca_file: …, cert_file: …, key_file: …}
type Audit struct {
	// URL names the repository: tls:// (RFC 5425, the ATNA default),
	// dtls:// (RFC 6012) or udp:// (RFC 5426: unencrypted, may lose or
	// truncate messages); the port defaults to 6514 (514 for udp). An
	// https:// FHIR base gets FHIR AuditEvent resources instead (the FHIR
	// Feed option of ITI-20), POSTed to [base]/AuditEvent.
	URL string `yaml:"url"`
	// SourceID is AuditSourceID: how the repository tells this gateway
	// from others.
	SourceID string `yaml:"source_id"`
	// Site is AuditEnterpriseSiteID (optional), e.g. the clinic's name.
	Site string `yaml:"site"`
	// TLS holds the CA and the client certificate; ATNA (ITI-19) requires
	// mutual authentication, so tls and dtls need cert_file and key_file.
	TLS configtls.ClientConfig `yaml:"tls"`
	// MaxSpoolBytes bounds the local spool (<data_dir>/audit/spool) kept
	// while the repository is unreachable; beyond it the oldest events are
	// dropped and counted. 0 means 64 MiB.
	MaxSpoolBytes int64 `yaml:"max_spool_bytes"`
	// PatientIdentity is how Import and Export events name the patient:
	// "identifier" (the default, what DICOM PS3.15 A.5 and the IHE audit
	// message definitions ask: the patient's identifier in HL7 CX form,
	// so the repository can account for disclosures on its own) or "key"
	// (ferry's patient key, a hash keyed with the encryption key when one
	// is set, for repositories that must not receive identifiers).
	PatientIdentity string `yaml:"patient_identity"`
	// DTLSFraming is how a dtls:// repository gets each message:
	// "octet-counting" (the default, RFC 6012: its length in octets and a
	// space before it, SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG) or "bare"
	// (the message alone in its DTLS record, for receivers that take
	// every record as one message and read no length: rsyslog's imdtls).
	DTLSFraming string `yaml:"dtls_framing"`
}

// Values of Audit.PatientIdentity.
const (
	PatientIdentityIdentifier = "identifier"
	PatientIdentityKey        = "key"
)

// Values of Audit.DTLSFraming.
const (
	DTLSFramingOctetCounting = "octet-counting"
	DTLSFramingBare          = "bare"
)

// DTLSBare reports whether dtls:// messages go without their length
// (DTLSFraming bare).
func (a Audit) DTLSBare() bool { return a.DTLSFraming == DTLSFramingBare }

// NamesIdentifiers reports whether audit events name patients by their
// identifiers (PatientIdentity identifier or unset).
func (a Audit) NamesIdentifiers() bool {
	return a.Enabled() && a.PatientIdentity != PatientIdentityKey
}

// Enabled reports whether audit events are sent.
func (a Audit) Enabled() bool { return a.URL != "" }

// Validate checks the settings offline; each error starts with its field.
func (a Audit) Validate() error {
	if a.URL == "" {
		return nil
	}
	var errs []error
	u, err := url.Parse(a.URL)
	scheme := ""
	switch {
	case strings.IndexFunc(a.URL, unicode.IsSpace) >= 0:
		errs = append(errs, errors.New("url: holds white space (a blank at its start or end?), which no URL has; remove it"))
	case err != nil:
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		errs = append(errs, fmt.Errorf("url: not a URL: %v", err))
	case u.User != nil:
		// No repository takes a password in the URL (syslog ones know
		// ferry by its certificate), and the URL is no secret type.
		errs = append(errs, errors.New("url: must not contain credentials (user:password@): the repository knows ferry by its certificate (audit.tls)"))
	case u.Scheme != "tls" && u.Scheme != "dtls" && u.Scheme != "udp" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: scheme must be tls, dtls or udp (syslog over TLS is the ATNA default), or https for a FHIR base that takes AuditEvent resources; got %q", u.Scheme))
	case u.Hostname() == "":
		errs = append(errs, errors.New("url: has no host"))
	default:
		scheme = u.Scheme
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("url: port %q is not a number from 1 to 65535", p))
			}
		}
		if u.Scheme == "https" {
			if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				errs = append(errs, errors.New("url: an https FHIR base has no query, fragment or credentials"))
			}
		} else if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			errs = append(errs, errors.New("url: must be scheme://host:port with no path or query"))
		}
	}
	switch {
	case a.SourceID == "":
		errs = append(errs, errors.New("source_id: required: it tells the repository which gateway wrote the events"))
	case len(a.SourceID) > 255:
		errs = append(errs, errors.New("source_id: longer than 255 characters"))
	}
	switch scheme {
	case "tls", "dtls", "https":
		if err := a.TLS.Validate(); err != nil {
			for _, e := range flatten(err) {
				errs = append(errs, fmt.Errorf("tls.%w", e))
			}
		} else if a.TLS.CertFile == "" {
			errs = append(errs, errors.New("tls.cert_file: required: audit repositories authenticate the sender by certificate (ATNA ITI-19)"))
		}
		if scheme == "dtls" && a.TLS.MinVersion == "1.3" {
			// Not silently lowered: DTLS 1.3 (RFC 9147) is not what RFC
			// 6012 syslog or ferry's DTLS speak.
			errs = append(errs, errors.New(`tls.min_version: "1.3" cannot be met over dtls://, which is DTLS 1.2 (RFC 6347); use tls:// for TLS 1.3, or "1.2"`))
		}
	case "udp":
		if a.TLS != (configtls.ClientConfig{}) {
			errs = append(errs, errors.New("tls: set, but udp is not encrypted; use tls:// or remove the tls settings"))
		}
	}
	if a.MaxSpoolBytes != 0 && a.MaxSpoolBytes < 1<<16 {
		errs = append(errs, fmt.Errorf("max_spool_bytes: must be at least 65536 (or 0 for 64 MiB), got %d", a.MaxSpoolBytes))
	}
	switch a.DTLSFraming {
	case "":
	case DTLSFramingOctetCounting, DTLSFramingBare:
		if scheme != "" && scheme != "dtls" {
			errs = append(errs, fmt.Errorf("dtls_framing: set, but audit.url is %s://, not dtls://; remove it", scheme))
		}
	default:
		errs = append(errs, fmt.Errorf("dtls_framing: must be octet-counting (RFC 6012, the default) or bare (each message alone in its record, for rsyslog's imdtls), got %q", a.DTLSFraming))
	}
	switch a.PatientIdentity {
	case "", PatientIdentityIdentifier, PatientIdentityKey:
	default:
		errs = append(errs, fmt.Errorf("patient_identity: must be identifier (the patient's identifier, as ATNA asks) or key (ferry's hash of it), got %q", a.PatientIdentity))
	}
	return errors.Join(errs...)
}
