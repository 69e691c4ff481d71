//go:build !windows

package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAttackRemoveTreeAndSweepStayInTheirFolder: someone who can write
// the folder where ClinicVault leaves its work folders (a backup folder
// on a share, a USB stick) puts, inside a stale work folder, links to a
// folder of this computer's and to a file of it, and a stale "work
// folder" that is itself a link. The sweep, RemoveTree and its
// file-by-file fallback delete the links, never what they point to.
func TestAttackRemoveTreeAndSweepStayInTheirFolder(t *testing.T) {
	victim := t.TempDir()
	precious := filepath.Join(victim, "Documents", "general.db")
	if err := os.MkdirAll(filepath.Dir(precious), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(precious, []byte("vault"), 0o600); err != nil {
		t.Fatal(err)
	}
	// File times are the file system's, judged against the moment passed
	// to SweepStale: both come from the real clock, as spans (never a
	// date), as in the program.
	long := time.Now().Add(-2 * StaleAge)
	scheme := ScratchName{Prefix: ".clinicvault-snapshot-"}
	plantLinks := func(dir string) string {
		work := filepath.Join(dir, ".clinicvault-snapshot-123")
		if err := os.Mkdir(work, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Symlink(filepath.Join(victim, "Documents"), filepath.Join(work, "sub"))
		os.Symlink(precious, filepath.Join(work, "general.db"))
		os.Chtimes(work, long, long)
		return work
	}
	check := func(how string) {
		t.Helper()
		if b, err := os.ReadFile(precious); err != nil || string(b) != "vault" {
			t.Fatalf("%s deleted or changed a file outside the work folder: %q, %v", how, b, err)
		}
	}

	// The sweep, with link timestamps left as they are (Chtimes follows
	// links), on a folder whose own entries are old.
	dir := t.TempDir()
	work := plantLinks(dir)
	os.Symlink(filepath.Join(victim, "Documents"), filepath.Join(dir, ".clinicvault-snapshot-456"))
	SweepStale(dir, time.Now().Add(2*StaleAge), scheme)
	check("the sweep")

	// RemoveTree, and the fallback it takes where os.RemoveAll fails.
	work = plantLinks(t.TempDir())
	RemoveTree(work)
	check("RemoveTree")
	work = plantLinks(t.TempDir())
	removeTreeByHand(work)
	check("the file-by-file removal")
	if _, err := os.Lstat(work); err == nil {
		t.Error("the work folder is left")
	}
}
