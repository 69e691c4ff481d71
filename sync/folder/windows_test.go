//go:build windows

package folder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Windows tests: run by a cross-compiled test binary on Windows or
// under Wine (.ci/windows-sync-tests), and not built elsewhere.

// holdOpen opens path as another program does that does not let it be
// deleted or renamed over while it reads (no FILE_SHARE_DELETE: Go's own
// os.Open, many antivirus scanners and indexers). The handle is closed
// by the returned function (and at the test's end).
func holdOpen(t *testing.T, path string) (release func()) {
	t.Helper()
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ, syscall.FILE_SHARE_READ, nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		t.Fatalf("hold %s open: %v", path, err)
	}
	closed := false
	release = func() {
		if !closed {
			closed = true
			syscall.CloseHandle(h)
		}
	}
	t.Cleanup(release)
	return release
}

// releaseAfter closes a held file after d, as an antivirus scan ends.
func releaseAfter(d time.Duration, release func()) {
	go func() {
		time.Sleep(d)
		release()
	}()
}

// TestWindowsHeldFileIsSharingViolation: the ground the other tests
// stand on — here (Windows, or this Wine) a file held open without
// FILE_SHARE_DELETE cannot be deleted or renamed over, and the error is
// one busy() knows.
func TestWindowsHeldFileIsSharingViolation(t *testing.T) {
	dir := testDir(t)
	p := filepath.Join(dir, "held")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := filepath.Join(dir, "other")
	if err := os.WriteFile(q, []byte("y"), 0o600); err != nil {
		t.Fatal(err)
	}
	holdOpen(t, p)
	err := os.Remove(p)
	if err == nil {
		t.Fatal("a held file was deleted")
	}
	t.Logf("remove: %v", err)
	if !busy(err) {
		t.Errorf("busy(%v) = false", err)
	}
	err = os.Rename(q, p)
	if err == nil {
		t.Fatal("a held file was renamed over")
	}
	t.Logf("rename over: %v", err)
	if !busy(err) {
		t.Errorf("busy(%v) = false", err)
	}
}

// TestWindowsReplaceWaitsForAHeldFile: Replace over a file another
// program holds open retries until it is let go, and then writes whole.
func TestWindowsReplaceWaitsForAHeldFile(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	rel := "witness/0190a2b3-0000-7000-8000-000000000001"
	if err := f.Replace(rel, []byte("old")); err != nil {
		t.Fatal(err)
	}
	releaseAfter(300*time.Millisecond, holdOpen(t, f.join(rel)))
	start := time.Now()
	if err := f.Replace(rel, []byte("new")); err != nil {
		t.Fatalf("Replace while held for 300 ms: %v", err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("Replace returned after %v, before the file was let go", waited)
	}
	if b, err := f.Read(rel); err != nil || string(b) != "new" {
		t.Fatalf("after Replace: %q, %v", b, err)
	}
	noTemps(t, f, "witness")
}

// TestWindowsReplaceGivesUpClearly: a file held open for good is not
// replaced; after about two seconds Replace returns ErrInUse, naming
// the file, and the old content and no temp file are left.
func TestWindowsReplaceGivesUpClearly(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	rel := "devices/0190a2b3-0000-7000-8000-000000000001/000000000001"
	if err := f.Put("0190a2b3-0000-7000-8000-000000000001", 1, []byte("old")); err != nil {
		t.Fatal(err)
	}
	holdOpen(t, f.join(rel))
	start := time.Now()
	err := f.ReplaceBatch("0190a2b3-0000-7000-8000-000000000001", 1, []byte("new"))
	waited := time.Since(start)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("ReplaceBatch of a held file: %v, want ErrInUse", err)
	}
	var iu *InUseError
	if !errors.As(err, &iu) || iu.Path != rel || iu.Op != "replace" {
		t.Fatalf("error %#v does not name the file", err)
	}
	if waited < patience || waited > patience+time.Second {
		t.Errorf("gave up after %v, want about %v", waited, patience)
	}
	t.Logf("%v (after %v)", err, waited.Round(time.Millisecond))
	if b, err := f.Read(rel); err != nil || string(b) != "old" {
		t.Fatalf("the batch is now %q, %v", b, err)
	}
	noTemps(t, f, "devices/0190a2b3-0000-7000-8000-000000000001")
}

