package store

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/clinicvault/clinicvault/store/filelock"
)

// presenceFile sits in a data directory; every open session holds a
// shared lock on it.
const presenceFile = "sessions.lock"

// Presence is a session's mark on its data directory: a shared lock that
// says the databases are open here. Changing a database's key replaces
// its file, which another open session would go on writing to unseen: it
// is done only while no other session holds a mark (Alone).
type Presence struct{ f *os.File }

// Enter marks a session as open in dir (waiting while another session is
// changing a key there).
func Enter(dir string) (*Presence, error) {
	f, err := os.OpenFile(filepath.Join(dir, presenceFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: session mark: %w", err)
	}
	if err := filelock.LockShared(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: session mark: %w", err)
	}
	return &Presence{f}, nil
}

// Alone takes the directory for this session only, when no other session
// is open there, and reports whether it did; Shared gives it back.
func (p *Presence) Alone() bool {
	if p == nil {
		return true
	}
	return filelock.TryUpgrade(p.f)
}

// Shared turns an Alone back into an ordinary mark.
func (p *Presence) Shared() {
	if p != nil {
		filelock.LockShared(p.f)
	}
}

// Leave removes the mark.
func (p *Presence) Leave() {
	if p != nil {
		filelock.Unlock(p.f)
		p.f.Close()
	}
}
