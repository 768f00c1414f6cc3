//go:build !windows

package installer

// SetRestartOnFailure does nothing here: the systemd unit says
// Restart=on-failure, so a ferry that exits with status 1 after a fatal
// error is started again.
func SetRestartOnFailure() error { return nil }

// RegisterEventSource does nothing here: errors reach the journal (or
// syslog) through standard error.
func RegisterEventSource() error { return nil }
