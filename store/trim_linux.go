//go:build linux && cgo

package store

/*
#include <malloc.h>
*/
import "C"

// TrimMemory hands memory that SQLite freed (after a large transaction's
// page cache shrinks back) to the system. glibc keeps freed memory in its
// arenas otherwise.
func TrimMemory() { C.malloc_trim(0) }
