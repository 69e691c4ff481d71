package cli

import (
	"fmt"
	"runtime"
)

// Version and Build are the program's version and build number, set by
// main from FyneApp.toml (the one place they are written: the Windows
// version information and the installer's name come from it too).
var (
	Version = "dev"
	Build   = ""
)

// VersionLine is what `clinicvault version` prints, e.g.
// "ClinicVault 0.1.0 (build 1, windows/amd64)".
func VersionLine() string {
	b := ""
	if Build != "" {
		b = "build " + Build + ", "
	}
	return fmt.Sprintf("ClinicVault %s (%s%s/%s)", Version, b, runtime.GOOS, runtime.GOARCH)
}
