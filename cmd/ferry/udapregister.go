package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ferry-health/ferry/installer"
	"github.com/ferry-health/ferry/queue/durable"
	"github.com/ferry-health/ferry/transport/fhirhttp"
)

// cmdUDAPRegister implements `ferry udap-register`: it registers ferry
// with the exchange's UDAP authorization server now (verifying its signed
// metadata first) and stores the client id where the gateway reads it.
// The gateway registers by itself at its first delivery; this is for
// seeing a registration work, or refused, before that, and for
// registering anew (the IG treats it as a change of the same client's
// registration), e.g. after the exchange dropped ferry's.
func cmdUDAPRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("udap-register", stderr)
	cfgPath := opsConfigFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	_, cfg, err := opsConfig(*cfgPath)
	if err != nil {
		return err
	}
	u := cfg.Exchange.Auth.UDAP
	if cfg.Exchange.URL == "" || !u.Enabled() {
		return errors.New("exchange.auth.udap is not configured")
	}
	tc, err := cfg.Exchange.TLS.LoadTLSConfig()
	if err != nil {
		return fmt.Errorf("exchange.tls: %w", err)
	}
	fhirhttp.AcceptRenegotiation(tc) // as the gateway does
	tr := &http.Transport{TLSClientConfig: tc}
	cfg.Proxy.Apply(tr)
	client := &http.Client{
		Transport: tr,
		Timeout:   cfg.Exchange.Timeout,
		// As the gateway's client: a redirect is reported, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := durable.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	defer installer.FixOwnership(cfg.DataDir)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	path := cfg.UDAPRegistrationFile()
	// Under revocation: soft-fail, a status that could not be learned is
	// reported on stderr, as the gateway logs it.
	id, err := fhirhttp.RegisterUDAP(ctx, u, cfg.Exchange.URL, fhirhttp.OtherHosts(client, cfg.Exchange.URL), path, newLogger(stderr, "warn"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "registered with %s; the gateway reads the client id from %s (a running gateway rereads it when the exchange refuses the client id it has)\n", cfg.Exchange.URL, path)
	fmt.Fprintln(stdout, id)
	return nil
}
