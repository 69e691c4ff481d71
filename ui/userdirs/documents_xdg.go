//go:build !windows && !darwin

package userdirs

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// documentsCandidates are where Documents may be, best first: the XDG
// documents folder, then ~/Documents.
func documentsCandidates(home string) []string {
	var out []string
	config := os.Getenv("XDG_CONFIG_HOME")
	if config == "" || !filepath.IsAbs(config) {
		config = filepath.Join(home, ".config")
	}
	if f, err := os.Open(filepath.Join(config, "user-dirs.dirs")); err == nil {
		p := xdgDocuments(io.LimitReader(f, 64<<10), home)
		f.Close()
		if p != "" {
			out = append(out, p)
		}
	}
	return append(out, filepath.Join(home, "Documents"))
}

// xdgDocuments reads XDG_DOCUMENTS_DIR from a user-dirs.dirs file, whose
// lines are shell assignments of a quoted path that is absolute or starts
// with $HOME/. It returns "" when the folder is not named, or is named as
// the home folder itself (which, by the XDG convention, means none).
func xdgDocuments(r io.Reader, home string) string {
	sc := bufio.NewScanner(r)
	found := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		v, ok := strings.CutPrefix(line, "XDG_DOCUMENTS_DIR=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			continue
		}
		v = v[1 : len(v)-1]
		switch {
		case v == "$HOME" || v == "$HOME/":
			found = ""
			continue
		case strings.HasPrefix(v, "$HOME/"):
			v = filepath.Join(home, v[len("$HOME/"):])
		case !filepath.IsAbs(v):
			continue
		}
		if filepath.Clean(v) == filepath.Clean(home) {
			found = ""
			continue
		}
		found = filepath.Clean(v) // the last assignment counts
	}
	return found
}
