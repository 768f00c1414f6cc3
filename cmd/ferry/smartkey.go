package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// cmdSMARTKey implements `ferry smart-key PATH`: the key ferry signs its
// SMART Backend Services client assertions with. It writes a new EC P-384
// key (mode 0600) when PATH does not exist, and in any case prints the
// public JWKS the exchange registers for ferry's client id. With --also
// OLD (repeatable) the JWKS holds the public keys of OLD too: the set to
// register, or publish at exchange.auth.smart.jwks_url, while the gateway
// moves from OLD to PATH, so that no token request fails on the way. OLD
// goes in under the kid the gateway signs it with: the configuration's
// exchange.auth.smart.key_id when its key_file is OLD, else its
// thumbprint; the exchange finds the key by the assertion's kid. So does
// PATH without --kid when key_file is PATH.
func cmdSMARTKey(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("smart-key", stderr)
	kid := fl.String("kid", "", "key id to register (default: the key's JWK thumbprint, which ferry sends when exchange.auth.smart.key_id is empty)")
	var also pathList
	fl.Var(&also, "also", "another key `FILE` whose public key the JWKS holds too (the key being replaced; repeatable), under the configuration's key_id when its key_file is FILE")
	cfgPath := fl.String("config", "", "the configuration the gateway runs with, whose key_id names the key at its key_file (PATH, or with --also the old key) (default: "+installer.PackageLayout().ConfigFile+" when it exists)")
	pos, err := splitArgs(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage
	}
	path := pos[0]
	var k *fhirhttp.SMARTKey
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if k, err = fhirhttp.GenerateSMARTKey(path); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote a new EC P-384 key (ES384) to %s\n", path)
		if given, err := installer.GiveKeyToService(path); err != nil {
			return fmt.Errorf("key written, but not given to the %s account: %w (chown it yourself)", installer.Account, err)
		} else if given {
			fmt.Fprintf(stderr, "gave it to the %s account (mode 0600)\n", installer.Account)
		}
	} else if k, err = fhirhttp.LoadSMARTKey(path); err != nil {
		return err
	}
	var smart fhirhttp.SMARTConfig
	if len(also) > 0 || *kid == "" {
		// The running gateway signs the old key's assertions with the
		// kid its configuration names until it restarts on the new key,
		// and PATH's with it when key_file is PATH.
		name, cfg, err := opsConfig(*cfgPath)
		switch {
		case err == nil:
			smart = cfg.Exchange.Auth.SMART
		case len(also) > 0:
			return fmt.Errorf("--also: the configuration %s, whose key_id names the old key: %w", name, err)
		case *cfgPath != "":
			return fmt.Errorf("--config: the configuration %s, whose key_id names the key: %w", name, err)
		}
	}
	if *kid == "" && smart.KeyID != "" && sameFile(smart.KeyFile, path) {
		// The exchange finds the key by the assertion's kid: the
		// thumbprint would name a key the gateway never signs as.
		*kid = smart.KeyID
		fmt.Fprintf(stderr, "the key at %s is in the JWKS under kid %s, the exchange.auth.smart.key_id the gateway signs it with\n", path, *kid)
	}
	keys := []jose.JSONWebKey{k.PublicJWK(*kid)}
	for _, p := range also {
		o, err := fhirhttp.LoadSMARTKey(p)
		if err != nil {
			return fmt.Errorf("--also: %w", err)
		}
		if o.KeyID == k.KeyID {
			return fmt.Errorf("--also %s is the key at %s", p, path)
		}
		oldKID := ""
		if smart.KeyID != "" && sameFile(smart.KeyFile, p) {
			oldKID = smart.KeyID
			fmt.Fprintf(stderr, "the key at %s is in the JWKS under kid %s, the exchange.auth.smart.key_id the gateway signs it with\n", p, oldKID)
		}
		j := o.PublicJWK(oldKID)
		// SMART: the kid "SHALL be unique within the client's JWK Set".
		for _, other := range keys {
			if other.KeyID == j.KeyID {
				return fmt.Errorf("the new key and --also %s would both be kid %s, and the exchange finds the key by kid: give the new key another --kid", p, j.KeyID)
			}
		}
		keys = append(keys, j)
	}
	jwks, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: keys}, "", "  ")
	if err != nil {
		return err
	}
	// The gateway sends the thumbprint as kid unless key_id says
	// otherwise, and the exchange looks the key up by it: a --kid the
	// JWKS registers must be set as key_id too.
	if len(also) > 0 {
		keyID, alone := ", key_id unset", path
		if *kid != "" {
			keyID = fmt.Sprintf(" and key_id at %s", *kid)
			alone = "--kid " + *kid + " " + path
		}
		fmt.Fprintf(stderr, "this JWKS holds the new key (first) and the old; register it with the exchange (or publish it at\n"+
			"exchange.auth.smart.jwks_url), then point key_file at %s%s and restart ferry; once it delivers,\n"+
			"register (or publish) `ferry smart-key %s` alone, which drops the old key\n", absPath(path), keyID, alone)
	} else {
		keyID := ""
		if *kid != "" {
			keyID = ", key_id: " + *kid
		}
		fmt.Fprintf(stderr, "register this JWKS with the exchange for ferry's client id (it holds only the public key); then:\n"+
			"  exchange:\n    auth:\n      smart: {client_id: <from the exchange>, key_file: %s%s}\n", absPath(path), keyID)
	}
	fmt.Fprintf(stdout, "%s\n", jwks)
	return nil
}

// sameFile reports whether the paths a and b name one file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// pathList is a repeatable flag of file names.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(s string) error {
	*p = append(*p, s)
	return nil
}
