//go:build windows

package winplace

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                  = windows.NewLazySystemDLL("user32.dll")
	procGetWindowPlacement  = user32.NewProc("GetWindowPlacement")
	procSetWindowPlacement  = user32.NewProc("SetWindowPlacement")
	procMonitorFromRect     = user32.NewProc("MonitorFromRect")
	procIsIconic            = user32.NewProc("IsIconic")
	procShowWindow          = user32.NewProc("ShowWindow")
	procSetForegroundWindow = user32.NewProc("SetForegroundWindow")
)

const (
	swShowNormal    = 1
	swShowMinimized = 2
	swShowMaximized = 3
	swRestore       = 9

	wpfRestoreToMaximized = 0x2

	monitorDefaultToNull = 0
)

// windowPlacement is WINDOWPLACEMENT.
type windowPlacement struct {
	length    uint32
	flags     uint32
	showCmd   uint32
	minPos    struct{ x, y int32 }
	maxPos    struct{ x, y int32 }
	normalPos windows.Rect
}

func get(hwnd uintptr) (windowPlacement, bool) {
	var wp windowPlacement
	wp.length = uint32(unsafe.Sizeof(wp))
	if hwnd == 0 || procGetWindowPlacement.Find() != nil {
		return wp, false
	}
	r, _, _ := procGetWindowPlacement.Call(hwnd, uintptr(unsafe.Pointer(&wp)))
	return wp, r != 0
}

// Get returns where the window hwnd is (maximised also when it is
// minimised from a maximised state), or false when it cannot tell.
func Get(hwnd uintptr) (Placement, bool) {
	wp, ok := get(hwnd)
	if !ok {
		return Placement{}, false
	}
	max := wp.showCmd == swShowMaximized || wp.showCmd == swShowMinimized && wp.flags&wpfRestoreToMaximized != 0
	return Placement{X: int(wp.normalPos.Left), Y: int(wp.normalPos.Top), Maximized: max}, true
}

// Set moves the window hwnd's normal frame to p's corner, keeping its
// size, and maximises it when p says so. It does nothing, and returns
// false, when the frame would then lie on no monitor (one that was
// unplugged): the window stays where it is.
func Set(hwnd uintptr, p Placement) bool {
	wp, ok := get(hwnd)
	if !ok {
		return false
	}
	r := wp.normalPos
	w, h := r.Right-r.Left, r.Bottom-r.Top
	r.Left, r.Top = int32(p.X), int32(p.Y)
	r.Right, r.Bottom = r.Left+w, r.Top+h
	if m, _, _ := procMonitorFromRect.Call(uintptr(unsafe.Pointer(&r)), monitorDefaultToNull); m == 0 {
		return false
	}
	wp.normalPos = r
	wp.flags = 0
	wp.showCmd = swShowNormal
	if p.Maximized {
		wp.showCmd = swShowMaximized
	}
	ok2, _, _ := procSetWindowPlacement.Call(hwnd, uintptr(unsafe.Pointer(&wp)))
	return ok2 != 0
}

// Unminimize brings the window hwnd back from the taskbar, as it was, and
// asks for it to come to the front.
func Unminimize(hwnd uintptr) {
	if hwnd == 0 || procIsIconic.Find() != nil {
		return
	}
	if r, _, _ := procIsIconic.Call(hwnd); r != 0 {
		procShowWindow.Call(hwnd, swRestore)
	}
	procSetForegroundWindow.Call(hwnd)
}
