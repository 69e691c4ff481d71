// Package folder is the shared-folder transport's file system side: a
// network share, a USB stick or a folder a cloud service syncs, read and
// written by every computer of a practice, Windows, macOS and Linux
// alike. Package sync names its type sync.Folder and holds the rest of
// the transport's contract (Transport).
//
// What the folder meets, and what it does:
//
//   - A file that another program has open (an antivirus, an indexer, a
//     cloud client, another computer reading over the network) cannot be
//     deleted or renamed over on Windows: writes and deletions try again
//     for up to two seconds, then return an *InUseError (ErrInUse) having
//     changed nothing. Reads open files so that others may delete or
//     replace them meanwhile.
//   - Names are case-insensitive on Windows and macOS: a name is found in
//     any case, a device's folder whose name a tool upper-cased is read
//     as that device's, and two names that differ only by case where one
//     was asked for are refused (ErrNameClash).
//   - The folder may be given as C:\Users\…, Z:\…, \\server\share\… or
//     with forward slashes; paths within it are slash paths whose every
//     name is checked (ErrBadName): nothing leads out of the folder, and
//     no name is one that Windows refuses or changes.
//   - Cloud services leave conflict copies ("name (1)", "name (conflicted
//     copy …)", "name-DESKTOP-ABC"): listings never return them, and a
//     Folder with Notes collects them for an admin to see.
//
// It is pure Go and imports nothing of the vault, so that its tests
// cross-compile without cgo and run under Windows (or Wine).
package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Folder is the shared-folder transport: a network share, a USB stick or a
// folder a cloud service syncs. Each device writes only its own files,
// devices/<device id>/<seq>, each written once (temp file, then rename)
// and never changed; everyone reads everyone's. Pairing and key-epoch
// files live under pairing/ and epochs/. Nothing in it is readable without
// the practice's keys.
type Folder struct {
	Dir string
	// Notes, when set, collects the conflict copies and odd names that
	// the listings set aside (a sync pass shows them to an admin).
	Notes *Notes
}

// ErrUnreachable means the folder cannot be reached now (unplugged drive,
// network share down); work goes on and the next pass catches up.
var ErrUnreachable = errors.New("sync: cannot be reached now")

// ErrExists means a file that is written once is already in place.
var ErrExists = errors.New("already exists and is never rewritten")

// ErrNotPlain means a name within the folder is a symbolic link, a
// junction or another special file (a named pipe, a device) where a file
// or a folder was looked for. Anyone who can write the folder can put one
// there; nothing in the folder is followed out of it, so none is read,
// written through or deleted through.
var ErrNotPlain = errors.New("sync: a link or special file in the folder is never followed")

// maxFile bounds what is read of one file: a batch is sealed at 64 MB
// at most, every other file of the folder is far smaller.
const maxFile = 65 << 20

// plain reports, wrapping ErrNotPlain, a name on the way from the
// folder's root to p (a path within it, as join or fold give it) that is
// neither a folder nor, last, a file: a link would lead out of the
// folder. A name not there (yet) ends the check. The folder's own path
// may be a link (the user chose it).
func (f Folder) plain(p string) error {
	root := f.root()
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." {
		return nil
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			return nil
		}
		if m := fi.Mode(); !m.IsDir() && !m.IsRegular() {
			r, _ := filepath.Rel(root, cur)
			return fmt.Errorf("sync: %s: %w", filepath.ToSlash(r), ErrNotPlain)
		}
	}
	return nil
}

// tempPrefix begins the name of a file being written; listings skip it.
const tempPrefix = ".tmp-"

func seqName(seq uint64) string { return fmt.Sprintf("%012d", seq) }

// root is the folder's own path: a drive given alone ("Z:") is its top
// folder, not the drive's current one.
func (f Folder) root() string {
	if v := filepath.VolumeName(f.Dir); v != "" && v == f.Dir && !strings.HasPrefix(v, `\\`) {
		return v + string(filepath.Separator)
	}
	return f.Dir
}

// join is the file system path of rel, a slash path within the folder
// (checked by the caller with checkPath, or "" for the folder itself).
func (f Folder) join(rel string) string {
	return filepath.Join(f.root(), filepath.FromSlash(rel))
}

// Check reports ErrUnreachable when the folder is not there.
func (f Folder) Check() error {
	st, err := os.Stat(f.root())
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%s: %w", f.Dir, ErrUnreachable)
	}
	return nil
}

