//go:build !windows && !darwin

package userdirs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// XDG_DOCUMENTS_DIR is read as xdg-user-dirs writes it: $HOME/ or an
// absolute path in double quotes; the home folder itself means none.
func TestXDGDocuments(t *testing.T) {
	home := "/home/rita"
	for _, c := range []struct{ file, want string }{
		{"# written by xdg-user-dirs-update\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_DOCUMENTS_DIR=\"$HOME/Dokumente\"\n", "/home/rita/Dokumente"},
		{"XDG_DOCUMENTS_DIR=\"/srv/docs/rita\"", "/srv/docs/rita"},
		{"  XDG_DOCUMENTS_DIR=\"$HOME/My Documents\"  ", "/home/rita/My Documents"},
		{"XDG_DOCUMENTS_DIR=\"$HOME/\"", ""},
		{"XDG_DOCUMENTS_DIR=\"$HOME\"", ""},
		{"XDG_DOCUMENTS_DIR=\"/home/rita\"", ""},
		{"XDG_DOCUMENTS_DIR=relative", ""},
		{"XDG_DOCUMENTS_DIR=\"docs\"", ""},
		{"#XDG_DOCUMENTS_DIR=\"$HOME/Docs\"", ""},
		{"XDG_DOWNLOAD_DIR=\"$HOME/Downloads\"", ""},
		{"", ""},
	} {
		if got := xdgDocuments(strings.NewReader(c.file), home); got != c.want {
			t.Errorf("%q: %q, want %q", c.file, got, c.want)
		}
	}
}

// The XDG documents folder comes first; when it does not exist,
// ~/Documents.
func TestDocumentsFollowsUserDirs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	os.MkdirAll(filepath.Join(home, ".config"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "user-dirs.dirs"), []byte("XDG_DOCUMENTS_DIR=\"$HOME/Dokumente\"\n"), 0o600)
	docs := filepath.Join(home, "Documents")
	os.Mkdir(docs, 0o700)
	if got := Documents(); got != docs {
		t.Fatalf("XDG folder missing: %q, want %q", got, docs)
	}
	dok := filepath.Join(home, "Dokumente")
	os.Mkdir(dok, 0o700)
	if got := Documents(); got != dok {
		t.Fatalf("%q, want the XDG folder %q", got, dok)
	}
}
