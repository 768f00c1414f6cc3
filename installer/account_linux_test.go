package installer

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"testing"
)

// TestEnsureAccountWhenItsGroupExists: a group named as the account may
// be there before it (made by an administrator to give staff the config
// folder, or left by a userdel); useradd --user-group refuses then
// ("group ferry exists"), and `ferry install` failed. The account joins
// the group, as the package's preinst does. The account here has a name
// of its own, so as not to touch a real ferry account.
func TestEnsureAccountWhenItsGroupExists(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to create an account")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("no useradd")
	}
	name := fmt.Sprintf("fyt%d", os.Getpid()%100000)
	if out, err := exec.Command("groupadd", "--system", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("userdel", name).Run()
		exec.Command("groupdel", name).Run()
	})
	g, err := user.LookupGroup(name)
	if err != nil {
		t.Fatal(err)
	}
	created, err := ensureAccount(name, t.TempDir())
	if err != nil || !created {
		t.Fatalf("ensureAccount: created %v, %v", created, err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if u.Gid != g.Gid {
		t.Errorf("account's group %s, want the existing group %s", u.Gid, g.Gid)
	}
}
