package app

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// plantScratch makes name in dir dated at: a folder holding a snapshot
// file when folder is set, else a file.
func plantScratch(t *testing.T, dir, name string, folder bool, at time.Time) {
	t.Helper()
	p := filepath.Join(dir, name)
	if folder {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		inner := filepath.Join(p, "general.db")
		if err := os.WriteFile(inner, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(inner, at, at)
	} else if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// A killed backup or check left its work folders and its half-written
// file in the backup folder; the next backup (and the next check) delete
// those an hour old, and leave fresh ones (maybe another process's, still
// running) and everything not of our naming alone.
func TestBackupSweepsStaleLeftoversOfCrashedRuns(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now() // file times are real times, whatever the vault's clock says
	old := now.Add(-2 * time.Hour)
	plantScratch(t, f.dir, ".clinicvault-snapshot-1234567", true, old)
	plantScratch(t, f.dir, ".clinicvault-verify-7654321", true, old)
	plantScratch(t, f.dir, ".clinicvault-riverside-20261101-020000.cvbackup.partial", false, old)
	plantScratch(t, f.dir, ".clinicvault-snapshot-999", true, now.Add(-10*time.Minute))  // fresh: a live backup's
	plantScratch(t, f.dir, ".clinicvault-snapshot-keep", true, old)                      // not our naming
	plantScratch(t, f.dir, ".clinicvault-notes.cvbackup.partial", false, old)            // not our naming
	plantScratch(t, f.dir, "clinicvault-riverside-20261101-020000.cvbackup", false, old) // a real backup
	plantScratch(t, f.dir, "holiday-photos", true, old)                                  // the stick's owner's

	info, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		".clinicvault-notes.cvbackup.partial",
		".clinicvault-snapshot-999",
		".clinicvault-snapshot-keep",
		"clinicvault-riverside-20261101-020000.cvbackup",
		filepath.Base(info.Path),
		"holiday-photos",
	}
	sort.Strings(want)
	if got := names(t, f.dir); !equalStrings(got, want) {
		t.Fatalf("after the backup the folder holds\n%v\nwant\n%v", got, want)
	}

	// The check sweeps too: a check killed an hour ago left its folder.
	plantScratch(t, f.dir, ".clinicvault-verify-42", true, old)
	if _, err := f.admin.VerifyBackup(ctx, info.Path, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(t, f.dir); !equalStrings(got, want) {
		t.Fatalf("after the check the folder holds\n%v\nwant\n%v", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