// fold finds rel in the case it is stored in when it is not there as
// written: on a file system that tells case apart, each of its names is
// looked for among its folder's entries in any case. It returns "" when
// there is none, and an error wrapping ErrNameClash when some name
// matches two entries.
func (f Folder) fold(rel string) (string, error) {
	dir := f.root()
	for _, part := range strings.Split(rel, "/") {
		next := filepath.Join(dir, part)
		if _, err := os.Lstat(next); err == nil {
			dir = next
			continue
		}
		if !hasCase(part) {
			return "", nil
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", nil
		}
		match := ""
		for _, e := range entries {
			if strings.EqualFold(e.Name(), part) {
				if match != "" {
					return "", fmt.Errorf("sync: %s: %q and %q: %w", rel, match, e.Name(), ErrNameClash)
				}
				match = e.Name()
			}
		}
		if match == "" {
			return "", nil
		}
		dir = filepath.Join(dir, match)
	}
	return dir, nil
}

// find is the path of the file or folder rel as it is stored ("" when
// there is none).
func (f Folder) find(rel string) (string, error) {
	p := f.join(rel)
	_, err := os.Lstat(p)
	switch {
	case err == nil:
		return p, nil
	case foldsCase:
		return "", nil
	}
	return f.fold(rel)
}

// WriteOnce writes data to rel (a slash path under the folder) through a
// temp file, refusing to replace an existing file, in any case of its
// name (ErrExists), even when another process writes the same name at
// the same moment: through a hard link, or on Windows a move that does
// not replace. Where the file system has no hard links (FAT, some
// network shares) it falls back to a check and a rename.
func (f Folder) WriteOnce(rel string, data []byte) error {
	return f.write(rel, data, false)
}

// Replace writes data over rel atomically (temp file, rename). It is only
// for a device's own log position that holds a file the device did not
// write: everything else in the folder is written once.
func (f Folder) Replace(rel string, data []byte) error {
	return f.write(rel, data, true)
}

func (f Folder) write(rel string, data []byte, replace bool) error {
	if err := checkPath(rel); err != nil {
		return err
	}
	if err := f.Check(); err != nil {
		return err
	}
	p, err := f.find(rel)
	if err != nil {
		return err
	}
	if p != "" && !replace {
		return fmt.Errorf("sync: %s: %w", rel, ErrExists)
	}
	if p == "" {
		// A new file goes into its folder as that is stored, in
		// whatever case: never a second folder beside it.
		dir, err := f.find(path.Dir(rel))
		if err != nil {
			return err
		}
		if dir == "" {
			dir = f.join(path.Dir(rel))
		}
		p = filepath.Join(dir, path.Base(rel))
	}
	if err := f.plain(filepath.Dir(p)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), tempPrefix+"*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	deadline := time.Now().Add(patience)
	if err == nil && replace {
		err = retry("replace", rel, deadline, func() error { return os.Rename(name, p) })
	}
	if err == nil && !replace {
		err = retry("write", rel, deadline, func() error { return placeOnce(name, p) })
		if errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("sync: %s: %w", rel, ErrExists)
		}
	}
	if err != nil {
		// The temp file is all there is of this write: nothing in the
		// folder changed. One still held open stays as a temp file,
		// which no listing returns.
		retry("remove", rel, time.Now().Add(patience), func() error {
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		})
		return err
	}
	return nil
}

// Read reads rel, found in any case. The file is opened so that others
// may delete or replace it meanwhile; one that another program holds
// without letting it be read is tried again for a while (ErrInUse).
func (f Folder) Read(rel string) ([]byte, error) {
	if err := checkPath(rel); err != nil {
		return nil, err
	}
	data, err := f.readFile(rel, f.join(rel))
	if errors.Is(err, fs.ErrNotExist) && !foldsCase {
		p, ferr := f.fold(rel)
		if ferr != nil {
			return nil, ferr
		}
		if p != "" {
			return f.readFile(rel, p)
		}
	}
	return data, err
}

