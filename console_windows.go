package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
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
func hideOwnConsole() {
	if procGetConsoleProcessList.Find() != nil || procFreeConsole.Find() != nil {
		return
	}
	var pids [2]uint32
	n, _, _ := procGetConsoleProcessList.Call(uintptr(unsafe.Pointer(&pids[0])), 2)
	if n == 1 {
		procFreeConsole.Call()
	}
}
