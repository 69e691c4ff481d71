//go:build !linux || !cgo

package store

// TrimMemory does nothing here: the C runtime's allocator decides on its
// own when to return freed memory (the Windows heap decommits large free
// blocks; macOS's malloc releases free pages under memory pressure).
func TrimMemory() {}
