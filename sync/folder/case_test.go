package folder

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	devA = "0190a2b3-0000-7000-8000-00000000abcd"
	devB = "0190a2b3-0000-7000-8000-00000000beef"
)

// mustWrite puts a file at rel as another program would, bypassing the
// Folder.
func mustWrite(t *testing.T, f Folder, rel, data string) {
	t.Helper()
	p := filepath.Join(f.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// foldsHere reports whether the file system under dir takes names in
// another case for the same (Windows, macOS, Wine).
func foldsHere(t *testing.T, dir string) bool {
	t.Helper()
	p := filepath.Join(dir, "case-probe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	_, err := os.Stat(filepath.Join(dir, "CASE-PROBE"))
	return err == nil
}

// TestUpperCasedNamesAreRead: a tool that changed the case of names in
// the folder (a device's folder, a pairing file, a key-epoch file)
// changes nothing of what is read, and no second file or folder is made
// beside one in another case — as on Windows, where they are one.
func TestUpperCasedNamesAreRead(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	// As a tool that copied the folder with names in upper case left
	// it (a rename that changes only case does nothing under Wine).
	upper := strings.ToUpper(devA)
	for seq, data := range []string{"one", "two", "three"} {
		mustWrite(t, f, "devices/"+upper+"/"+seqName(uint64(seq+1)), data)
	}
	if devs, err := f.Devices(); err != nil || !reflect.DeepEqual(devs, []string{devA}) {
		t.Fatalf("devices %v, %v", devs, err)
	}
	if seqs, err := f.Seqs(devA, 1); err != nil || !reflect.DeepEqual(seqs, []uint64{2, 3}) {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
	if b, err := f.Get(devA, 2); err != nil || string(b) != "two" {
		t.Fatalf("get %q, %v", b, err)
	}
	if err := f.Put(devA, 4, []byte("four")); err != nil {
		t.Fatal(err)
	}
	if err := f.Put(devA, 2, []byte("again")); !errors.Is(err, ErrExists) {
		t.Fatalf("Put over batch 2 in the upper-cased folder: %v", err)
	}
	entries, _ := os.ReadDir(f.join("devices"))
	if len(entries) != 1 || entries[0].Name() != upper {
		t.Fatalf("devices/ holds %v: a second folder was made", entries)
	}
	if seqs, err := f.Seqs(devA, 0); err != nil || len(seqs) != 4 {
		t.Fatalf("seqs after Put %v, %v", seqs, err)
	}

	mustWrite(t, f, "pairing/7K2QX/OFFER", "offer")
	if b, err := f.Read("pairing/7K2QX/offer"); err != nil || string(b) != "offer" {
		t.Fatalf("read offer %q, %v", b, err)
	}
	if b, err := f.Read("Pairing/7k2qx/offer"); err != nil || string(b) != "offer" {
		t.Fatalf("read offer, other case %q, %v", b, err)
	}
	if err := f.WriteOnce("pairing/7K2QX/offer", []byte("second")); !errors.Is(err, ErrExists) {
		t.Fatalf("WriteOnce of an offer there in upper case: %v", err)
	}
	if err := f.Remove("pairing/7K2QX/offer"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.join("pairing/7K2QX")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the upper-case file or its folder is left: %v", err)
	}

	name := "u-" + devB + "@" + devA + ".0a1b2c3d"
	mustWrite(t, f, "epochs/4/"+strings.ToUpper(name), "keys")
	if b, err := f.Read("epochs/4/" + name); err != nil || string(b) != "keys" {
		t.Fatalf("read epoch file %q, %v", b, err)
	}
	if err := f.Replace("epochs/4/"+name, []byte("new keys")); err != nil {
		t.Fatal(err)
	}
	names, err := f.List("epochs/4")
	if err != nil || len(names) != 1 {
		t.Fatalf("epochs/4 holds %v, %v: Replace made a second file", names, err)
	}
	if b, _ := f.Read("epochs/4/" + name); string(b) != "new keys" {
		t.Fatalf("after Replace: %q", b)
	}
	if n, err := f.Epochs(); err != nil || !reflect.DeepEqual(n, []uint32{4}) {
		t.Fatalf("epochs %v, %v", n, err)
	}
	if _, err := f.Read("epochs/4/u-nobody"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// TestNamesThatDifferByCase: on a file system that tells case apart, two
// device folders of one id in different cases are one device, read from
// the folder in its own spelling, and the other is noted; asking for a
// name that two entries match in other cases is refused (ErrNameClash),
// not answered with either.
func TestNamesThatDifferByCase(t *testing.T) {
	f := Folder{Dir: testDir(t), Notes: &Notes{}}
	if foldsHere(t, f.Dir) {
		t.Skip("this file system takes names in another case for the same")
	}
	upper := strings.ToUpper(devA)
	if err := f.Put(devA, 1, []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "devices/"+upper+"/000000000001", "planted")
	if devs, err := f.Devices(); err != nil || !reflect.DeepEqual(devs, []string{devA}) {
		t.Fatalf("devices %v, %v", devs, err)
	}
	if b, err := f.Get(devA, 1); err != nil || string(b) != "genuine" {
		t.Fatalf("get %q, %v", b, err)
	}
	if odd := f.Notes.Odd(); !reflect.DeepEqual(odd, []string{"devices/" + upper}) {
		t.Fatalf("odd %v", odd)
	}
	mustWrite(t, f, "pairing/7K2QX/Offer", "one")
	mustWrite(t, f, "pairing/7K2QX/OFFER", "two")
	if b, err := f.Read("pairing/7K2QX/offer"); !errors.Is(err, ErrNameClash) {
		t.Fatalf("read of a name two files match: %q, %v", b, err)
	}
	if err := f.WriteOnce("pairing/7K2QX/offer", []byte("three")); !errors.Is(err, ErrNameClash) {
		t.Fatalf("WriteOnce of a name two files match: %v", err)
	}
	names, err := f.List("pairing/7K2QX")
	if err != nil || len(names) != 2 {
		t.Fatalf("list %v, %v", names, err)
	}
	if odd := f.Notes.Odd(); len(odd) != 3 {
		t.Fatalf("odd %v", odd)
	}
}
