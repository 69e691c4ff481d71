package app

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// DefaultDataDir is the ClinicVault folder in this user's configuration
// folder (os.UserConfigDir): %AppData%\ClinicVault on Windows,
// ~/Library/Application Support/ClinicVault on macOS,
// $XDG_CONFIG_HOME/ClinicVault or ~/.config/ClinicVault elsewhere.
func DefaultDataDir() (string, error) {
	dir, err := dataDirFor(runtime.GOOS, os.Getenv)
	if err != nil {
		return "", err
	}
	return filepath.Clean(dir), nil
}

// dataDirFor is DefaultDataDir on the system goos with the environment
// getenv, written with goos's separator, so that every system's answer
// can be tested on any. Its configuration folder is os.UserConfigDir's,
// decided the same way (a test holds the two together on the system
// it runs on).
func dataDirFor(goos string, getenv func(string) string) (string, error) {
	base, err := userConfigDir(goos, getenv)
	if err != nil {
		return "", err
	}
	sep := "/"
	if goos == "windows" {
		sep = `\`
	}
	return strings.TrimRight(base, sep) + sep + "ClinicVault", nil
}

// userConfigDir is os.UserConfigDir on goos with the environment getenv.
func userConfigDir(goos string, getenv func(string) string) (string, error) {
	switch goos {
	case "windows":
		if dir := getenv("AppData"); dir != "" {
			return dir, nil
		}
		return "", errors.New("%AppData% is not defined")
	case "darwin", "ios":
		if home := getenv("HOME"); home != "" {
			return home + "/Library/Application Support", nil
		}
		return "", errors.New("$HOME is not defined")
	case "plan9":
		if home := getenv("home"); home != "" {
			return home + "/lib", nil
		}
		return "", errors.New("$home is not defined")
	}
	if dir := getenv("XDG_CONFIG_HOME"); dir != "" {
		if !strings.HasPrefix(dir, "/") {
			return "", errors.New("path in $XDG_CONFIG_HOME is relative")
		}
		return dir, nil
	}
	if home := getenv("HOME"); home != "" {
		return home + "/.config", nil
	}
	return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME are defined")
}
