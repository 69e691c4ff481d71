package sync

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
var ErrUnreachable = errors.New("sync: the sync folder cannot be reached")

func seqName(seq uint64) string { return fmt.Sprintf("%012d", seq) }

// Check reports ErrUnreachable when the folder is not there.
func (f Folder) Check() error {
	st, err := os.Stat(f.Dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("%s: %w", f.Dir, ErrUnreachable)
	}
	return nil
}

// WriteOnce writes data to rel (a slash path under the folder) through a
// temp file and a rename, refusing to replace an existing file.
func (f Folder) WriteOnce(rel string, data []byte) error {
	if err := f.Check(); err != nil {
		return err
	}
	p := filepath.Join(f.Dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("sync: %s already exists and is never rewritten", rel)
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
			if _, err := parseUUID(e.Name()); err == nil {
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
