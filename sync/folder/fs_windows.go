package folder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// foldsCase: Windows finds a name in any case itself.
const foldsCase = true

// Windows errors that mean another program has the file open; syscall
// names only ERROR_ACCESS_DENIED of them.
const (
	errorSharingViolation syscall.Errno = 32   // opened without sharing what is asked
	errorLockViolation    syscall.Errno = 33   // a byte range is locked
	errorUserMappedFile   syscall.Errno = 1224 // mapped into memory (an indexer, an antivirus)
)

// busy reports whether err means the file is open in another program:
// a sharing or lock violation, a mapped file, or access denied (what
// deleting or renaming over a file opened without FILE_SHARE_DELETE, or
// one pending deletion, returns; a real lack of permission says the same
// and is given up on after patience).
func busy(err error) bool {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case syscall.ERROR_ACCESS_DENIED, errorSharingViolation, errorLockViolation, errorUserMappedFile:
		return true
	}
	return false
}

// openShared opens name for reading and lets others read, write, delete
// and rename over it meanwhile (FILE_SHARE_DELETE, which os.Open does
// not give): a computer reading a batch never stops another from writing
// its own files.
func openShared(name string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(longPath(name))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

// placeOnce moves the written temp file tmp to p unless a file is there
// (an error matching fs.ErrExist): MoveFile without
// MOVEFILE_REPLACE_EXISTING is one step, on NTFS, FAT and SMB shares
// alike, so two writers of one name cannot both succeed.
func placeOnce(tmp, p string) error {
	from, err := syscall.UTF16PtrFromString(longPath(tmp))
	if err != nil {
		return &os.LinkError{Op: "move", Old: tmp, New: p, Err: err}
	}
	to, err := syscall.UTF16PtrFromString(longPath(p))
	if err != nil {
		return &os.LinkError{Op: "move", Old: tmp, New: p, Err: err}
	}
	if err := syscall.MoveFile(from, to); err != nil {
		return &os.LinkError{Op: "move", Old: tmp, New: p, Err: err}
	}
	return nil
}

// longPath is p in the \\?\ form that the system calls above need for
// a path of 248 characters or more (os does this for its own calls).
func longPath(p string) string {
	switch {
	case len(p) < 248, strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\\.\`):
		return p
	case strings.HasPrefix(p, `\\`):
		return `\\?\UNC\` + p[2:]
	case filepath.IsAbs(p):
		return `\\?\` + p
	}
	return p
}
