package folder

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckPath: the names other computers and the folder hand over are
// untrusted; a path is used only when each of its names means the same
// file on Windows, macOS and Linux and none leads out of the folder.
func TestCheckPath(t *testing.T) {
	good := []string{
		"devices/0190a2b3-0000-7000-8000-000000000001/000000000001",
		"epochs/3/u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
		"pairing/7K2QX/c-00112233445566778899aabbccddeeff",
		"audit/0190a2b3-0000-7000-8000-000000000001/0000000000000001-0000000000000100",
		"witness/0190a2b3-0000-7000-8000-000000000001",
		"console", "nul-and-void", "com10", "lpt", ".hidden", "a..b", " leading space",
		strings.Repeat("x", 255),
	}
	for _, rel := range good {
		if err := checkPath(rel); err != nil {
			t.Errorf("checkPath(%q): %v", rel, err)
		}
	}
	bad := []string{
		"", "/", "/etc/passwd", "devices/", "devices//x", "./devices", "devices/../../x", "..", ".",
		`C:\Windows`, `C:x`, "C:/Windows", `\\server\share\x`, `devices\x`, "devices/a:b", "file::$DATA",
		"CON", "con", "nul", "NUL.txt", "Nul.tar.gz", "COM1", "com9.log", "LPT1", "lpt3", "COM0", "CONIN$", "conout$",
		"COM¹", "AUX .txt", "prn",
		"ends.", "ends ", "epochs/3.", "devices/x /1",
		"a*b", "a?b", `a"b`, "a<b", "a>b", "a|b", "tab\there", "nl\nhere", "nul\x00here", "del\x7f",
		"bad\xffutf8", strings.Repeat("x", 256),
	}
	for _, rel := range bad {
		if err := checkPath(rel); !errors.Is(err, ErrBadName) {
			t.Errorf("checkPath(%q) = %v, want ErrBadName", rel, err)
		}
	}
}

// TestFolderRefusesBadPaths: every call that takes a path or a device
// refuses a bad one before it touches the file system.
func TestFolderRefusesBadPaths(t *testing.T) {
	outer := testDir(t)
	f := Folder{Dir: outer + "/share"}
	if err := f.WriteOnce("x", nil); err == nil {
		t.Fatal("wrote into a folder that is not there")
	}
	f = Folder{Dir: testDir(t)}
	for _, rel := range []string{"../escaped", "devices/../../escaped", "/abs", `..\escaped`, "CON", "x."} {
		if err := f.WriteOnce(rel, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("WriteOnce(%q): %v", rel, err)
		}
		if err := f.Replace(rel, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("Replace(%q): %v", rel, err)
		}
		if _, err := f.Read(rel); !errors.Is(err, ErrBadName) {
			t.Errorf("Read(%q): %v", rel, err)
		}
		if err := f.Remove(rel); !errors.Is(err, ErrBadName) {
			t.Errorf("Remove(%q): %v", rel, err)
		}
		if _, err := f.List(rel); !errors.Is(err, ErrBadName) {
			t.Errorf("List(%q): %v", rel, err)
		}
	}
	for _, dev := range []string{"..", "../x", "a/b", "C:", "NUL", `x\y`} {
		if err := f.Put(dev, 1, []byte("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("Put(%q): %v", dev, err)
		}
		if _, err := f.Get(dev, 1); !errors.Is(err, ErrBadName) {
			t.Errorf("Get(%q): %v", dev, err)
		}
		if _, err := f.Seqs(dev, 0); !errors.Is(err, ErrBadName) {
			t.Errorf("Seqs(%q): %v", dev, err)
		}
	}
}

// TestConflictOriginal: the copies cloud services make on a conflict
// are told from the folder's own names, whose dashes and dots look like
// some of them.
func TestConflictOriginal(t *testing.T) {
	siblings := map[string]bool{
		"000000000007": true,
		"offer":        true,
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d": true,
		"0190a2b3-0000-7000-8000-000000000001":                                                 true,
	}
	copies := map[string]string{
		"000000000007 (conflicted copy 2026-12-07)":          "000000000007",
		"000000000007 (Maria's conflicted copy 2026-12-07)":  "000000000007",
		"000000000007 (conflicted copy 2026-12-07 101010)":   "000000000007",
		"000000000007 (Case Conflict)":                       "000000000007",
		"000000000007 (1)":                                   "000000000007",
		"000000000007 (12)":                                  "000000000007",
		"offer (2)":                                          "offer",
		"000000000007.sync-conflict-20261207-101010-ABCDEFG": "000000000007",
		"offer-DESKTOP-ABC":                                  "offer",
		"000000000007-DESKTOP-4F2K9QJ":                       "000000000007",
		"000000000007-reception":                             "000000000007",
		"0190a2b3-0000-7000-8000-000000000001-LAPTOP-7":      "0190a2b3-0000-7000-8000-000000000001",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002 (1).0a1b2c3d":                          "u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002-PC1.0a1b2c3d":                          "u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d (1)":                          "u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
		"witness.sync-conflict-20261207-101010-ABCDEFG.json":                                                                "witness.json",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002 (conflicted copy 2026-12-07).0a1b2c3d": "u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
	}
	for name, want := range copies {
		got, ok := conflictOriginal(name, siblings)
		if !ok || got != want {
			t.Errorf("conflictOriginal(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	// The folder's own names, and look-alikes whose original is not
	// there, are not copies.
	own := []string{
		"000000000007", "offer", "void",
		"c-00112233445566778899aabbccddeeff", "n-00112233445566778899aabbccddeeff",
		"0190a2b3-0000-7000-8000-000000000001",
		"0190a2b3-0000-7000-8000-000000000002",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000002.0a1b2c3d",
		"u-0190a2b3-0000-7000-8000-000000000001@0190a2b3-0000-7000-8000-000000000003.ffffffff",
		"0000000000000001-0000000000000100", "0000000000000001-0000000000000100.0a1b2c3d",
		"000000000008-DESKTOP-ABC", // 8 is not there
		"offer-" + strings.Repeat("A", 16),
		"(1)", " (1)",
	}
	for _, name := range own {
		if orig, ok := conflictOriginal(name, siblings); ok {
			t.Errorf("conflictOriginal(%q) = %q: taken for a copy", name, orig)
		}
	}
}

// TestCanonicalUUID: a device's folder is its id in lower case; the same
// id in another case is the same device.
func TestCanonicalUUID(t *testing.T) {
	for in, want := range map[string]string{
		"0190a2b3-0000-7000-8000-00000000abcd": "0190a2b3-0000-7000-8000-00000000abcd",
		"0190A2B3-0000-7000-8000-00000000ABCD": "0190a2b3-0000-7000-8000-00000000abcd",
	} {
		if got, ok := canonicalUUID(in); !ok || got != want {
			t.Errorf("canonicalUUID(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "0190a2b300007000800000000000abcd", "0190a2b3-0000-7000-8000-00000000abc", "0190a2b3-0000-7000-8000-00000000abcg",
		"{0190a2b3-0000-7000-8000-00000000abcd}", "urn:uuid:0190a2b3-0000-7000-8000-00000000abcd", "0190a2b3-0000-7000-8000-00000000abcd (1)"} {
		if got, ok := canonicalUUID(in); ok {
			t.Errorf("canonicalUUID(%q) = %q: taken for an id", in, got)
		}
	}
}
