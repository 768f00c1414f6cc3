//go:build windows

package ops

// LookupServiceAccount cannot judge Windows ACLs: it always returns the
// reason the check is skipped.
func LookupServiceAccount(name string) (*ServiceAccount, string) {
	return nil, "on Windows the service account " + name + " reads the files through their ACLs, which doctor does not evaluate (ferry install sets them)"
}

func readableBy(string, *ServiceAccount, bool) (Level, string) { return OK, "" }

func writableBy(string, *ServiceAccount, bool) (Level, string) { return OK, "" }
