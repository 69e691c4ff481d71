//go:build !windows

package folder

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The attacker here can write the shared folder (a Samba share with Unix
// extensions, a Syncthing folder, a folder on this computer that other
// local users may write, a USB stick): they put symbolic links in it,
// pointing into this computer's own files, and wait for ClinicVault to
// follow them.

// victimDir is a folder outside the sync folder, with one file of some
// worth in a folder of its own (as a home folder holds Documents, or the
// data folder holds general.db), dated long ago.
func victimDir(t *testing.T) (dir, file string) {
	t.Helper()
	dir = testDir(t)
	file = filepath.Join(dir, "Documents", "general.db")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("the practice's vault"), 0o600); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(file, long, long); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func stillThere(t *testing.T, file string) {
	t.Helper()
	if b, err := os.ReadFile(file); err != nil || string(b) != "the practice's vault" {
		t.Fatalf("a file outside the sync folder was touched: %q, %v", b, err)
	}
}

// TestAttackSweepDoesNotFollowALinkedPairingFolder: "pairing" is a link
// to a folder of this computer's; the sweep of old pairing files, which
// runs at every sync pass, must not delete what lies there.
func TestAttackSweepDoesNotFollowALinkedPairingFolder(t *testing.T) {
	victim, file := victimDir(t)
	f := Folder{Dir: testDir(t)}
	if err := os.Symlink(victim, filepath.Join(f.Dir, "pairing")); err != nil {
		t.Fatal(err)
	}
	f.SweepPairing(time.Now())
	stillThere(t, file)
}

// TestAttackRemoveDoesNotFollowALinkedLocator: an invitation's folder
// (pairing/<locator>) is swapped for a link to a folder of this
// computer's; cancelling the invitation lists that folder and removes
// every file in it.
func TestAttackRemoveDoesNotFollowALinkedLocator(t *testing.T) {
	victim, file := victimDir(t)
	f := Folder{Dir: testDir(t)}
	if err := os.MkdirAll(filepath.Join(f.Dir, "pairing"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(victim, "Documents"), filepath.Join(f.Dir, "pairing", "7K2QX")); err != nil {
		t.Fatal(err)
	}
	names, _ := f.List("pairing/7K2QX")
	for _, n := range names {
		f.Remove("pairing/7K2QX/" + n)
	}
	f.Remove("pairing/7K2QX/general.db")
	stillThere(t, file)
}

// TestAttackWriteDoesNotFollowALinkedDeviceFolder: this computer's own
// folder (devices/<id>) is a link to a folder elsewhere; its batches
// must not be written there.
func TestAttackWriteDoesNotFollowALinkedDeviceFolder(t *testing.T) {
	victim, _ := victimDir(t)
	f := Folder{Dir: testDir(t)}
	if err := os.MkdirAll(filepath.Join(f.Dir, "devices"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(victim, "Documents"), filepath.Join(f.Dir, "devices", devA)); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(devA, 1, []byte("batch")); err == nil {
		t.Error("a batch was written through a link")
	}
	if err := f.WriteOnce("witness/x/../../devices/"+devA+"/000000000002", []byte("batch")); err == nil {
		t.Error("a path with .. was written")
	}
	entries, _ := os.ReadDir(filepath.Join(victim, "Documents"))
	if len(entries) != 1 {
		t.Fatalf("files were written outside the sync folder: %v", entries)
	}
}

// TestAttackReadRefusesLinksAndSpecialFiles: a batch that is a link to
// an endless device (/dev/zero), a named pipe that nobody writes, or a
// file far larger than any batch must fail at once, not fill memory or
// stop the sync pass for good.
func TestAttackReadRefusesLinksAndSpecialFiles(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	dir := filepath.Join(f.Dir, "devices", devA)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, seqName(1))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, seqName(2)), 0o600); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(dir, seqName(3)))
	if err != nil {
		t.Fatal(err)
	}
	big.Truncate(4 << 30) // sparse: takes no room on disk
	big.Close()
	for seq := uint64(1); seq <= 3; seq++ {
		done := make(chan error, 1)
		go func() {
			b, err := f.Get(devA, seq)
			if err == nil {
				err = errors.New("read " + strconv.Itoa(len(b)) + " bytes")
			} else {
				err = nil
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("batch %d: %v", seq, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("batch %d: the read never returned", seq)
		}
	}
}
