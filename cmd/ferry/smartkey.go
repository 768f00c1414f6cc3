package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// cmdSMARTKey implements `ferry smart-key PATH`: the key ferry signs its
// SMART Backend Services client assertions with. It writes a new EC P-384
// key (mode 0600) when PATH does not exist, and in any case prints the
// public JWKS the exchange registers for ferry's client id.
func cmdSMARTKey(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("smart-key", stderr)
	kid := fl.String("kid", "", "key id to register (default: the key's JWK thumbprint, which ferry sends when exchange.auth.smart.key_id is empty)")
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
	jwks, err := k.JWKS(*kid)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "register this JWKS with the exchange for ferry's client id (it holds only the public key); then:\n"+
		"  exchange:\n    auth:\n      smart: {client_id: <from the exchange>, key_file: %s}\n", absPath(path))
	fmt.Fprintf(stdout, "%s\n", jwks)
	return nil
}
