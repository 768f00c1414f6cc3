//go:build windows

package installer

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// SetRestartOnFailure makes the Service Control Manager restart the ferry
// service whenever it ends without being asked to: a crash, or ferry
// exiting with status 1 after a fatal error (a listener that died, a queue
// that stopped after a failed fsync, which only a restart's replay
// recovers). Each restart comes after 5 s; the failure count resets after
// a day. The MSI's ServiceInstall registers no recovery actions (wixl has
// no element for them), so its custom action sets them through
// `ferry install --folders-only`; `ferry install` sets them too.
func SetRestartOnFailure() error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service recovery: %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(ServiceName)
	if err != nil {
		return fmt.Errorf("service recovery: open service %s: %w", ServiceName, err)
	}
	defer s.Close()
	restart := mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: 5 * time.Second}
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{restart, restart, restart}, uint32((24 * time.Hour).Seconds())); err != nil {
		return fmt.Errorf("service recovery: %w", err)
	}
	// Also when the process reports a stop with a failure exit code,
	// not only when it vanishes.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("service recovery: %w", err)
	}
	return nil
}

// RegisterEventSource registers ferry as a source of the Application event
// log, where a Windows service reports its errors, so that Event Viewer
// shows ferry's error events with their text rather than "the description
// for Event ID ... cannot be found". `ferry install` registers it through
// kardianos/service; the MSI writes the same key itself (so that its
// uninstall removes it), and `ferry install --folders-only`, which the MSI
// runs, then finds it there. A source already registered is left as it is.
func RegisterEventSource() error {
	err := eventlog.InstallAsEventCreate(ServiceName, eventlog.Error|eventlog.Warning|eventlog.Info)
	if err != nil && !strings.Contains(err.Error(), "exists") {
		return fmt.Errorf("event log source: %w", err)
	}
	return nil
}
