//go:build windows

package userdirs

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// documentsCandidates are where Documents may be, best first.
func documentsCandidates(home string) []string {
	var out []string
	if p, err := windows.KnownFolderPath(windows.FOLDERID_Documents, windows.KF_FLAG_DEFAULT); err == nil {
		out = append(out, p)
	}
	if p := os.Getenv("USERPROFILE"); p != "" {
		out = append(out, filepath.Join(p, "Documents"))
	}
	return append(out, filepath.Join(home, "Documents"))
}
