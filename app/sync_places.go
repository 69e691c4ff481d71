package app

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Places: a computer syncs through a shared folder, a relay, or both.
// It keeps every batch and epoch file it wrote (sync_log, epoch_files),
// and for each place how far it has delivered them and its audit
// entries (sync_places). A place that lacks this computer's own batches
// (a relay whose disk was wiped, files deleted from a folder) gets all
// of them again: each computer refills what a place lost of its log.

// A Place is where this computer meets the others.
type Place struct {
	Folder string    // a shared folder, or
	Relay  RelayLink // a relay
}

// FolderPlace is the shared folder dir.
func FolderPlace(dir string) Place { return Place{Folder: dir} }

// IsRelay reports whether the place is a relay.
func (p Place) IsRelay() bool { return p.Folder == "" && p.Relay.URL != "" }

// String names the place for people: the folder or the relay's address.
func (p Place) String() string {
	if p.IsRelay() {
		return p.Relay.URL
	}
	return p.Folder
}

// key is how sync_places names the place.
func (p Place) key() string {
	if p.IsRelay() {
		return "relay:" + p.Relay.URL
	}
	if abs, err := filepath.Abs(p.Folder); err == nil {
		return "folder:" + abs
	}
	return "folder:" + p.Folder
}

// placeState is how far this computer delivered its log to a place.
type placeState struct {
	key                    string
	batches, epochs, audit int64
}

func loadPlace(ctx context.Context, gen *store.DB, key string) (placeState, error) {
	p := placeState{key: key}
	err := gen.QueryRowContext(ctx, `SELECT batches, epoch_files, audit FROM sync_places WHERE place = ?`, key).Scan(&p.batches, &p.epochs, &p.audit)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return p, err
}

func (s *Session) savePlace(ctx context.Context, p placeState) error {
	_, err := s.general.ExecContext(ctx, `INSERT INTO sync_places (place, batches, epoch_files, audit, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(place) DO UPDATE SET batches = excluded.batches, epoch_files = excluded.epoch_files, audit = excluded.audit, at = excluded.at`,
		p.key, p.batches, p.epochs, p.audit, s.v.now().Unix())
	return err
}

// checkRefill starts the place over when it lacks batches of this
// computer's log that it was given: everything goes to it again (what
// is still there is found there and left). It returns how many batches
// the place had lost.
func (s *Session) checkRefill(ctx context.Context, f cvsync.Transport, p *placeState) (int, error) {
	if p.batches == 0 {
		return 0, nil
	}
	// Listing the whole log is not for every pass (the watcher runs one
	// at each change): once a session, every ten minutes after, and at
	// once when the relay found its streams gone (its disk wiped).
	lost := false
	if l, ok := f.(interface{ TakeLost() bool }); ok {
		lost = l.TakeLost()
	}
	if last, ok := s.refillChecked[p.key]; ok && !lost && time.Since(last) < refillEvery {
		return 0, nil
	}
	if s.refillChecked == nil {
		s.refillChecked = map[string]time.Time{}
	}
	s.refillChecked[p.key] = time.Now()
	have, err := f.Seqs(s.device, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err // a place with no folder for this computer holds none of its batches
	}
	held := map[uint64]bool{}
	for _, q := range have {
		held[q] = true
	}
	var kept []uint64
	kept, err = queryAll(ctx, s.general, func(r row) (q uint64, err error) {
		err = r.Scan(&q)
		return q, err
	}, `SELECT seq FROM sync_log WHERE seq <= ? ORDER BY seq`, p.batches)
	if err != nil {
		return 0, err
	}
	missing, first := 0, uint64(0)
	for _, q := range kept {
		if !held[q] {
			if missing == 0 {
				first = q
			}
			missing++
		}
	}
	if missing > 0 {
		// From the first batch it lacks (those before are there); its
		// epoch files and audit entries all again, found or written.
		p.batches, p.epochs, p.audit = int64(first)-1, 0, 0
	}
	return missing, nil
}

// refillEvery is how often a pass lists a place's copy of this
// computer's whole log, when nothing says it was lost.
const refillEvery = 10 * time.Minute

// OnSendProgress sets what hears how a backlog is going out to a place:
// done of total batches, after each one (only when there are several).
// It is called with the session held; nil stops it.
func (s *Session) OnSendProgress(fn func(place string, done, total int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onSend = fn
}

// flushLog writes this computer's batches the place has not had yet.
func (s *Session) flushLog(ctx context.Context, f cvsync.Transport, p *placeState, rep *SyncReport) error {
	total, done := 0, 0
	if s.onSend != nil {
		if err := s.general.QueryRowContext(ctx, `SELECT count(*) FROM sync_log WHERE seq > ?`, p.batches).Scan(&total); err != nil {
			return err
		}
	}
	for {
		type batch struct {
			seq uint64
			env []byte
		}
		bs, err := queryAll(ctx, s.general, func(r row) (b batch, err error) {
			err = r.Scan(&b.seq, &b.env)
			return b, err
		}, `SELECT seq, env FROM sync_log WHERE seq > ? ORDER BY seq LIMIT 64`, p.batches)
		if err != nil || len(bs) == 0 {
			return err
		}
		for _, b := range bs {
			if err := s.putOwn(f, b.seq, b.env, rep); err != nil {
				return err
			}
			p.batches = int64(b.seq)
			if err := s.savePlace(ctx, *p); err != nil {
				return err
			}
			if done++; total > 1 && s.onSend != nil {
				s.onSend(p.key[strings.IndexByte(p.key, ':')+1:], done, total)
			}
		}
	}
}

// flushEpochFiles writes the epoch files the place has not had yet. A
// file already in place is left as it is (written once).
func (s *Session) flushEpochFiles(ctx context.Context, f cvsync.Transport, p *placeState) error {
	type file struct {
		n    int64
		path string
		data []byte
	}
	files, err := queryAll(ctx, s.general, func(r row) (fl file, err error) {
		err = r.Scan(&fl.n, &fl.path, &fl.data)
		return fl, err
	}, `SELECT n, path, data FROM epoch_files WHERE n > ? ORDER BY n`, p.epochs)
	if err != nil {
		return err
	}
	for _, fl := range files {
		err := f.WriteOnce(fl.path, fl.data)
		if errors.Is(err, cvsync.ErrExists) {
			// Names carry a random tag: a file already there under one
			// was put there by someone else (or by this computer before).
			if there, rerr := f.Read(fl.path); rerr != nil || string(there) != string(fl.data) {
				err = f.Replace(fl.path, fl.data)
			} else {
				err = nil
			}
		}
		if err != nil {
			return err
		}
		p.epochs = fl.n
		if err := s.savePlace(ctx, *p); err != nil {
			return err
		}
	}
	return nil
}

// undelivered reports whether this computer holds batches or epoch
// files that the place has not had yet.
func undelivered(ctx context.Context, gen *store.DB, key string) bool {
	p, err := loadPlace(ctx, gen, key)
	if err != nil {
		return true
	}
	var n int
	if err := gen.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sync_log WHERE seq > ?) + (SELECT count(*) FROM epoch_files WHERE n > ?)`,
		p.batches, p.epochs).Scan(&n); err != nil {
		return true
	}
	return n > 0
}
