//go:build darwin

package userdirs

import "path/filepath"

// documentsCandidates are where Documents may be, best first.
func documentsCandidates(home string) []string {
	return []string{filepath.Join(home, "Documents")}
}
