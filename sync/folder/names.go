package folder

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Names in the folder. Every computer of a practice reads the folder,
// Windows ones too, and anyone who can write to it can put any name in
// it, so a name is used only when it means the same file everywhere: one
// component of a slash path, that Windows neither refuses nor changes.
// ClinicVault's own names are ASCII letters, digits, '-', '@' and '.'
// (device and user ids as lower-case UUIDs, batch numbers of 12 digits,
// epoch numbers, pairing locators in upper-case Crockford base 32), and
// no two of them differ only by case: Windows and macOS would take them
// for one file.

// ErrBadName means a path within the folder has a name that no sync
// folder holds: empty, "." or "..", absolute, with a character or form
// that Windows refuses or changes (\ : * ? " < > |, a control character,
// a trailing dot or space, a device name such as CON, NUL or COM1), or
// longer than 255 bytes.
var ErrBadName = errors.New("sync: not a name a sync folder holds")

// ErrNameClash means a folder on a case-sensitive file system holds two
// names that differ only by case where one was asked for: Windows and
// macOS would see one file, so neither is taken for it.
var ErrNameClash = errors.New("sync: two names in the folder differ only by case")

// maxName is the longest name, in bytes, of one component (NTFS and
// most Unix file systems allow 255).
const maxName = 255

// reserved are the names Windows keeps for devices, alone or followed
// by an extension ("CON", "nul.txt"), in any case.
var reserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true, "CLOCK$": true,
	"COM0": true, "COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT0": true, "LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
	"COM¹": true, "COM²": true, "COM³": true, "LPT¹": true, "LPT²": true, "LPT³": true,
}

// checkName reports, wrapping ErrBadName, why name is not one component
// of a path within the folder.
func checkName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%q: %s: %w", name, why, ErrBadName) }
	switch {
	case name == "":
		return bad("empty")
	case name == "." || name == "..":
		return bad("not a name")
	case len(name) > maxName:
		return bad("too long")
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return bad("Windows drops a trailing dot or space")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`\/:*?"<>|`, r) {
			return bad(fmt.Sprintf("Windows refuses %q in a name", r))
		}
	}
	base, _, _ := strings.Cut(name, ".")
	if reserved[strings.ToUpper(strings.TrimRight(base, " "))] {
		return bad("a Windows device name")
	}
	return nil
}

// checkPath reports, wrapping ErrBadName, why rel is not a slash path
// within the folder: it must be relative, its components names
// (checkName), and never lead out of the folder.
func checkPath(rel string) error {
	if rel == "" {
		return fmt.Errorf("an empty path: %w", ErrBadName)
	}
	if strings.HasPrefix(rel, "/") || filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return fmt.Errorf("%q: not within the folder: %w", rel, ErrBadName)
	}
	for _, part := range strings.Split(rel, "/") {
		if err := checkName(part); err != nil {
			return fmt.Errorf("%q: %w", rel, err)
		}
	}
	return nil
}

// canonicalUUID returns s as a device or user id is written in the
// folder (8-4-4-4-12 lower-case hexadecimal digits) when s is a UUID in
// that form, in any case.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// hasCase reports whether name has letters whose case could be changed
// (a name of digits has no other spelling).
func hasCase(name string) bool { return strings.ToUpper(name) != strings.ToLower(name) }

// conflictOriginal reports whether name is a copy that a cloud service
// made when two computers changed one file, and the name it is a copy
// of:
//
//	name (conflicted copy 2026-12-07).ext   Dropbox, Nextcloud, ownCloud
//	name (Case Conflict).ext                Dropbox
//	name (1).ext                            Google Drive, Windows, many
//	name.sync-conflict-20261207-101010-ABCDEFG.ext   Syncthing
//	name-DESKTOP-ABC.ext                    OneDrive (the computer's name)
//
// The last form is taken for a copy only when its original is among
// siblings (the names in its folder, in lower case: a copy's original
// may since have changed case): the folder's own names have dashes too
// ("c-…", the dashes of a UUID).
func conflictOriginal(name string, siblings map[string]bool) (string, bool) {
	if i := strings.Index(name, ".sync-conflict-"); i > 0 {
		rest := name[i+len(".sync-conflict-"):]
		ext := ""
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			ext = rest[j:]
		}
		return name[:i] + ext, true
	}
	forms := [][2]string{{name, ""}}
	if ext := filepath.Ext(name); ext != "" && ext != name {
		forms = append(forms, [2]string{strings.TrimSuffix(name, ext), ext})
	}
	for _, f := range forms {
		stem, ext := f[0], f[1]
		if strings.HasSuffix(stem, ")") {
			if i := strings.LastIndex(stem, " ("); i > 0 {
				inner := stem[i+2 : len(stem)-1]
				if isCopyNumber(inner) || strings.Contains(strings.ToLower(inner), "conflict") {
					return stem[:i] + ext, true
				}
			}
		}
		// A stem that ends in a UUID (a computer's id: its witness, its
		// audit folder, a key grant to it) is cut at none of its dashes:
		// its last group is no computer's name, and a file named after
		// what comes before it, which anyone who can write the folder can
		// put there, must not make the genuine one a copy.
		uuidFrom := len(stem)
		if len(stem) >= 36 {
			if _, ok := canonicalUUID(stem[len(stem)-36:]); ok {
				uuidFrom = len(stem) - 36
			}
		}
		for i := strings.LastIndexByte(stem, '-'); i > 0; i = strings.LastIndexByte(stem[:i], '-') {
			if i > uuidFrom {
				continue
			}
			if !isComputerName(stem[i+1:]) {
				break
			}
			if orig := stem[:i] + ext; siblings[strings.ToLower(orig)] {
				return orig, true
			}
		}
	}
	return "", false
}

// isCopyNumber reports whether s is the n of a "name (n)" copy.
func isCopyNumber(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isComputerName reports whether s could be a Windows computer's name
// (NetBIOS: up to 15 letters, digits and dashes).
func isComputerName(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
