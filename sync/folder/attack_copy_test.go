package folder

import (
	"slices"
	"testing"
)

// TestAttackGenuineNamesAreNotShadowedAsCopies: a folder writer puts a
// file named like a UUID cut at one of its dashes beside a computer's
// witness, audit folder or key-epoch grant. The genuine name then looked
// like a OneDrive copy of it ("<name>-<computer>") and vanished from the
// listings, for good (its owner keeps writing where it always did), and
// was shown to an admin as a cloud copy to delete.
func TestAttackGenuineNamesAreNotShadowedAsCopies(t *testing.T) {
	f := Folder{Dir: testDir(t), Notes: &Notes{}}
	cut := devA[:len("0190a2b3-0000-7000-8000")]
	grant := "u-" + devB + "@" + devA + ".0a1b2c3d"
	mustWrite(t, f, "witness/"+devA, "genuine witness")
	mustWrite(t, f, "audit/"+devA+"/0000000000000001-0000000000000100", "genuine audit")
	mustWrite(t, f, "epochs/3/"+grant, "genuine grant")
	mustWrite(t, f, "devices/"+devA+"/"+seqName(1), "genuine batch")
	// The attacker's files.
	mustWrite(t, f, "witness/"+cut, "x")
	mustWrite(t, f, "audit/"+cut, "x")
	mustWrite(t, f, "epochs/3/u-"+devB+"@"+cut+".0a1b2c3d", "x")
	mustWrite(t, f, "devices/"+cut, "x")

	if names, _ := f.List("witness"); !slices.Contains(names, devA) {
		t.Errorf("witness listed as %v", names)
	}
	if names, _ := f.Dirs("audit"); !slices.Contains(names, devA) {
		t.Errorf("audit folders listed as %v", names)
	}
	if names, _ := f.List("epochs/3"); !slices.Contains(names, grant) {
		t.Errorf("epoch 3 listed as %v", names)
	}
	if devs, _ := f.Devices(); !slices.Contains(devs, devA) {
		t.Errorf("devices listed as %v", devs)
	}
	if c := f.Notes.Copies(); len(c) != 0 {
		t.Errorf("genuine files shown as cloud copies: %v", c)
	}
}
