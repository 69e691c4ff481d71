//go:build windows

package filelock

import (
	"os"

	"golang.org/x/sys/windows"
)

// Lock takes an exclusive lock on f, waiting for it (LockFileEx on
// the file's first byte range).
func Lock(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol)
}

// Unlock lets go of the lock on f.
func Unlock(f *os.File) error {
	var ol windows.Overlapped
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// LockShared takes a shared lock on f, waiting for it.
func LockShared(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), 0, 0, 1, 0, &ol)
}

// TryUpgrade turns f's shared lock into an exclusive one if no other
// holder has it, without waiting (Windows cannot upgrade in place: the
// shared lock is let go and taken back when the exclusive one fails).
func TryUpgrade(f *os.File) bool {
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
	if windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol) == nil {
		return true
	}
	LockShared(f)
	return false
}

// TryLock takes an exclusive lock on f without waiting: held reports
// that another holder has it; err, that the file system cannot tell.
func TryLock(f *os.File) (held bool, err error) {
	var ol windows.Overlapped
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	switch err {
	case nil:
		return false, nil
	case windows.ERROR_LOCK_VIOLATION:
		return true, nil
	}
	return false, err
}