// readFile reads the file p (rel in the folder): never through a link,
// never a special file, never more than maxFile.
func (f Folder) readFile(rel, p string) ([]byte, error) {
	if err := f.plain(p); err != nil {
		return nil, err
	}
	var data []byte
	err := retry("read", rel, time.Now().Add(patience), func() error {
		fh, err := openShared(p)
		if err != nil {
			return err
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("sync: %s: %w", rel, ErrNotPlain)
		}
		if st.Size() > maxFile {
			return fmt.Errorf("sync: %s: %d bytes, more than any file of the folder holds: %w", rel, st.Size(), ErrNotPlain)
		}
		var b bytes.Buffer
		b.Grow(int(st.Size()) + bytes.MinRead)
		if _, err := b.ReadFrom(io.LimitReader(fh, maxFile+1)); err != nil {
			return err
		}
		if b.Len() > maxFile {
			return fmt.Errorf("sync: %s: more than any file of the folder holds: %w", rel, ErrNotPlain)
		}
		data = b.Bytes()
		return nil
	})
	return data, err
}

// Remove deletes rel (found in any case), and its folder if that is
// left empty. A file held open by another program is tried again for a
// while (ErrInUse).
func (f Folder) Remove(rel string) error {
	if err := checkPath(rel); err != nil {
		return err
	}
	p, err := f.find(rel)
	if err != nil || p == "" {
		return err
	}
	// The file itself may be a link (it is removed, not followed); the
	// folders on its way may not.
	if err := f.plain(filepath.Dir(p)); err != nil {
		return err
	}
	err = retry("remove", rel, time.Now().Add(patience), func() error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	os.Remove(filepath.Dir(p)) // fails unless empty
	return err
}

// SweepPairing deletes pairing files last written before the given time:
// an offer expires PairingExpiry after it is made, so older ones are of no
// use, and none is left in the folder for anyone to work on. It returns
// how many it deleted. Files held open by another program are waited for
// sweepPatience in all, not each; those still held are left for the next
// sweep and named in the error (ErrInUse).
func (f Folder) SweepPairing(before time.Time) (int, error) {
	root := f.join("pairing")
	if err := f.plain(root); err != nil {
		return 0, err
	}
	ids, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(sweepPatience)
	n := 0
	var held []error
	for _, id := range ids {
		if !id.IsDir() || f.plain(filepath.Join(root, id.Name())) != nil {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, id.Name()))
		if err != nil {
			continue
		}
		for _, fe := range files {
			info, err := fe.Info()
			if err != nil || !info.ModTime().Before(before) {
				continue
			}
			p := filepath.Join(root, id.Name(), fe.Name())
			err = retry("remove", "pairing/"+id.Name()+"/"+fe.Name(), deadline, func() error { return os.Remove(p) })
			switch {
			case err == nil:
				n++
			case errors.Is(err, ErrInUse):
				held = append(held, err)
			}
		}
		os.Remove(filepath.Join(root, id.Name())) // fails unless empty
	}
	return n, errors.Join(held...)
}

// entries lists the folder rel, found in any case: the entries that are
// directories (dirs) or files, whose names are ones a sync folder holds,
// less temp files and conflict copies. Bad names and copies are noted.
// A folder that is not there is an error matching fs.ErrNotExist.
func (f Folder) entries(rel string, dirs bool) ([]fs.DirEntry, error) {
	if err := f.plain(f.join(rel)); err != nil {
		return nil, err
	}
	all, err := os.ReadDir(f.join(rel))
	if errors.Is(err, fs.ErrNotExist) && !foldsCase {
		p, ferr := f.fold(rel)
		if ferr != nil {
			return nil, ferr
		}
		if p != "" {
			if err := f.plain(p); err != nil {
				return nil, err
			}
			all, err = os.ReadDir(p)
			if r, rerr := filepath.Rel(f.root(), p); rerr == nil {
				rel = filepath.ToSlash(r) // noted as it is stored
			}
		}
	}
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(all))
	for _, e := range all {
		names[strings.ToLower(e.Name())] = true
	}
	var out []fs.DirEntry
	for _, e := range all {
		name := e.Name()
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		where := path.Join(rel, name)
		if checkName(name) != nil {
			f.Notes.oddName(where)
			continue
		}
		if _, ok := conflictOriginal(name, names); ok {
			f.Notes.copy(where)
			continue
		}
		if e.IsDir() == dirs {
			out = append(out, e)
		}
	}
	return out, nil
}

// List returns the names of the files in the folder rel (none when it
// does not exist), less temp files, conflict copies and odd names.
func (f Folder) List(rel string) ([]string, error) {
	return f.names(rel, false)
}

// Dirs returns the names of the folders within rel (none when it does not
// exist), less conflict copies and odd names.
func (f Folder) Dirs(rel string) ([]string, error) {
	return f.names(rel, true)
}

