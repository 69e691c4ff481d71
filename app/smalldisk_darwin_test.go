package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// smallDisk attaches a 12 MB RAM disk for the test and formats it
// (hdiutil and diskutil, which need no administrator); where that fails
// the test is skipped. Untested on a real Mac until the macOS workflow
// has run it.
func smallDisk(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("hdiutil", "attach", "-nomount", "ram://24576").Output() // 512-byte sectors
	if err != nil || len(strings.Fields(string(out))) == 0 {
		t.Skipf("no RAM disk here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	dev := strings.Fields(string(out))[0]
	t.Cleanup(func() { exec.Command("hdiutil", "detach", "-force", dev).Run() })
	name := fmt.Sprintf("ClinicVaultTest%d", os.Getpid())
	if out, err := exec.Command("diskutil", "erasevolume", "HFS+", name, dev).CombinedOutput(); err != nil {
		t.Skipf("cannot format the RAM disk (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	return filepath.Join("/Volumes", name)
}
