package app

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The data folder on each system, decided from the environment the
// program starts with, tested on any system.
func TestDataDirForEachSystem(t *testing.T) {
	for _, c := range []struct {
		name, goos string
		env        map[string]string
		want       string // "" when there is none
	}{
		{"macOS", "darwin", map[string]string{"HOME": "/Users/ana"}, "/Users/ana/Library/Application Support/ClinicVault"},
		{"macOS ignores XDG", "darwin", map[string]string{"HOME": "/Users/ana", "XDG_CONFIG_HOME": "/Users/ana/.config"}, "/Users/ana/Library/Application Support/ClinicVault"},
		{"macOS without a home", "darwin", nil, ""},
		{"Windows", "windows", map[string]string{"AppData": `C:\Users\Ana\AppData\Roaming`, "HOME": "/home/ana"}, `C:\Users\Ana\AppData\Roaming\ClinicVault`},
		{"Windows roaming profile on a server", "windows", map[string]string{"AppData": `\\server\profiles\ana\AppData\Roaming\`}, `\\server\profiles\ana\AppData\Roaming\ClinicVault`},
		{"Windows without AppData", "windows", map[string]string{"HOME": "/home/ana"}, ""},
		{"Linux", "linux", map[string]string{"HOME": "/home/ana"}, "/home/ana/.config/ClinicVault"},
		{"Linux with XDG", "linux", map[string]string{"HOME": "/home/ana", "XDG_CONFIG_HOME": "/srv/conf"}, "/srv/conf/ClinicVault"},
		{"Linux with a relative XDG", "linux", map[string]string{"HOME": "/home/ana", "XDG_CONFIG_HOME": "conf"}, ""},
		{"Linux without a home", "linux", nil, ""},
		{"FreeBSD", "freebsd", map[string]string{"HOME": "/home/ana"}, "/home/ana/.config/ClinicVault"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := dataDirFor(c.goos, func(k string) string { return c.env[k] })
			switch {
			case c.want == "" && err == nil:
				t.Fatalf("%q, want an error", got)
			case c.want != "" && (err != nil || got != c.want):
				t.Fatalf("%q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// DefaultDataDir agrees with os.UserConfigDir on the system the test
// runs on (on macOS and Windows in their CI workflows).
func TestDefaultDataDirIsUserConfigDirs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg"))
	if runtime.GOOS == "windows" {
		t.Setenv("AppData", filepath.Join(home, "Roaming"))
	}
	base, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DefaultDataDir()
	if want := filepath.Join(base, "ClinicVault"); err != nil || got != want {
		t.Fatalf("DefaultDataDir() = %q, %v; want %q", got, err, want)
	}
}
