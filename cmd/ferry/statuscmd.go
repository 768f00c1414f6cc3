package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ferry-health/ferry/cmd/ferry/ops"
)

// cmdStatus shows queue depth, the oldest item's age, the last delivery,
// dead letters and certificate expiry: from the running gateway's status
// page when it answers, else read from the data folder.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	cfgPath := opsConfigFlag(fs)
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	name, cfg, err := opsConfig(*cfgPath)
	if err != nil {
		return err
	}
	var st *ops.Status
	var foreign error // what answered on the address is not ferry
	if cfg.Status.Listen != "" {
		st, err = ops.FetchStatus(ctx, cfg.Status.Listen)
		if errors.Is(err, ops.ErrNotFerry) {
			// Another program holds the address, so this gateway
			// could not bind it: its figures are on disk, as below.
			foreign = err
		} else if err != nil && !errors.Is(err, ops.ErrNotRunning) {
			return err
		}
		if st != nil && !ops.SameDataDir(st, cfg) {
			// The address is another gateway's, so this one is not
			// running (it could not bind it): its figures are on disk.
			fmt.Fprintf(stderr, "note: %s answers as another ferry (%s, data_dir %s), not the gateway of this configuration (data_dir %s); stop it, or give one of them another status.listen\n",
				cfg.Status.Listen, st.Version, st.DataDir, cfg.DataDir)
			st = nil
		}
	}
	if st == nil {
		if err := opsDataDir(name, cfg); err != nil {
			// Not running, and no figures to read: the configuration is
			// not the gateway's (another folder's ./ferry-data), or it
			// never ran. Exit 3 all the same: it is not running.
			return exitError{code: 3, err: err}
		}
		if st, err = ops.OfflineStatus(cfg); err != nil {
			return err
		}
		if foreign != nil && !st.Running {
			fmt.Fprintf(stderr, "note: %v; another program answers there, so the gateway of this configuration cannot listen on it: stop that program, or give ferry another status.listen\n", foreign)
		}
	}
	if st.LastBackup == nil {
		// The running gateway does not report it: `ferry backup` keeps
		// it in the data folder, for whoever may read that.
		st.LastBackup, _ = ops.LastBackup(cfg.DataDir)
	}
	if *asJSON {
		st.UTC() // an older gateway's, and the backup's, as this one's
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Running bool `json:"running"`
			*ops.Status
		}{st.Online || st.Running, st})
	}
	ops.PrintStatus(pathsPlainWriter(stdout), st) // a certificate's error quotes its files
	if !st.Online && !st.Running {
		return exitError{code: 3, err: fmt.Errorf("the gateway is not running")}
	}
	return nil
}
