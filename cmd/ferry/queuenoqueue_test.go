package main

import (
	"strings"
	"testing"
)

// TestQueueShowRetryPurgeWithoutQueue: in a data folder where no queue
// has been created yet (the gateway has not run since `ferry init`),
// `ferry queue list` says "no dead letters", and show without --body
// that there is no dead letter with the ID; show --body, retry and purge
// of that ID failed with "open queue .../queue: stat ...: no such file
// or directory", as if the data folder were broken. They now say, as
// show does, that there is no dead letter with this ID.
func TestQueueShowRetryPurgeWithoutQueue(t *testing.T) {
	cfgFile, _ := writeCfg(t, t.TempDir(), freeAddr(t))
	const id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	for _, args := range [][]string{{"show", id}, {"show", id, "--body"}, {"retry", id}, {"purge", id}} {
		out, err := runQueue(t, append(args, "--config", cfgFile)...)
		if err == nil {
			t.Errorf("queue %v: no error\n%s", args, out)
			continue
		}
		if got := out + err.Error(); !strings.Contains(got, id+": no dead letter with this ID") || strings.Contains(got, "no such file") {
			t.Errorf("queue %v: %v\n%s\nwant it to say there is no dead letter %s", args, err, out, id)
		}
	}
}
