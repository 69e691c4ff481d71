//go:build !windows

package store

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f, waiting for it (flock: every
// process, and every open of the file within one, excludes the others).
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
