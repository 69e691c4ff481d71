//go:build !windows

package instance

import (
	"os"
	"syscall"
)

// tryLock takes an exclusive lock on f without waiting: held reports that
// another holder has it (flock: every process, and every open of the file
// within one, excludes the others).
func tryLock(f *os.File) (held bool, err error) {
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

func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// allowForeground does nothing: only Windows keeps a process that is not
// in front from bringing its window forward.
func allowForeground(pid int) {}
