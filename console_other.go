//go:build !windows

package main

// hideOwnConsole is Windows-only: elsewhere a program started from a
// menu gets no console window.
func hideOwnConsole() {}
