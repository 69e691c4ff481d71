//go:build windows

package instance

import "golang.org/x/sys/windows"

var procAllowSetForegroundWindow = windows.NewLazySystemDLL("user32.dll").NewProc("AllowSetForegroundWindow")

// allowForeground lets process pid bring its window to the front: Windows
// lets only the process the user is working with (this one, just started)
// do that, or one it allows.
func allowForeground(pid int) {
	if procAllowSetForegroundWindow.Find() == nil {
		procAllowSetForegroundWindow.Call(uintptr(pid))
	}
}
