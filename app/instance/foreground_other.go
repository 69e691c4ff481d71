//go:build !windows

package instance

// allowForeground does nothing: only Windows keeps a process that is not
// in front from bringing its window forward.
func allowForeground(pid int) {}
