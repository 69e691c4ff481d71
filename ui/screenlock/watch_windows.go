//go:build windows

package screenlock

import (
	"context"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                  = windows.NewLazySystemDLL("user32.dll")
	procRegisterClassExW    = user32.NewProc("RegisterClassExW")
	procUnregisterClassW    = user32.NewProc("UnregisterClassW")
	procCreateWindowExW     = user32.NewProc("CreateWindowExW")
	procDestroyWindow       = user32.NewProc("DestroyWindow")
	procDefWindowProcW      = user32.NewProc("DefWindowProcW")
	procGetMessageW         = user32.NewProc("GetMessageW")
	procTranslateMessage    = user32.NewProc("TranslateMessage")
	procDispatchMessageW    = user32.NewProc("DispatchMessageW")
	procPostMessageW        = user32.NewProc("PostMessageW")
	procPostQuitMessage     = user32.NewProc("PostQuitMessage")
	wtsapi32                = windows.NewLazySystemDLL("wtsapi32.dll")
	procWTSRegisterNotify   = wtsapi32.NewProc("WTSRegisterSessionNotification")
	procWTSUnRegisterNotify = wtsapi32.NewProc("WTSUnRegisterSessionNotification")
)

const (
	wmDestroy = 0x0002
	wmClose   = 0x0010

	// hwndMessage is HWND_MESSAGE, (HWND)-3: the parent of message-only
	// windows, which are never shown and get no broadcasts but those
	// they register for.
	hwndMessage = ^uintptr(2)

	notifyForThisSession = 0
)

// wndClassEx is WNDCLASSEXW.
type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

// msg is MSG (with room to spare).
type msg struct {
	hwnd    uintptr
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
	private uint32
}

// Watch calls lock, on a goroutine of its own, each time Windows says
// this session was locked or its console or remote connection went away,
// until ctx ends. It returns at once.
func Watch(ctx context.Context, lock func()) {
	go func() {
		// A window's messages reach only the thread that made it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		watchMessages(ctx, lock, nil)
	}()
}

// watchMessages makes a message-only window, registers it for this
// session's changes and runs its message loop until ctx ends; ready, when
// not nil, is told the window's handle before the loop starts (tests post
// to it).
func watchMessages(ctx context.Context, lock func(), ready func(hwnd uintptr)) {
	if procWTSRegisterNotify.Find() != nil || procCreateWindowExW.Find() != nil {
		return
	}
	var inst windows.Handle
	windows.GetModuleHandleEx(0, nil, &inst)
	proc := windows.NewCallback(func(hwnd, m, wParam, lParam uintptr) uintptr {
		switch {
		case sessionChangeLocks(uint32(m), wParam):
			lock()
			return 0
		case m == wmClose:
			procDestroyWindow.Call(hwnd)
			return 0
		case m == wmDestroy:
			procWTSUnRegisterNotify.Call(hwnd)
			procPostQuitMessage.Call(0)
			return 0
		}
		r, _, _ := procDefWindowProcW.Call(hwnd, m, wParam, lParam)
		return r
	})
	// A name of this watch's own: each Watch registers its own class.
	name, err := windows.UTF16PtrFromString(fmt.Sprintf("ClinicVaultSessionWatch%p", &inst))
	if err != nil {
		return
	}
	wc := wndClassEx{wndProc: proc, instance: inst, className: name}
	wc.size = uint32(unsafe.Sizeof(wc))
	if r, _, _ := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
		return
	}
	defer procUnregisterClassW.Call(uintptr(unsafe.Pointer(name)), uintptr(inst))
	hwnd, _, _ := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(name)), 0, 0, 0, 0, 0, 0, hwndMessage, 0, uintptr(inst), 0)
	if hwnd == 0 {
		return
	}
	if r, _, _ := procWTSRegisterNotify.Call(hwnd, notifyForThisSession); r == 0 {
		procDestroyWindow.Call(hwnd)
		return
	}
	stop := context.AfterFunc(ctx, func() { procPostMessageW.Call(hwnd, wmClose, 0, 0) })
	defer stop()
	if ready != nil {
		ready(hwnd)
	}
	var m msg
	for {
		r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
		if int32(r) <= 0 { // WM_QUIT, or an error
			return
		}
		procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
		procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
	}
}
