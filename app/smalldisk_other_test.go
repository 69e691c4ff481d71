//go:build !linux && !darwin

package app

import "testing"

// smallDisk skips the test: there is no small file system to make here
// without an administrator (a Windows VHD needs one).
func smallDisk(t *testing.T) string {
	t.Helper()
	t.Skip("no small file system on this system")
	return ""
}
