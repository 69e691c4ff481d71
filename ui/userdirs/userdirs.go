// Package userdirs finds the user's own folders, where file dialogs
// start: the Documents folder, else the home folder.
package userdirs

import (
	"os"
	"path/filepath"
)

// Documents returns the user's Documents folder: on Windows the Documents
// known folder (which follows a redirection, to OneDrive for one), else
// %USERPROFILE%\Documents; on macOS ~/Documents; elsewhere the XDG
// documents folder (XDG_DOCUMENTS_DIR in user-dirs.dirs), else
// ~/Documents. When that folder does not exist it returns the home
// folder, and "" when there is none either.
func Documents() string {
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	var try []string
	if home != "" {
		try = append(documentsCandidates(home), home)
	}
	return firstFolder(try)
}

// firstFolder returns the first of paths that is an existing folder, or
// "".
func firstFolder(paths []string) string {
	for _, p := range paths {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	return ""
}
