package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestFilesAreNewPrivateAndNeverThroughALink: what ClinicVault writes
// outside the vault is created new with mode 0600; a file at the name is
// not written over, and a symbolic link there — pointing at another file,
// or at nothing yet (where someone waits to read what is written) — is
// never followed.
func TestFilesAreNewPrivateAndNeverThroughALink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "summary.pdf")
	if err := WriteNew(p, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := WriteNew(p, []byte("second")); !errors.Is(err, ErrFileExists) {
		t.Errorf("writing over an existing file: %v, want ErrFileExists", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if runtime.GOOS == "windows" {
		return // symbolic links need privileges there
	}
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	drop := filepath.Join(dir, "attacker", "drop")
	os.MkdirAll(filepath.Dir(drop), 0o777)
	for _, target := range []string{victim, drop} {
		link := filepath.Join(dir, "link-"+filepath.Base(target))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteNew(link, []byte("patients")); !errors.Is(err, ErrFileExists) {
			t.Errorf("new file through a link to %s: %v", target, err)
		}
		if r, err := NewReplacement(link); !errors.Is(err, ErrLinkNotFollowed) {
			t.Errorf("replacing a link to %s: %v", target, err)
			if r != nil {
				r.Abandon()
			}
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := os.Stat(drop); err == nil {
		t.Error("a file was created where the dangling link points")
	}
	// Replacing a file the person chose to overwrite: the old one goes
	// as a whole, the new one is 0600, nothing is left beside it.
	old := filepath.Join(dir, "export.cvx")
	os.WriteFile(old, []byte("old old old"), 0o644)
	r, err := NewReplacement(old)
	if err != nil {
		t.Fatal(err)
	}
	r.Write([]byte("new"))
	if err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(old); string(b) != "new" {
		t.Errorf("replaced file holds %q", b)
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".part" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