// TestWindowsRemoveWaitsForAHeldFile: Remove retries while the file is
// held, and gives up with ErrInUse when it stays held.
func TestWindowsRemoveWaitsForAHeldFile(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	for _, rel := range []string{"pairing/ABCDE/offer", "pairing/ABCDE/void"} {
		if err := f.WriteOnce(rel, []byte("box")); err != nil {
			t.Fatal(err)
		}
	}
	releaseAfter(300*time.Millisecond, holdOpen(t, f.join("pairing/ABCDE/offer")))
	if err := f.Remove("pairing/ABCDE/offer"); err != nil {
		t.Fatalf("Remove while held for 300 ms: %v", err)
	}
	if _, err := f.Read("pairing/ABCDE/offer"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	holdOpen(t, f.join("pairing/ABCDE/void"))
	err := f.Remove("pairing/ABCDE/void")
	var iu *InUseError
	if !errors.Is(err, ErrInUse) || !errors.As(err, &iu) || iu.Op != "remove" || iu.Path != "pairing/ABCDE/void" {
		t.Fatalf("Remove of a held file: %v, want ErrInUse", err)
	}
}

// TestWindowsWriteOnceBesideAHeldTemp: a write whose temp file an
// antivirus opens just after it is closed still lands whole.
func TestWindowsWriteOnceAfterHeldFileGoes(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	dev := "0190a2b3-0000-7000-8000-000000000001"
	if err := f.Put(dev, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	// Another computer reads batch 1 the Go way (no FILE_SHARE_DELETE)
	// while this one writes batch 2 into the same folder.
	holdOpen(t, f.join("devices/"+dev+"/000000000001"))
	if err := f.Put(dev, 2, []byte("two")); err != nil {
		t.Fatalf("Put beside a held batch: %v", err)
	}
	if err := f.Put(dev, 1, []byte("again")); !errors.Is(err, ErrExists) {
		t.Fatalf("Put over a held batch: %v, want ErrExists", err)
	}
	seqs, err := f.Seqs(dev, 0)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
}

// TestWindowsReadersDoNotHoldWriters: this computer reads a file so
// that another may delete it meanwhile (FILE_SHARE_DELETE, which
// os.Open does not give); replacing an open file is something Windows
// refuses whatever its share mode (short of POSIX semantics, which
// Wine 8 lacks), so a Replace waits for the read to end.
func TestWindowsReadersDoNotHoldWriters(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	rel := "witness/0190a2b3-0000-7000-8000-000000000001"
	if err := f.Replace(rel, []byte("old")); err != nil {
		t.Fatal(err)
	}
	r, err := openShared(f.join(rel))
	if err != nil {
		t.Fatal(err)
	}
	releaseAfter(200*time.Millisecond, func() { r.Close() })
	if err := f.Replace(rel, []byte("new")); err != nil {
		t.Fatalf("Replace while read for 200 ms: %v", err)
	}
	if b, err := f.Read(rel); err != nil || string(b) != "new" {
		t.Fatalf("after Replace: %q, %v", b, err)
	}
	r, err = openShared(f.join(rel))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := time.Now()
	if err := f.Remove(rel); err != nil {
		t.Fatalf("Remove while read: %v", err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Errorf("Remove waited %v for a reader", waited)
	}
	// A reader the Go way (os.Open) would have held it: that is what the
	// readers here do not do.
	if err := f.Replace(rel+"-go", []byte("x")); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(f.join(rel + "-go"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := os.Remove(f.join(rel + "-go")); !busy(err) {
		t.Fatalf("os.Remove of a file open by os.Open: %v (this Windows lets it go: the test's premise is wrong)", err)
	}
}

// TestWindowsPaths: a folder given with a drive letter and
// backslashes, with forward slashes, through Wine's Z: drive, or as a
// \\?\ path works the same.
func TestWindowsPaths(t *testing.T) {
	base := testDir(t)
	if !strings.Contains(base, `\`) || filepath.VolumeName(base) == "" {
		t.Fatalf("temp dir %q is not a Windows path", base)
	}
	forms := map[string]string{
		"backslashes":    base + `\bs`,
		"forward":        strings.ReplaceAll(base, `\`, "/") + "/fw",
		"trailing":       base + `\tr\`,
		"long-path form": `\\?\` + base + `\lp`,
		"over 260":       base + strings.Repeat(`\a-folder-name-of-forty-characters-long-`, 7),
	}
	// A share and a mapped drive, when the script that runs these tests
	// has made them (in Wine: dosdevices/unc/<server>/<share>, and Z:,
	// which is /).
	if unc := os.Getenv("CV_TEST_UNC"); unc != "" {
		forms["unc"] = unc + `\clinic`
	} else {
		t.Log("CV_TEST_UNC is not set: no \\\\server\\share path tried")
	}
	if drive := os.Getenv("CV_TEST_DRIVE"); drive != "" {
		forms["mapped drive"] = drive + `\ClinicShare`
	} else {
		t.Log("CV_TEST_DRIVE is not set: no other drive tried")
	}
	for name, dir := range forms {
		t.Run(name, func(t *testing.T) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if name == "unc" || name == "mapped drive" {
				t.Cleanup(func() { removeTree(dir) })
			}
			exercise(t, Folder{Dir: dir})
		})
	}
}

// exercise writes, lists, reads, replaces and removes through f.
func exercise(t *testing.T, f Folder) {
	t.Helper()
	dev := "0190a2b3-0000-7000-8000-000000000001"
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(dev, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteOnce("epochs/2/"+dev, []byte("keys")); err != nil {
		t.Fatal(err)
	}
	if devs, err := f.Devices(); err != nil || len(devs) != 1 || devs[0] != dev {
		t.Fatalf("devices %v, %v", devs, err)
	}
	if seqs, err := f.Seqs(dev, 0); err != nil || len(seqs) != 1 || seqs[0] != 1 {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
	if es, err := f.Epochs(); err != nil || len(es) != 1 || es[0] != 2 {
		t.Fatalf("epochs %v, %v", es, err)
	}
	if names, err := f.List("epochs/2"); err != nil || len(names) != 1 || names[0] != dev {
		t.Fatalf("list %v, %v", names, err)
	}
	if b, err := f.Get(dev, 1); err != nil || string(b) != "one" {
		t.Fatalf("get %q, %v", b, err)
	}
	if err := f.ReplaceBatch(dev, 1, []byte("uno")); err != nil {
		t.Fatal(err)
	}
	if b, err := f.Get(dev, 1); err != nil || string(b) != "uno" {
		t.Fatalf("get after replace %q, %v", b, err)
	}
	if err := f.Remove("epochs/2/" + dev); err != nil {
		t.Fatal(err)
	}
	if es, err := f.Epochs(); err != nil || len(es) != 0 {
		t.Fatalf("epochs after remove %v, %v", es, err)
	}
}

// TestWindowsCaseInsensitive: on Windows a name in another case is the
// same file; the folder neither makes a second one nor misses it.
func TestWindowsCaseInsensitive(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	dev := "0190a2b3-0000-7000-8000-00000000abcd"
	if err := os.MkdirAll(filepath.Join(f.Dir, "devices", strings.ToUpper(dev)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(dev, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	devs, err := f.Devices()
	if err != nil || len(devs) != 1 || devs[0] != dev {
		t.Fatalf("devices %v, %v", devs, err)
	}
	if err := f.WriteOnce("pairing/ABCDE/offer", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteOnce("pairing/abcde/OFFER", []byte("b")); !errors.Is(err, ErrExists) {
		t.Fatalf("a second file by case: %v", err)
	}
}

func noTemps(t *testing.T, f Folder, rel string) {
	t.Helper()
	entries, err := os.ReadDir(f.join(rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

// TestWindowsJoin: how a folder given in each Windows form and a slash
// path within it make a path (pure: nothing is touched).
func TestWindowsJoin(t *testing.T) {
	for _, c := range []struct{ dir, want string }{
		{`C:\Users\maria\ClinicShare`, `C:\Users\maria\ClinicShare\devices\x\000000000001`},
		{`C:/Users/maria/ClinicShare/`, `C:\Users\maria\ClinicShare\devices\x\000000000001`},
		{`Z:\ClinicShare`, `Z:\ClinicShare\devices\x\000000000001`},
		{`Z:`, `Z:\devices\x\000000000001`},
		{`Z:\`, `Z:\devices\x\000000000001`},
		{`\\server\share`, `\\server\share\devices\x\000000000001`},
		{`\\server\share\clinic`, `\\server\share\clinic\devices\x\000000000001`},
		{`//server/share/clinic`, `\\server\share\clinic\devices\x\000000000001`},
		{`\\?\C:\ClinicShare`, `\\?\C:\ClinicShare\devices\x\000000000001`},
	} {
		if got := (Folder{Dir: c.dir}).join("devices/x/000000000001"); got != c.want {
			t.Errorf("%s: join = %s, want %s", c.dir, got, c.want)
		}
	}
	long := `C:\` + strings.Repeat(`a\`, 130) + "x"
	for in, want := range map[string]string{
		`C:\short`: `C:\short`,
		long:       `\\?\` + long,
		`\\server\share\` + strings.Repeat(`a\`, 130) + "x": `\\?\UNC\server\share\` + strings.Repeat(`a\`, 130) + "x",
		`\\?\` + long: `\\?\` + long,
	} {
		if got := longPath(in); got != want {
			t.Errorf("longPath(%.20s…) = %.30s…", in, got)
		}
	}
}

// TestWindowsSweepLeavesAHeldFileForLater: a pairing sweep deletes what
// it can, waits a little in all for a held file, names it (ErrInUse),
// and deletes it at a later sweep once it is let go.
func TestWindowsSweepLeavesAHeldFileForLater(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	for _, rel := range []string{"pairing/OLD01/offer", "pairing/OLD01/void", "pairing/OLD02/offer"} {
		if err := f.WriteOnce(rel, []byte("box")); err != nil {
			t.Fatal(err)
		}
	}
	release := holdOpen(t, f.join("pairing/OLD01/offer"))
	later := time.Now().Add(time.Hour)
	start := time.Now()
	n, err := f.SweepPairing(later)
	waited := time.Since(start)
	var iu *InUseError
	if n != 2 || !errors.Is(err, ErrInUse) || !errors.As(err, &iu) || iu.Path != "pairing/OLD01/offer" {
		t.Fatalf("swept %d: %v", n, err)
	}
	if waited < sweepPatience || waited > patience {
		t.Errorf("the sweep waited %v, want about %v", waited, sweepPatience)
	}
	release()
	if n, err := f.SweepPairing(later); n != 1 || err != nil {
		t.Fatalf("the next sweep: %d, %v", n, err)
	}
	if left, _ := f.Dirs("pairing"); len(left) != 0 {
		t.Fatalf("left: %v", left)
	}
}
