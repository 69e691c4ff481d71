package app

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// What this computer has sent and received, whether a pass is needed,
// and which folder it syncs through.

// sentUpTo is the newest change-log seq of the class this computer has
// sent in a batch.
func sentUpTo(ctx context.Context, gen *store.DB, class cvsync.Class) (int64, error) {
	var last int64
	err := gen.QueryRowContext(ctx, `SELECT coalesce(max(last_change), 0) FROM sync_sent WHERE class = ?`, class.String()).Scan(&last)
	return last, err
}

// receivedUpTo is the newest batch of device's log this computer has
// judged (applied, kept sealed or refused).
func receivedUpTo(ctx context.Context, gen *store.DB, device string) (uint64, error) {
	var last int64
	err := gen.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM sync_received WHERE device = ?`, device).Scan(&last)
	return uint64(last), err
}

// SyncNeeded reports whether a pass through dir has anything to do:
// changes of this computer not sent yet, a batch of another computer not
// received yet, clinical batches or keys kept sealed that this session can
// open, or a new key epoch for this computer. It reads the folder without
// holding the session, so that on a slow network share the watcher's
// once-a-second look does not make the other screens wait; Sync itself
// holds the session for its whole pass. When in doubt (an unreachable
// folder, a database error) it says yes, and the pass reports the problem.
func (s *Session) SyncNeeded(ctx context.Context, dir string) bool {
	return s.syncNeeded(ctx, cvsync.Folder{Dir: dir}, FolderPlace(dir))
}

// syncNeeded is SyncNeeded for any place.
func (s *Session) syncNeeded(ctx context.Context, f cvsync.Transport, p Place) bool {
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return false
	}
	gen, clin, dev := s.general, s.clinical, s.device
	s.mu.Unlock()
	for class, db := range map[cvsync.Class]*store.DB{cvsync.General: gen, cvsync.Clinical: clin} {
		if db == nil {
			continue
		}
		lastChange, err := sentUpTo(ctx, gen, class)
		if err != nil {
			return true
		}
		var unsent int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM changes WHERE seq > ? AND device = ? LIMIT 1)`, lastChange, dev).Scan(&unsent); err != nil || unsent > 0 {
			return true
		}
	}
	if clin != nil {
		var waiting int
		if err := gen.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sync_received WHERE state = 'sealed') +
			(SELECT count(*) FROM settings WHERE name LIKE 'epoch_clinical_wrapped_%')`).Scan(&waiting); err != nil || waiting > 0 {
			return true
		}
	}
	if undelivered(ctx, gen, p.key()) {
		return true
	}
	var epoch sql.NullInt64
	if err := gen.QueryRowContext(ctx, `SELECT max(epoch) FROM sync_keys`).Scan(&epoch); err != nil {
		return true
	}
	epochs, err := f.Epochs()
	if err != nil {
		return true
	}
	s.mu.Lock()
	me := cvsync.UserEpochName(s.user.ID, dev)
	s.mu.Unlock()
	held := uint32(epoch.Int64)
	looked := 0
	for _, e := range epochs {
		// Bounded as installEpochs is: folders planted far ahead, or by
		// the thousand, do not cost this once-a-second look anything.
		if e>>16 > held>>16+maxEpochJump || looked >= 256 {
			break
		}
		if hasSyncKey(ctx, gen, e) {
			continue
		}
		looked++
		if _, err := f.Read(fmt.Sprintf("epochs/%d/%s", e, dev)); err == nil {
			return true
		}
		names, _ := f.List(fmt.Sprintf("epochs/%d", e))
		for _, n := range names {
			if n == me || strings.HasPrefix(n, me+".") {
				return true
			}
		}
	}
	devices, extra, err := placeDevices(ctx, f, gen)
	if err != nil {
		return true
	}
	for _, d := range devices {
		if d == dev {
			continue
		}
		last, err := receivedUpTo(ctx, gen, d)
		if err != nil {
			return true
		}
		seqs, err := f.Seqs(d, last)
		if extra[d] && nothingThere(seqs, err) {
			continue
		}
		if err != nil {
			return true
		}
		if len(seqs) > 0 && !stillHalted(ctx, gen, f, d, seqs[0]) {
			return true
		}
	}
	return false
}

func (s *Session) markReceived(ctx context.Context, h cvsync.Header, hash [32]byte, state, reason, maxHLC string) error {
	_, err := s.general.ExecContext(ctx, `INSERT INTO sync_received (device, seq, class, hash, state, reason, at, version, max_hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(device, seq) DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at,
			hash = excluded.hash, version = excluded.version, max_hlc = excluded.max_hlc`,
		h.Device, h.Seq, h.Class.String(), hash[:], state, reason, s.v.now().Unix(), h.Version, maxHLC)
	return err
}

// seen records that a device's batch was just taken: "last seen" means
// the device last wrote something, not that its folder exists.
func (s *Session) seen(ctx context.Context, device string) {
	s.general.ExecContext(ctx, `INSERT INTO sync_peers (device, last_seen) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET last_seen = excluded.last_seen`,
		device, s.v.now().Unix())
}

// SyncFolder returns the folder this machine last synced through; "" when
// none was chosen, or the setting cannot be read (then no pass runs: the
// watcher asks again within seconds).
func (s *Session) SyncFolder(ctx context.Context) string {
	if s.require() != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, _ := readSetting(ctx, s.general, settingSyncFolder)
	return dir
}

// SetSyncFolder remembers the sync folder for this machine.
func (s *Session) SetSyncFolder(ctx context.Context, dir string) error {
	if err := s.require(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return setSetting(ctx, tx, settingSyncFolder, dir)
	})
}

// LastChangeReceived is when this computer last applied a batch of
// another computer's (zero when never): the Sync screen shows it beside
// the relay's state.
func (s *Session) LastChangeReceived(ctx context.Context) time.Time {
	if s.require() != nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, err := scalarOr[int64](ctx, s.general, 0, `SELECT coalesce(max(at), 0) FROM sync_received WHERE state = 'applied'`)
	if err != nil || at == 0 {
		return time.Time{}
	}
	return time.Unix(at, 0)
}
