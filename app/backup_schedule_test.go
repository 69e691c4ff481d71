package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A scheduled backup that fails says so where an admin looks (the
// backup status the Backups screen shows, and the Security Center) until
// a later one works.
func TestFailedScheduledBackupIsReported(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	dir := filepath.Join(t.TempDir(), "usb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	// The stick is pulled out; a file of the same name is left.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	ran, err := s.RunScheduledBackup(ctx, nil)
	if !ran || err == nil {
		t.Fatalf("the scheduled backup into a missing folder: ran %v, err %v", ran, err)
	}
	st, err := s.BackupStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastFailure.IsZero() || !strings.Contains(st.Warning, "The scheduled backup of") || !strings.Contains(st.Warning, "failed") {
		t.Fatalf("the failure is not in the backup status: %+v", st)
	}
	items, err := s.SecurityReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range items {
		if it.ID == "backup" {
			found = it.Status == "attention" && strings.Contains(it.Detail, "failed")
		}
	}
	if !found {
		t.Fatal("the Security Center does not show the failed backup")
	}
	// The stick is back: the next scheduled backup works and the warning goes.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if ran, err := s.RunScheduledBackup(ctx, nil); !ran || err != nil {
		t.Fatalf("the next scheduled backup: ran %v, %v", ran, err)
	}
	if st, _ := s.BackupStatus(ctx); !st.LastFailure.IsZero() || st.Warning != "" {
		t.Fatalf("after a good backup the failure is still reported: %+v", st)
	}
}
