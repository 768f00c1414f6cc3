package folder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/ferry-health/ferry/queue/durable"
)

// moveFile renames src to dst and makes the result durable: the directory of
// dst is fsynced (the caller fsyncs the source directory once per batch).
// When dst is on another volume (a done_dir override), the file is copied
// durably, and only then is src removed.
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil {
		return nil
	}
	var le *os.LinkError
	if !errors.As(err, &le) || !isCrossDevice(le.Err) {
		return fmt.Errorf("move %s: %w", filepath.Base(src), err)
	}
	if err := durable.CopyFile(src, dst, 0o600); err != nil {
		return fmt.Errorf("move %s across volumes: %w", filepath.Base(src), err)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("move %s across volumes: remove original: %w", filepath.Base(src), err)
	}
	return nil
}

// uniqueName returns name, or name with "~N" before its extension, such that
// neither it nor any of its companions (suffixes appended to the stem, like
// sidecar extensions, or to the name, like ".error.txt") exists in dir.
// Exports often reuse names (export.xml every night), and done/ must keep
// every copy.
func uniqueName(dir, name string, stemSuffixes, nameSuffixes []string) string {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 1; ; n++ {
		cand, cstem := name, stem
		if n > 1 {
			cstem = stem + "~" + strconv.Itoa(n)
			cand = cstem + ext
		}
		if exists(filepath.Join(dir, cand)) {
			continue
		}
		taken := false
		for _, s := range stemSuffixes {
			if exists(filepath.Join(dir, cstem+s)) {
				taken = true
				break
			}
		}
		for _, s := range nameSuffixes {
			if exists(filepath.Join(dir, cand+s)) {
				taken = true
				break
			}
		}
		if !taken {
			return cand
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// ownerOnly narrows path's permissions to perm when group or others have
// any. Archived inputs keep the mode their writer gave them (a fax spool's
// 0644) through the rename; in done/ and failed/ they are ferry's, and
// hold PHI. It fails where ferry does not own the file, which the caller
// may ignore: the folder around it is owner-only too. On Windows only the
// read-only bit exists: there it does nothing (the ACLs of the folder
// decide).
func ownerOnly(path string, perm os.FileMode) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return os.Chmod(path, perm)
}
