package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/ferry-health/ferry/queue/durable"
)

// SiteIDFile is the file under data_dir that holds this installation's
// site id, a random UUID created on the gateway's first start.
const SiteIDFile = "site-id"

// SiteBasePrefix starts the identifier base derived from the site id.
const SiteBasePrefix = "urn:ferry:site:"

// IdentifierBase is the base of the identifier systems the HL7 v2
// converter mints for assigning authorities it has no URI for (a CX.4 of
// "MRN" with no OID and no entry in identifiers.systems). A fixed base
// would give every clinic's "MRN" the same system, and the exchange's
// conditional update PUT Patient?identifier=<system>|123 would then merge
// two clinics' different patients. So the base is identifiers.base when
// set, and otherwise urn:ferry:site:<site id>, unique to this installation
// and the same across restarts: one site's ADT and lab feeds still share
// one system per authority. It returns "" when neither exists yet (no
// gateway ever started on this data_dir; `ferry convert` then uses the
// converter's fixed default). It only reads; EnsureSiteID creates the id.
func (c *Config) IdentifierBase() (string, error) {
	if c.Identifiers.Base != "" {
		return c.Identifiers.Base, nil
	}
	id, err := readSiteID(c.Path(SiteIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return SiteBasePrefix + id, nil
}

// EnsureSiteID returns this installation's site id, creating it under
// data_dir (durably, before anything converted with it can be queued) on
// first use. Two processes starting at once agree on one id: the file is
// linked into place, which fails when it already exists, and the loser
// reads the winner's.
func (c *Config) EnsureSiteID() (string, error) {
	path := c.Path(SiteIDFile)
	id, err := readSiteID(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	dir := filepath.Dir(path)
	// Each folder made is synced into its parent: the id's own sync
	// below is of the data_dir only.
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("site id: create data dir: %w", err)
	}
	fresh := uuid.NewString()
	tmp, err := os.CreateTemp(dir, "."+SiteIDFile+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("site id: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(fresh + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("site id: write %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSiteID(path) // another process made it first
		}
		// A file system without hard links: rename (not exclusive).
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", fmt.Errorf("site id: %w", err)
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return "", fmt.Errorf("site id: %w", err)
	}
	return fresh, nil
}

// readSiteID reads and checks a site id file.
func readSiteID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err // fs.ErrNotExist passes through for the callers
	}
	u, err := uuid.Parse(string(bytes.TrimSpace(b)))
	if err != nil {
		return "", fmt.Errorf("site id %s is damaged (%v): restore it from a backup; a new one would give every patient identifier ferry minted new systems, and so new patients at the exchange", path, err)
	}
	return u.String(), nil
}

// IdentifierWarning explains, for `ferry config check` and `ferry doctor`,
// why a configuration that delivers to an exchange should map its
// assigning authorities: without identifiers.base or identifiers.systems,
// every identifier whose CX.4 carries no OID gets a system only this
// installation uses, which the exchange cannot match with the same
// patient's records from elsewhere. "" when there is nothing to say.
func (c *Config) IdentifierWarning() string {
	if c.Exchange.URL == "" || c.Identifiers.Base != "" || len(c.Identifiers.Systems) > 0 {
		return ""
	}
	if c.Exchange.TakesV2() {
		return "" // HL7 v2 goes to the exchange as received: no FHIR identifiers
	}
	return "identifiers.systems is empty: patient and order identifiers whose assigning authority (CX.4, e.g. \"MRN\") has no OID get a system minted for this installation only (" +
		SiteBasePrefix + "<id from " + SiteIDFile + ">), which keeps clinics apart but cannot match records sent from elsewhere; map each sender's assigning authority to its OID (identifiers.systems: {MRN: urn:oid:...})"
}