func (f Folder) names(rel string, dirs bool) ([]string, error) {
	if rel != "" {
		if err := checkPath(rel); err != nil {
			return nil, err
		}
	}
	entries, err := f.entries(rel, dirs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	folded := make(map[string][]string, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
		k := strings.ToLower(e.Name())
		folded[k] = append(folded[k], e.Name())
	}
	// Names that differ only by case are listed all the same (what is
	// in each is checked by whoever reads it), and noted: Windows and
	// macOS would see one of them.
	for _, same := range folded {
		if len(same) > 1 {
			for _, n := range same {
				f.Notes.oddName(path.Join(rel, n))
			}
		}
	}
	return out, nil
}

// Epochs lists the key epochs the folder holds files for, in order.
func (f Folder) Epochs() ([]uint32, error) {
	entries, err := f.entries("epochs", true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, e := range entries {
		if n, err := strconv.ParseUint(e.Name(), 10, 32); err == nil && strconv.FormatUint(n, 10) == e.Name() {
			out = append(out, uint32(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// deviceDir is the slash path of a device's folder: device must be one
// name (ErrBadName).
func deviceDir(device string) (string, error) {
	if err := checkName(device); err != nil {
		return "", fmt.Errorf("sync: device %w", err)
	}
	return "devices/" + device, nil
}

// Put writes a device's batch.
func (f Folder) Put(device string, seq uint64, env []byte) error {
	dir, err := deviceDir(device)
	if err != nil {
		return err
	}
	return f.WriteOnce(dir+"/"+seqName(seq), env)
}

// ReplaceBatch writes env over what holds a device's place: only for
// this computer's own log, where a file it did not write was found.
func (f Folder) ReplaceBatch(device string, seq uint64, env []byte) error {
	dir, err := deviceDir(device)
	if err != nil {
		return err
	}
	return f.Replace(dir+"/"+seqName(seq), env)
}

// Get reads a device's batch.
func (f Folder) Get(device string, seq uint64) ([]byte, error) {
	dir, err := deviceDir(device)
	if err != nil {
		return nil, err
	}
	return f.Read(dir + "/" + seqName(seq))
}

// Devices lists the devices that have written batches, by their ids in
// lower case whatever the case of their folders' names.
func (f Folder) Devices() ([]string, error) {
	m, err := f.devices()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// devices maps the ids of the devices with a folder under devices/ to
// those folders' names. Of two folders of one id that differ by case
// (only a case-sensitive file system holds both), the one in the id's
// own spelling is the device's; the other is noted.
func (f Folder) devices() (map[string]string, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	entries, err := f.entries("devices", true)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		id, ok := canonicalUUID(e.Name())
		if !ok {
			continue
		}
		if prev, dup := out[id]; dup {
			drop := e.Name()
			if drop == id {
				drop, out[id] = prev, id
			}
			f.Notes.oddName("devices/" + drop)
			continue
		}
		out[id] = e.Name()
	}
	return out, nil
}

// Seqs lists a device's batch numbers above after, in order: the names
// of 12 digits in its folder (found in any case), never a conflict copy.
func (f Folder) Seqs(device string, after uint64) ([]uint64, error) {
	rel, err := deviceDir(device)
	if err != nil {
		return nil, err
	}
	entries, err := f.entries(rel, false)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		n, err := strconv.ParseUint(e.Name(), 10, 64)
		if err == nil && n > after && e.Name() == seqName(n) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Watch calls changed when anything under the folder changes: through
// file-system notifications where they work, and by polling every poll
// (network shares do not always notify). It returns when ctx ends.
func (f Folder) Watch(ctx context.Context, poll time.Duration, changed func()) {
	var events <-chan fsnotify.Event
	var watcher *fsnotify.Watcher
	if w, err := fsnotify.NewWatcher(); err == nil {
		watcher = w
		defer w.Close()
		events = w.Events
		go func() {
			for range w.Errors {
			}
		}()
	}
	watchAll := func() {
		if watcher == nil {
			return
		}
		watcher.Add(f.join("devices"))
		if ds, err := (Folder{Dir: f.Dir}).devices(); err == nil {
			for _, name := range ds {
				watcher.Add(f.join("devices/" + name))
			}
		}
	}
	watchAll()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op&fsnotify.Create != 0 {
				watchAll() // perhaps a new device's directory
			}
			changed()
		case <-tick.C:
			watchAll()
			changed()
		}
	}
}
