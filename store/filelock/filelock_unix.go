//go:build !windows

package filelock

import (
	"os"
	"syscall"
)

// Lock takes an exclusive lock on f, waiting for it (flock: every
// process, and every open of the file within one, excludes the others).
func Lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Unlock lets go of the lock on f.
func Unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// LockShared takes a shared lock on f, waiting for it.
func LockShared(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH)
		if err != syscall.EINTR {
			return err
		}
	}
}

// TryUpgrade turns f's shared lock into an exclusive one if no other
// holder has it, without waiting.
func TryUpgrade(f *os.File) bool {
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return true
	}
	LockShared(f) // a failed conversion may have let the shared lock go
	return false
}

// TryLock takes an exclusive lock on f without waiting: held reports
// that another holder has it; err, that the file system cannot tell.
func TryLock(f *os.File) (held bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch err {
		case nil:
			return false, nil
		case syscall.EWOULDBLOCK:
			return true, nil
		case syscall.EINTR:
			continue
		}
		return false, err
	}
}
