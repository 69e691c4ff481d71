//go:build !windows

package folder

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// foldsCase: a Linux file system finds only the exact name (macOS's
// usually folds; a name found exactly is never looked for again).
const foldsCase = false

// busy reports whether err means the file is in use elsewhere: a
// Windows share mounted here (CIFS) reports another program's sharing
// violation as EBUSY. A local file system never refuses to delete or
// rename over an open file.
func busy(err error) bool { return errors.Is(err, syscall.EBUSY) }

// openShared opens name for reading (nothing here stops others deleting
// or renaming over an open file).
func openShared(name string) (*os.File, error) { return os.Open(name) }

// placeOnce puts the written temp file tmp at p unless a file is there
// (an error matching fs.ErrExist): through a hard link, which fails when
// the name is taken, even by another writer at the same moment. Where
// the file system has no hard links (FAT, some network shares) it
// renames, after the caller's check that nothing is there.
func placeOnce(tmp, p string) error {
	err := os.Link(tmp, p)
	switch {
	case err == nil:
		os.Remove(tmp)
		return nil
	case errors.Is(err, fs.ErrExist):
		return err
	}
	return os.Rename(tmp, p)
}
