//go:build unix

package seal

import (
	"fmt"
	"os"
)

// checkKeyFileMode refuses a key file that group or others can read.
func checkKeyFileMode(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("mode %04o lets others read it; chmod 600 (owned by the account ferry runs as)", m)
	}
	return nil
}
