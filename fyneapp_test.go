package main

import (
	"image"
	_ "image/png"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/clinicvault/clinicvault/ui"
)

// FyneApp.toml holds what fyne package needs for every system (macOS's
// Info.plist and icon.icns, the Windows exe's version information, the
// Linux .desktop file): name, an ID that is the window's, an x.y.z
// version, a build number, and a square PNG icon of at least 512 pixels
// (macOS's icon is drawn at 1024 from it).
func TestFyneAppMetadata(t *testing.T) {
	b, err := os.ReadFile("FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	details := appDetails(string(b))
	if details["Name"] != "ClinicVault" {
		t.Errorf("Name %q, want ClinicVault (the .app's and the installer's name)", details["Name"])
	}
	if details["ID"] != ui.AppID {
		t.Errorf("ID %q, want the window's %q", details["ID"], ui.AppID)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(details["Version"]) {
		t.Errorf("Version %q, want x.y.z (CFBundleShortVersionString, the exe's version)", details["Version"])
	}
	if b, err := strconv.Atoi(details["Build"]); err != nil || b < 1 {
		t.Errorf("Build %q, want a number from 1 (CFBundleVersion)", details["Build"])
	}
	icon, err := os.Open(details["Icon"])
	if err != nil {
		t.Fatalf("Icon: %v", err)
	}
	defer icon.Close()
	cfg, format, err := image.DecodeConfig(icon)
	if err != nil || format != "png" || cfg.Width != cfg.Height || cfg.Width < 512 {
		t.Errorf("Icon %s: %s %d×%d, %v; want a square PNG of at least 512 pixels", details["Icon"], format, cfg.Width, cfg.Height, err)
	}
}
