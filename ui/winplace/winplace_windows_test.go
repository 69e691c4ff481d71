//go:build windows

package winplace

import (
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A window's place is read back as set; a place on no monitor is refused
// and the window stays.
func TestPlacementRoundTrip(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const wsOverlappedWindow = 0x00CF0000
	class, _ := windows.UTF16PtrFromString("STATIC")
	create := user32.NewProc("CreateWindowExW")
	hwnd, _, err := create.Call(0, uintptr(unsafe.Pointer(class)), 0, wsOverlappedWindow, 50, 60, 640, 480, 0, 0, 0, 0)
	if hwnd == 0 {
		t.Skipf("no window could be made here: %v", err)
	}
	defer user32.NewProc("DestroyWindow").Call(hwnd)

	if !Set(hwnd, Placement{X: 100, Y: 120}) {
		t.Fatal("Set refused a place on the screen")
	}
	p, ok := Get(hwnd)
	if !ok || p != (Placement{X: 100, Y: 120}) {
		t.Fatalf("Get: %+v %v", p, ok)
	}
	if Set(hwnd, Placement{X: -100000, Y: -100000}) {
		t.Fatal("Set took a place on no monitor")
	}
	if p, _ := Get(hwnd); p.X != 100 || p.Y != 120 {
		t.Fatalf("the window moved to %+v", p)
	}
	if !Set(hwnd, Placement{X: 100, Y: 120, Maximized: true}) {
		t.Fatal("Set refused to maximise")
	}
	if p, _ := Get(hwnd); !p.Maximized || p.X != 100 {
		t.Fatalf("after maximising: %+v", p)
	}
}
