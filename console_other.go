//go:build !windows

package main

// hideOwnConsole is Windows-only: elsewhere a program started from a
// menu gets no console window, and keeps its standard error.
func hideOwnConsole() bool { return false }

// showMessage is never needed where the console stays (hideOwnConsole
// reports false).
func showMessage(title, text string) {}
