package store

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store/filelock"
)

// workLockFile, in a work folder made by MkdirWork, is locked for as long
// as the process that made it works in it.
const workLockFile = ".in-use"

// MkdirWork makes a new work folder in parent named prefix+digits (as
// os.MkdirTemp) and holds a lock on a file in it until release, which
// also deletes the folder. SweepStale never deletes a folder whose lock
// is held: a live process that stopped writing for more than StaleAge (a
// laptop asleep mid-backup) keeps its folder. Where the file system has
// no locks, the folder is made all the same and its age alone decides.
func MkdirWork(parent, prefix string) (dir string, release func(), err error) {
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, workLockFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		RemoveTree(dir)
		return "", nil, err
	}
	if held, lerr := filelock.TryLock(f); held || lerr != nil {
		// Nobody else knows the folder yet: no locks here. Age decides.
		f.Close()
		f = nil
	}
	return dir, func() {
		if f != nil {
			filelock.Unlock(f)
			f.Close()
		}
		RemoveTree(dir)
	}, nil
}

// RemoveTree deletes the folder p and everything in it, as os.RemoveAll,
// and where that fails (Go's Windows RemoveAll asks the file system for a
// kind of delete that Wine and some network file systems answer with an
// error of their own), file by file, deepest first, with os.Remove. Links
// are removed, never followed.
func RemoveTree(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	return removeTreeByHand(p)
}

func removeTreeByHand(p string) error {
	var paths []string
	filepath.WalkDir(p, func(path string, _ os.DirEntry, err error) error {
		if err == nil || path != p {
			paths = append(paths, path)
		}
		return nil
	})
	var first error
	for i := len(paths) - 1; i >= 0; i-- {
		if err := os.Remove(paths[i]); err != nil && !os.IsNotExist(err) && first == nil {
			first = err
		}
	}
	if _, err := os.Lstat(p); err == nil && first == nil {
		first = &os.PathError{Op: "remove", Path: p, Err: os.ErrExist}
	}
	return first
}

// workInUse reports whether a live process holds the lock of the work
// folder p (see MkdirWork). A folder without the file, or on a file
// system without locks, is not known to be in use.
func workInUse(p string) bool {
	f, err := os.OpenFile(filepath.Join(p, workLockFile), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	held, err := filelock.TryLock(f)
	if err == nil && !held {
		filelock.Unlock(f)
	}
	return held
}

// StaleAge is how long a scratch file or folder of ours must have gone
// untouched before a later run of the same operation deletes it as the
// leftover of a crash. Every operation that makes one finishes, or at
// least writes into it, well within minutes (a backup of a 1 GB vault to
// a slow USB stick: under two), so an hour without a write means that no
// live process is using it; and a work folder made by MkdirWork whose
// lock is still held is never taken, however old (a laptop asleep
// mid-backup). "Untouched" is the newest modification time of the entry
// and, for a folder, of everything directly in it (our work folders are
// flat): a snapshot being copied keeps its file's time fresh even while
// the folder's own time stands still. An entry dated in the future counts
// as fresh.
const StaleAge = time.Hour

// ScratchName is one naming scheme of our own: Prefix, then what
// os.CreateTemp/MkdirTemp put for "*" (decimal digits), then Suffix.
// Nothing else matches: a file a person named like ours, with letters
// where the digits go, is not ours and is never touched.
type ScratchName struct {
	Prefix, Suffix string
	// Middle, when set, judges what lies between Prefix and Suffix
	// instead of the digits of os.CreateTemp.
	Middle func(string) bool
}

// Match reports whether name is exactly of this scheme.
func (s ScratchName) Match(name string) bool {
	if !strings.HasPrefix(name, s.Prefix) || !strings.HasSuffix(name, s.Suffix) || len(name) <= len(s.Prefix)+len(s.Suffix) {
		return false
	}
	mid := name[len(s.Prefix) : len(name)-len(s.Suffix)]
	if strings.ContainsAny(mid, `/\`) {
		return false
	}
	if s.Middle != nil {
		return s.Middle(mid)
	}
	return allDigits(mid)
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// SweepStale deletes, directly in dir, the entries whose names match one
// of schemes and that have gone untouched for StaleAge before now (see
// StaleAge). Symbolic links are never followed nor deleted. It returns
// the names it removed; errors are ignored (a leftover that cannot be
// removed now is tried again next time).
func SweepStale(dir string, now time.Time, schemes ...ScratchName) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !matchAny(e.Name(), schemes) || e.Type()&os.ModeSymlink != 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !untouchedSince(p, e.IsDir(), now.Add(-StaleAge)) || (e.IsDir() && workInUse(p)) {
			continue
		}
		if err := RemoveTree(p); err == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

func matchAny(name string, schemes []ScratchName) bool {
	for _, s := range schemes {
		if s.Match(name) {
			return true
		}
	}
	return false
}

// untouchedSince reports whether p (and, for a folder, everything directly
// in it) was last modified before cutoff.
func untouchedSince(p string, isDir bool, cutoff time.Time) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.ModTime().Before(cutoff) {
		return false
	}
	if !isDir {
		return true
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return false
		}
	}
	return true
}

// replacementScheme is the naming of NewReplacement's file for path.
func replacementScheme(path string) ScratchName {
	return ScratchName{Prefix: "." + filepath.Base(path) + ".", Suffix: ".part"}
}

// atomicScheme is the naming of WriteFileAtomic's temp file for path.
func atomicScheme(path string) ScratchName {
	return ScratchName{Prefix: "." + filepath.Base(path) + ".tmp-"}
}
