package folder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteOnceNeverReplaces: a file written once is never replaced, by
// a second writer or by a stale one; Replace is the one way over it.
func TestWriteOnceNeverReplaces(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	if err := f.Put("dev", 1, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := f.Put("dev", 1, []byte("second")); !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v", err)
	}
	if b, _ := f.Get("dev", 1); string(b) != "first" {
		t.Fatalf("content %q", b)
	}
	if err := f.Replace("devices/dev/"+seqName(1), []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.Get("dev", 1); string(b) != "genuine" {
		t.Fatalf("after Replace: %q", b)
	}
	left, _ := os.ReadDir(filepath.Join(f.Dir, "devices", "dev"))
	if len(left) != 1 {
		t.Fatalf("temp files left: %v", left)
	}
}

// TestSweepPairing: pairing files older than their code's life are
// deleted, newer ones kept.
func TestSweepPairing(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	for _, rel := range []string{"pairing/old/offer", "pairing/old/grant", "pairing/new/offer"} {
		if err := f.WriteOnce(rel, []byte("box")); err != nil {
			t.Fatal(err)
		}
	}
	// Times relative to the file system's own clock (the files' times),
	// never the date the test runs.
	st, err := os.Stat(filepath.Join(f.Dir, "pairing", "new", "offer"))
	if err != nil {
		t.Fatal(err)
	}
	written := st.ModTime()
	long := written.Add(-time.Hour)
	for _, rel := range []string{"pairing/old/offer", "pairing/old/grant"} {
		if err := os.Chtimes(filepath.Join(f.Dir, filepath.FromSlash(rel)), long, long); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.SweepPairing(written.Add(-20 * time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("swept %d: %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(f.Dir, "pairing", "old")); !os.IsNotExist(err) {
		t.Fatal("the old pairing folder is left")
	}
	if _, err := f.Read("pairing/new/offer"); err != nil {
		t.Fatal("a live offer was swept")
	}
}

// testDir is a fresh folder for one test, removed after it entry by
// entry: t.TempDir's clean-up (os.RemoveAll) fails under Wine 8, which
// lacks the POSIX-semantics deletion it uses on Windows.
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cvfolder-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(dir) })
	return dir
}

// removeTree removes dir and all in it with os.Remove.
func removeTree(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case d.IsDir():
			dirs = append(dirs, p)
		default:
			os.Remove(p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}
