package folder

import (
	"errors"
	"io/fs"
	"reflect"
	"runtime"
	"testing"
)

// TestListingsSkipConflictCopies: the copies Dropbox, OneDrive, Google
// Drive and Syncthing leave in a folder are never listed as batches,
// devices, epochs or files, never read in place of a batch, and are
// collected in Notes for an admin; names Windows cannot hold likewise.
func TestListingsSkipConflictCopies(t *testing.T) {
	f := Folder{Dir: testDir(t), Notes: &Notes{}}
	for seq, data := range []string{"one", "two"} {
		if err := f.Put(devA, uint64(seq+1), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	commit := "c-00112233445566778899aabbccddeeff"
	epochFile := "u-" + devB + "@" + devA + ".0a1b2c3d"
	for _, rel := range []string{"pairing/7K2QX/offer", "pairing/7K2QX/" + commit, "epochs/3/" + epochFile, "witness/" + devA} {
		if err := f.WriteOnce(rel, []byte("genuine")); err != nil {
			t.Fatal(err)
		}
	}
	copies := []string{
		"devices/" + devA + "/000000000002 (1)",
		"devices/" + devA + "/000000000002-DESKTOP-ABC",
		"devices/" + devA + "/000000000002.sync-conflict-20261207-101010-ABCDEFG",
		"devices/" + devA + " (conflicted copy 2026-12-07)/000000000003",
		"devices/" + devA + "-DESKTOP-ABC/000000000003",
		"epochs/3 (1)/" + epochFile,
		"epochs/3/u-" + devB + "@" + devA + " (1).0a1b2c3d",
		"pairing/7K2QX/" + commit + " (1)",
		"pairing/7K2QX/" + commit + "-RECEPTION-PC",
		"pairing/7K2QX/offer (Case Conflict)",
		"witness/" + devA + " (conflicted copy 2026-12-07)",
	}
	for _, rel := range copies {
		mustWrite(t, f, rel, "copy")
	}
	// Batch 3 exists only as a copy: it is missing, never read from
	// the copy.
	mustWrite(t, f, "devices/"+devA+"/000000000003 (conflicted copy 2026-12-07)", "copy")

	if devs, err := f.Devices(); err != nil || !reflect.DeepEqual(devs, []string{devA}) {
		t.Fatalf("devices %v, %v", devs, err)
	}
	if seqs, err := f.Seqs(devA, 0); err != nil || !reflect.DeepEqual(seqs, []uint64{1, 2}) {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
	if b, err := f.Get(devA, 2); err != nil || string(b) != "two" {
		t.Fatalf("batch 2: %q, %v", b, err)
	}
	if b, err := f.Get(devA, 3); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("batch 3, of which there is only a copy: %q, %v", b, err)
	}
	if es, err := f.Epochs(); err != nil || !reflect.DeepEqual(es, []uint32{3}) {
		t.Fatalf("epochs %v, %v", es, err)
	}
	for rel, want := range map[string][]string{
		"pairing/7K2QX": {commit, "offer"},
		"epochs/3":      {epochFile},
		"witness":       {devA},
	} {
		if names, err := f.List(rel); err != nil || !reflect.DeepEqual(names, want) {
			t.Errorf("List(%s) = %v, %v; want %v", rel, names, err, want)
		}
	}
	if dirs, err := f.Dirs("epochs"); err != nil || !reflect.DeepEqual(dirs, []string{"3"}) {
		t.Errorf("Dirs(epochs) = %v, %v", dirs, err)
	}
	want := map[string]bool{}
	for _, rel := range copies {
		want[rel] = true
	}
	want["devices/"+devA+"/000000000003 (conflicted copy 2026-12-07)"] = true
	// Each listing notes what it met: the copies of folders themselves,
	// and the copies within the folders that were listed.
	for _, rel := range []string{
		"devices/" + devA + " (conflicted copy 2026-12-07)/000000000003",
		"devices/" + devA + "-DESKTOP-ABC/000000000003",
		"epochs/3 (1)/" + epochFile,
	} {
		delete(want, rel)
	}
	want["devices/"+devA+" (conflicted copy 2026-12-07)"] = true
	want["devices/"+devA+"-DESKTOP-ABC"] = true
	want["epochs/3 (1)"] = true
	got := map[string]bool{}
	for _, rel := range f.Notes.Copies() {
		got[rel] = true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("noted copies\n%v\nwant\n%v", f.Notes.Copies(), want)
	}
	if odd := f.Notes.Odd(); len(odd) != 0 {
		t.Errorf("odd %v", odd)
	}

	if runtime.GOOS == "windows" {
		return // names Windows cannot hold cannot be made here
	}
	for _, rel := range []string{"witness/CON", "witness/" + devB + ".", "witness/a:b", "devices/" + devA + "/000000000004 ", "devices/NUL"} {
		mustWrite(t, f, rel, "odd")
	}
	if names, _ := f.List("witness"); !reflect.DeepEqual(names, []string{devA}) {
		t.Errorf("witness lists %v", names)
	}
	if seqs, _ := f.Seqs(devA, 0); !reflect.DeepEqual(seqs, []uint64{1, 2}) {
		t.Errorf("seqs %v", seqs)
	}
	if devs, _ := f.Devices(); !reflect.DeepEqual(devs, []string{devA}) {
		t.Errorf("devices %v", devs)
	}
	wantOdd := []string{"devices/" + devA + "/000000000004 ", "devices/NUL", "witness/" + devB + ".", "witness/CON", "witness/a:b"}
	if odd := f.Notes.Odd(); !reflect.DeepEqual(odd, wantOdd) {
		t.Errorf("odd %q, want %q", odd, wantOdd)
	}
}

// TestSeqsAndEpochsTakeOnlyTheirOwnSpelling: a batch is named by 12
// digits and an epoch by its number, so "5", "0000000000005" or "03"
// planted beside them are no second batch or epoch.
func TestSeqsAndEpochsTakeOnlyTheirOwnSpelling(t *testing.T) {
	f := Folder{Dir: testDir(t)}
	if err := f.Put(devA, 5, []byte("five")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"devices/" + devA + "/5", "devices/" + devA + "/0000000000005", "devices/" + devA + "/+00000000006"} {
		mustWrite(t, f, rel, "planted")
	}
	if seqs, err := f.Seqs(devA, 0); err != nil || !reflect.DeepEqual(seqs, []uint64{5}) {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
	for _, rel := range []string{"epochs/3/x", "epochs/03/x", "epochs/4294967296/x", "epochs/-1/x"} {
		mustWrite(t, f, rel, "x")
	}
	if es, err := f.Epochs(); err != nil || !reflect.DeepEqual(es, []uint32{3}) {
		t.Fatalf("epochs %v, %v", es, err)
	}
}
