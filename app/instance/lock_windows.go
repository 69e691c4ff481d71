//go:build windows

package instance

import (
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive lock on f's first byte without waiting: held
// reports that another holder has it (LockFileEx: every process, and
// every open of the file within one, excludes the others).
func tryLock(f *os.File) (held bool, err error) {
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

func unlock(f *os.File) {
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

var procAllowSetForegroundWindow = windows.NewLazySystemDLL("user32.dll").NewProc("AllowSetForegroundWindow")

// allowForeground lets process pid bring its window to the front: Windows
// lets only the process the user is working with (this one, just started)
// do that, or one it allows.
func allowForeground(pid int) {
	if procAllowSetForegroundWindow.Find() == nil {
		procAllowSetForegroundWindow.Call(uintptr(pid))
	}
}
