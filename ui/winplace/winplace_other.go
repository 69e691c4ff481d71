//go:build !windows

package winplace

// Get reports nothing: only Windows is done.
func Get(hwnd uintptr) (Placement, bool) { return Placement{}, false }

// Set does nothing: only Windows is done.
func Set(hwnd uintptr, p Placement) bool { return false }

// Unminimize does nothing: only Windows is done (elsewhere Fyne's
// RequestFocus asks the window manager to show the window).
func Unminimize(hwnd uintptr) {}
