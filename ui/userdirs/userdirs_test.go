package userdirs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The first existing folder wins; relative, empty and missing paths and
// plain files are passed over.
func TestFirstFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Mkdir(b, 0o700)
	if got := firstFolder([]string{"", "relative", a, file, b, dir}); got != b {
		t.Fatalf("got %q, want %q", got, b)
	}
	if got := firstFolder([]string{a, file}); got != "" {
		t.Fatalf("got %q, want none", got)
	}
}

// Documents is the Documents folder in the home folder, or the home
// folder itself while there is none.
func TestDocumentsFallsBackToHome(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows asks the system for its known folder")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "no-config"))
	if got := Documents(); got != home {
		t.Fatalf("without Documents: %q, want home %q", got, home)
	}
	docs := filepath.Join(home, "Documents")
	os.Mkdir(docs, 0o700)
	if got := Documents(); got != docs {
		t.Fatalf("%q, want %q", got, docs)
	}
	t.Setenv("HOME", filepath.Join(home, "gone"))
	if got := Documents(); got != "" {
		t.Fatalf("without a home folder: %q, want none", got)
	}
}
