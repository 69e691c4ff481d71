package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clinicvault/clinicvault/app/instance"
	"github.com/clinicvault/clinicvault/store"
)

// WindowFile, in the data folder, remembers the window's size (and, where
// the system tells it, its place) for the next start. It holds no patient
// data and is not part of the vault: backups, sync and restores leave it
// alone.
const WindowFile = "window.json"

// windowFileMax bounds what is read of WindowFile.
const windowFileMax = 4 << 10

// desktopFile reports whether name, in a data folder, is one of the files
// the window keeps beside the vault (the single-instance lock, its
// address, the window's place). They do not make a folder "not empty" for
// a join or a restore, and a failed restore leaves them where they are:
// deleting a held lock file would let a second window open the folder.
func desktopFile(name string) bool {
	switch name {
	case instance.LockFile, instance.AddressFile, WindowFile:
		return true
	}
	// What a write of one of them left when the process was killed.
	return strings.HasPrefix(name, instance.AddressFile+".") && strings.HasSuffix(name, ".tmp") ||
		strings.HasPrefix(name, "."+WindowFile+".") && strings.HasSuffix(name, ".part")
}

// folderHasFiles reports whether dir holds anything but the window's own
// files (false when dir does not exist).
func folderHasFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !desktopFile(e.Name()) {
			return true
		}
	}
	return false
}

// WindowPlace is where the window was when it last closed: its size in
// Fyne's units and, where the system lets the window learn it (Windows),
// its position in screen pixels and whether it was maximised.
type WindowPlace struct {
	Width     float32 `json:"width"`
	Height    float32 `json:"height"`
	Placed    bool    `json:"placed,omitempty"`
	X         int     `json:"x,omitempty"`
	Y         int     `json:"y,omitempty"`
	Maximized bool    `json:"maximized,omitempty"`
}

// WindowPlace reads WindowFile: ErrNotFound when there is none, an error
// when it cannot be read or parsed. The caller checks the numbers.
func (v *Vault) WindowPlace() (WindowPlace, error) {
	var p WindowPlace
	f, err := os.Open(filepath.Join(v.Dir, WindowFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, windowFileMax))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return WindowPlace{}, fmt.Errorf("%s: %w", WindowFile, err)
	}
	return p, nil
}

// SaveWindowPlace replaces WindowFile with p, as a whole (mode 0600). The
// data folder must exist.
func (v *Vault) SaveWindowPlace(p WindowPlace) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	r, err := store.NewReplacement(filepath.Join(v.Dir, WindowFile))
	if err != nil {
		return err
	}
	if _, err := r.Write(b); err != nil {
		r.Abandon()
		return err
	}
	return r.Commit()
}
