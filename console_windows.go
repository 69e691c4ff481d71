package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32                    = windows.NewLazySystemDLL("user32.dll")
	procMessageBoxW           = user32.NewProc("MessageBoxW")
	kernel32                  = windows.NewLazySystemDLL("kernel32.dll")
	procGetConsoleProcessList = kernel32.NewProc("GetConsoleProcessList")
	procFreeConsole           = kernel32.NewProc("FreeConsole")
)

// hideOwnConsole lets go of the console window Windows made for this
// process alone, as when the Start-menu shortcut opens the window: the
// program is a console program, so that its commands print in a Command
// Prompt and in scripts, and a receptionist should not see an empty
// console beside the window. A console shared with the Command Prompt
// that started the program is kept.
// It reports whether it let go of one: what the program would print on
// standard error then reaches nobody (showMessage shows it).
func hideOwnConsole() bool {
	if procGetConsoleProcessList.Find() != nil || procFreeConsole.Find() != nil {
		return false
	}
	var pids [2]uint32
	n, _, _ := procGetConsoleProcessList.Call(uintptr(unsafe.Pointer(&pids[0])), 2)
	if n != 1 {
		return false
	}
	r, _, _ := procFreeConsole.Call()
	return r != 0
}

// showMessage shows text in a message box with an OK button: a start
// from the Start menu that ends without a window (the window already
// open there did not answer) says why where the receptionist looks.
func showMessage(title, text string) {
	if procMessageBoxW.Find() != nil {
		return
	}
	t, err1 := windows.UTF16PtrFromString(title)
	m, err2 := windows.UTF16PtrFromString(text)
	if err1 != nil || err2 != nil {
		return
	}
	const mbOK, mbIconWarning = 0x0, 0x30
	procMessageBoxW.Call(0, uintptr(unsafe.Pointer(m)), uintptr(unsafe.Pointer(t)), mbOK|mbIconWarning)
}
