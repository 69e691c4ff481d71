package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// plant makes name in dir (a folder with a file in it when dir is true)
// dated at.
func plant(t *testing.T, dir, name string, folder bool, at time.Time) {
	t.Helper()
	p := filepath.Join(dir, name)
	if folder {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		inner := filepath.Join(p, "general.db")
		if err := os.WriteFile(inner, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(inner, at, at); err != nil {
			t.Fatal(err)
		}
	} else if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func TestSweepStaleTakesOnlyOldLeftoversOfOurs(t *testing.T) {
	dir := t.TempDir()
	now := storeTestNow // every file's time is set from it: no date of the run matters
	old := now.Add(-2 * time.Hour)
	scheme := ScratchName{Prefix: ".clinicvault-snapshot-"}
	plant(t, dir, ".clinicvault-snapshot-123", true, old)                // ours, old: goes
	plant(t, dir, ".clinicvault-snapshot-456", true, now)                // ours, fresh: stays
	plant(t, dir, ".clinicvault-snapshot-notes", false, old)             // not ours (letters): stays
	plant(t, dir, "clinicvault-snapshot-789", true, old)                 // no dot: stays
	plant(t, dir, ".clinicvault-snapshot-", false, old)                  // nothing in the middle: stays
	plant(t, dir, ".clinicvault-snapshot-999", true, now.Add(time.Hour)) // dated in the future: fresh

	// A folder whose own time is old but whose file is being written is live.
	plant(t, dir, ".clinicvault-snapshot-555", true, old)
	live := filepath.Join(dir, ".clinicvault-snapshot-555", "clinical.db")
	if err := os.WriteFile(live, []byte("being copied"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, ".clinicvault-snapshot-555"), old, old); err != nil {
		t.Fatal(err)
	}

	removed := SweepStale(dir, now, scheme)
	if len(removed) != 1 || removed[0] != ".clinicvault-snapshot-123" {
		t.Fatalf("removed %v, want only .clinicvault-snapshot-123", removed)
	}
	for _, n := range []string{".clinicvault-snapshot-456", ".clinicvault-snapshot-notes", "clinicvault-snapshot-789",
		".clinicvault-snapshot-", ".clinicvault-snapshot-999", ".clinicvault-snapshot-555"} {
		if !exists(filepath.Join(dir, n)) {
			t.Errorf("%s was removed", n)
		}
	}
}

func TestSweepStaleNeverFollowsALink(t *testing.T) {
	dir, target := t.TempDir(), t.TempDir()
	plant(t, target, "precious", false, storeTestNow.Add(-48*time.Hour))
	if err := os.Symlink(target, filepath.Join(dir, ".clinicvault-verify-1")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	SweepStale(dir, storeTestNow.Add(48*time.Hour), ScratchName{Prefix: ".clinicvault-verify-"})
	if !exists(filepath.Join(target, "precious")) || !exists(filepath.Join(dir, ".clinicvault-verify-1")) {
		t.Fatal("the sweep followed or removed a symbolic link")
	}
}

// A crashed keyring write and a crashed export left temp files: the next
// write of the same file removes the old ones only.
func TestAtomicWriteAndReplacementSweepTheirOldTempFiles(t *testing.T) {
	dir := t.TempDir()
	// WriteFileAtomic and NewReplacement sweep against the real clock: the
	// files' times are the file system's, so they are set from it here
	// (a span back from the moment of the run, never a date).
	old, now := time.Now().Add(-3*time.Hour), time.Now()
	plant(t, dir, ".vault.keys.tmp-111", false, old)
	plant(t, dir, ".vault.keys.tmp-222", false, now)
	plant(t, dir, ".vault.keys.tmp-backup", false, old) // not ours
	plant(t, dir, ".other.json.tmp-333", false, old)    // another file's: not this write's business
	if err := WriteFileAtomic(filepath.Join(dir, KeyringFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	plant(t, dir, ".export.csv.444.part", false, old)
	plant(t, dir, ".export.csv.555.part", false, now)
	plant(t, dir, ".export.csv.mine.part", false, old)
	r, err := NewReplacement(filepath.Join(dir, "export.csv"))
	if err != nil {
		t.Fatal(err)
	}
	r.Abandon()
	for n, want := range map[string]bool{
		".vault.keys.tmp-111": false, ".vault.keys.tmp-222": true, ".vault.keys.tmp-backup": true, ".other.json.tmp-333": true,
		".export.csv.444.part": false, ".export.csv.555.part": true, ".export.csv.mine.part": true,
	} {
		if got := exists(filepath.Join(dir, n)); got != want {
			t.Errorf("%s: present %v, want %v", n, got, want)
		}
	}
}

// A work folder whose maker still runs (its lock held) is never swept,
// however old it looks: a laptop asleep mid-backup keeps its snapshots.
// Once released it is gone; a crashed maker's lock dies with it.
func TestSweepStaleSparesAWorkFolderInUse(t *testing.T) {
	dir := t.TempDir()
	scheme := ScratchName{Prefix: ".clinicvault-snapshot-"}
	live, release, err := MkdirWork(dir, scheme.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	if !scheme.Match(filepath.Base(live)) {
		t.Fatalf("%s is not of our naming", live)
	}
	old := storeTestNow.Add(-5 * time.Hour)
	age := func(p string) {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			os.Chtimes(filepath.Join(p, e.Name()), old, old)
		}
		os.Chtimes(p, old, old)
	}
	age(live)
	if !workInUse(live) {
		t.Skip("no file locks here")
	}
	if removed := SweepStale(dir, storeTestNow, scheme); len(removed) != 0 {
		t.Fatalf("swept %v while in use", removed)
	}
	// What a killed process leaves: the folder and its lock file, unlocked.
	dead := filepath.Join(dir, ".clinicvault-snapshot-77")
	os.Mkdir(dead, 0o700)
	os.WriteFile(filepath.Join(dead, workLockFile), nil, 0o600)
	age(dead)
	if removed := SweepStale(dir, storeTestNow, scheme); len(removed) != 1 || removed[0] != filepath.Base(dead) {
		t.Fatalf("swept %v, want only %s", removed, filepath.Base(dead))
	}
	release()
	if exists(live) {
		t.Fatal("release left the folder")
	}
}

// The by-hand removal RemoveTree falls back on (when os.RemoveAll fails,
// as under Wine) deletes a nested tree, deepest first, and removes a link
// without following it.
func TestRemoveTreeByHand(t *testing.T) {
	root := t.TempDir()
	keep := filepath.Join(root, "keep")
	os.MkdirAll(keep, 0o700)
	os.WriteFile(filepath.Join(keep, "precious"), []byte("x"), 0o600)
	tree := filepath.Join(root, ".clinicvault-snapshot-1")
	os.MkdirAll(filepath.Join(tree, "a", "b", "c"), 0o700)
	for _, f := range []string{"x", "a/y", "a/b/z", "a/b/c/w"} {
		os.WriteFile(filepath.Join(tree, f), []byte("data"), 0o600)
	}
	if err := os.Symlink(keep, filepath.Join(tree, "a", "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := removeTreeByHand(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Fatalf("tree left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(keep, "precious")); err != nil {
		t.Fatalf("followed the link: %v", err)
	}
	if err := RemoveTree(filepath.Join(root, "absent")); err != nil {
		t.Fatalf("absent folder: %v", err)
	}
}
