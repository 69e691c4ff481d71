// Package folder is the shared-folder transport's file system side: a
// network share, a USB stick or a folder a cloud service syncs, read and
// written by every computer of a practice. Package sync names its type
// sync.Folder and holds the rest of the transport's contract (Transport).
//
// It is pure Go and imports nothing of the vault, so that its tests
// cross-compile without cgo and run under Windows (or Wine).
package folder

import (
	"context"
	"errors"
	"fmt"
	"os"
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
}

// ErrUnreachable means the folder cannot be reached now (unplugged drive,
// network share down); work goes on and the next pass catches up.
var ErrUnreachable = errors.New("sync: cannot be reached now")

func seqName(seq uint64) string { return fmt.Sprintf("%012d", seq) }

// Check reports ErrUnreachable when the folder is not there.
func (f Folder) Check() error {
	st, err := os.Stat(f.Dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%s: %w", f.Dir, ErrUnreachable)
	}
	return nil
}

// ErrExists means a file that is written once is already in place.
var ErrExists = errors.New("already exists and is never rewritten")

// WriteOnce writes data to rel (a slash path under the folder) through a
// temp file and a hard link, refusing to replace an existing file
// (ErrExists) even when another process writes the same name at the same
// moment. Where the file system has no hard links (FAT, some network
// shares) it falls back to a check and a rename.
func (f Folder) WriteOnce(rel string, data []byte) error {
	return f.write(rel, data, false)
}

// Replace writes data over rel atomically (temp file, rename). It is only
// for a device's own log position that holds a file the device did not
// write: everything else in the folder is written once.
func (f Folder) Replace(rel string, data []byte) error {
	return f.write(rel, data, true)
}

// SweepPairing deletes pairing files last written before the given time:
// an offer expires PairingExpiry after it is made, so older ones are of no
// use, and none is left in the folder for anyone to work on. It returns
// how many it deleted.
func (f Folder) SweepPairing(before time.Time) (int, error) {
	root := filepath.Join(f.Dir, "pairing")
	ids, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if !id.IsDir() {
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
			if os.Remove(filepath.Join(root, id.Name(), fe.Name())) == nil {
				n++
			}
		}
		os.Remove(filepath.Join(root, id.Name())) // fails unless empty
	}
	return n, nil
}

// List returns the names of the files in the folder rel (none when it
// does not exist).
func (f Folder) List(rel string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, filepath.FromSlash(rel)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Dirs returns the names of the folders within rel (none when it does not
// exist).
func (f Folder) Dirs(rel string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, filepath.FromSlash(rel)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Epochs lists the key epochs the folder holds files for, in order.
func (f Folder) Epochs() ([]uint32, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, "epochs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, e := range entries {
		if n, err := strconv.ParseUint(e.Name(), 10, 32); err == nil && e.IsDir() {
			out = append(out, uint32(n))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Remove deletes rel, and its folder if that is left empty.
func (f Folder) Remove(rel string) error {
	p := filepath.Join(f.Dir, filepath.FromSlash(rel))
	err := os.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	os.Remove(filepath.Dir(p)) // fails unless empty
	return err
}

func (f Folder) write(rel string, data []byte, replace bool) error {
	if err := f.Check(); err != nil {
		return err
	}
	p := filepath.Join(f.Dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err == nil && !replace {
		return fmt.Errorf("sync: %s: %w", rel, ErrExists)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
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
	if err == nil && !replace {
		lerr := os.Link(name, p)
		switch {
		case lerr == nil:
			os.Remove(name)
			return nil
		case errors.Is(lerr, os.ErrExist):
			err = fmt.Errorf("sync: %s: %w", rel, ErrExists)
		default:
			// No hard links here: the check above, then a rename.
		}
	}
	if err == nil {
		err = os.Rename(name, p)
	}
	if err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// Read reads rel.
func (f Folder) Read(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(f.Dir, filepath.FromSlash(rel)))
}

// Put writes a device's batch.
func (f Folder) Put(device string, seq uint64, env []byte) error {
	return f.WriteOnce("devices/"+device+"/"+seqName(seq), env)
}

// ReplaceBatch writes env over what holds a device's place: only for
// this computer's own log, where a file it did not write was found.
func (f Folder) ReplaceBatch(device string, seq uint64, env []byte) error {
	return f.Replace("devices/"+device+"/"+seqName(seq), env)
}

// Get reads a device's batch.
func (f Folder) Get(device string, seq uint64) ([]byte, error) {
	return f.Read("devices/" + device + "/" + seqName(seq))
}

// Devices lists the devices that have written batches.
func (f Folder) Devices() ([]string, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(f.Dir, "devices"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			if isUUID(e.Name()) {
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Seqs lists a device's batch numbers above after, in order.
func (f Folder) Seqs(device string, after uint64) ([]uint64, error) {
	entries, err := os.ReadDir(filepath.Join(f.Dir, "devices", device))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		n, err := strconv.ParseUint(e.Name(), 10, 64)
		if err == nil && n > after {
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
		watcher.Add(filepath.Join(f.Dir, "devices"))
		if ds, err := f.Devices(); err == nil {
			for _, d := range ds {
				watcher.Add(filepath.Join(f.Dir, "devices", d))
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

// isUUID reports whether s is a UUID: 32 hexadecimal digits, with or
// without dashes.
func isUUID(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			continue
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			n++
		default:
			return false
		}
	}
	return n == 32
}
