package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app/instance"
)

// The window's place is read back as saved; a missing file is
// ErrNotFound and a damaged one an error, never a zero place.
func TestWindowPlaceIsReadAsSaved(t *testing.T) {
	v := NewVault(t.TempDir())
	if _, err := v.WindowPlace(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no file: %v, want ErrNotFound", err)
	}
	want := WindowPlace{Width: 1280, Height: 760, Placed: true, X: -1900, Y: 40, Maximized: true}
	if err := v.SaveWindowPlace(want); err != nil {
		t.Fatal(err)
	}
	got, err := v.WindowPlace()
	if err != nil || got != want {
		t.Fatalf("read %+v %v, want %+v", got, err, want)
	}
	if st, _ := os.Stat(filepath.Join(v.Dir, WindowFile)); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	os.WriteFile(filepath.Join(v.Dir, WindowFile), []byte("{"), 0o600)
	if p, err := v.WindowPlace(); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("damaged file: %+v %v", p, err)
	}
}

// The window's own files (its lock, its address, its place) do not make a
// data folder "not empty" for a restore or a join, and a restore that is
// refused leaves them, so the lock the open window holds stays.
func TestWindowFilesLeaveAFolderEmpty(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	info, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "restored")
	h, err := instance.Claim(to)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v2 := NewVault(to)
	v2.Now = f.clk.Now
	if err := v2.SaveWindowPlace(WindowPlace{Width: 1100, Height: 720}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(to, instance.AddressFile+".123.tmp"), nil, 0o600)
	if folderHasFiles(to) {
		t.Fatal("the window's files make the folder not empty")
	}
	err = v2.Join(ctx, t.TempDir(), "ABCD-EFGH", "Desk", nil, time.Millisecond)
	if err == nil || errors.Is(err, ErrVaultExists) {
		t.Fatalf("join beside the window's files: %v, want no invitation", err)
	}
	f.clk.Advance(time.Minute)
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", adminPass, "000000", nil); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("wrong code: %v", err)
	}
	for _, name := range []string{instance.LockFile, instance.AddressFile, WindowFile} {
		if _, err := os.Stat(filepath.Join(to, name)); err != nil {
			t.Errorf("a refused restore removed %s: %v", name, err)
		}
	}
	if _, err := instance.Claim(to); !errors.Is(err, instance.ErrHeld) {
		t.Fatalf("after a refused restore a second window could take the folder: %v", err)
	}
	f.clk.Advance(time.Minute)
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", adminPass, f.codeFor(f.secrets["Maria Admin"]), nil); err != nil {
		t.Fatalf("restore beside the window's files: %v", err)
	}
	if !folderHasFiles(to) {
		t.Fatal("a restored vault counts as empty")
	}
	if err := NewVault(to).Join(ctx, t.TempDir(), "ABCD-EFGH", "Desk", nil, time.Millisecond); !errors.Is(err, ErrVaultExists) {
		t.Fatalf("join over a vault: %v", err)
	}
}
