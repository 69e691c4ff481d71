package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Files ClinicVault writes outside the vault (exports, PDFs, QR images,
// the recovery kit, the access review) are made here: created new with
// mode 0600, never through a symbolic link, never over an existing file
// unless the person chose to replace it.

// ErrFileExists is returned when a file (or a link) is already where a new
// one was to be written.
var ErrFileExists = errors.New("something of that name is there already; choose another name, or delete it first")

// ErrLinkNotFollowed is returned when the chosen name is a symbolic link:
// writing through it would put the file wherever the link points.
var ErrLinkNotFollowed = errors.New("that name is a link to somewhere else; ClinicVault does not write through links")

// CreateNew creates path for writing with mode 0600. Anything already at
// path — a file, or a symbolic link, dangling or not, which is never
// followed — makes it fail with ErrFileExists.
func CreateNew(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrFileExists)
	}
	return f, err
}

// WriteNew writes data to a new file at path (see CreateNew); a failed
// write leaves nothing behind.
func WriteNew(path string, data []byte) error {
	f, err := CreateNew(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// Replacement is a file being written to take the place of path as a
// whole once it is complete (Commit): a new file of mode 0600 in the same
// folder, renamed over path. The file that was at path is replaced, never
// written into; a symbolic link at path is refused, never followed.
type Replacement struct {
	*os.File
	path string
}

// NewReplacement starts a Replacement of path.
func NewReplacement(path string) (*Replacement, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrLinkNotFollowed)
	}
	// What a crashed export of the same file left is deleted once it is
	// an hour old (see SweepStale).
	SweepStale(filepath.Dir(path), time.Now(), replacementScheme(path))
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return nil, err
	}
	return &Replacement{File: f, path: path}, nil
}

// Commit makes the written file the one at path.
func (r *Replacement) Commit() error {
	err := r.File.Sync()
	if cerr := r.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if fi, lerr := os.Lstat(r.path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			err = fmt.Errorf("%s: %w", r.path, ErrLinkNotFollowed)
		}
	}
	if err == nil {
		err = os.Rename(r.File.Name(), r.path)
	}
	if err != nil {
		os.Remove(r.File.Name())
		return err
	}
	syncDir(filepath.Dir(r.path))
	return nil
}

// Abandon deletes what was written.
func (r *Replacement) Abandon() {
	r.File.Close()
	os.Remove(r.File.Name())
}
