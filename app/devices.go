package app

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// The practice's computers: the roster, naming and revoking.

// Device is one machine in the practice's roster.
type Device struct {
	ID       string
	Name     string
	Added    time.Time
	Revoked  time.Time   // zero unless revoked
	LastSeen time.Time   // when this machine last read its log
	Problem  SyncProblem // what stops its log now (zero: nothing)
	Halted   bool        // its log stops at a batch this computer refused
	HaltedAt uint64      // the refused batch's place in the log
	// HaltReason says why that batch was refused, and HaltKind names it.
	HaltReason string
	HaltKind   ProblemKind
	This       bool
}

// Devices lists the practice's machines.
func (s *Session) Devices(ctx context.Context) ([]Device, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return queryAll(ctx, s.general, func(r row) (Device, error) {
		var d Device
		var added, seen, waitMS int64
		var revoked sql.NullInt64
		err := r.Scan(&d.ID, &d.Name, &added, &revoked, &seen, &d.Problem.Detail, &d.Problem.Kind, &d.Problem.Seq, &d.Problem.Epoch, &waitMS,
			&d.Halted, &d.HaltedAt, &d.HaltReason, &d.HaltKind)
		if err != nil {
			return d, err
		}
		if !d.Problem.IsZero() {
			d.Problem.Device, d.Problem.Wait = d.ID, time.Duration(waitMS)*time.Millisecond
		}
		if d.Halted && d.Problem.IsZero() {
			d.Problem = SyncProblem{Device: d.ID, Kind: d.HaltKind, Seq: d.HaltedAt, Halted: true,
				Detail: fmt.Sprintf("batch %d refused, its log halted there: %s", d.HaltedAt, d.HaltReason)}
		}
		d.Added = time.Unix(added, 0)
		if revoked.Valid {
			d.Revoked = time.Unix(revoked.Int64, 0)
		}
		if seen > 0 {
			d.LastSeen = time.Unix(seen, 0)
		}
		d.This = d.ID == s.device
		return d, nil
	}, `SELECT d.id, d.name, d.added_at, d.revoked_at, coalesce(p.last_seen, 0), coalesce(p.problem, ''),
		coalesce(p.problem_kind, ''), coalesce(p.problem_seq, 0), coalesce(p.problem_epoch, 0), coalesce(p.problem_wait_ms, 0),
		h.seq IS NOT NULL, coalesce(h.seq, 0), coalesce(h.reason, ''), coalesce(h.kind, '')
		FROM devices d LEFT JOIN sync_peers p ON p.device = d.id LEFT JOIN sync_halts h ON h.device = d.id ORDER BY d.added_at`)
}

// RenameDevice names a device (admins).
func (s *Session) RenameDevice(ctx context.Context, id, name string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	name, err := cleanText("device name", name, 100, false)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET name = ? WHERE id = ?`, name, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("device %s: %w", id, ErrNotFound)
		}
		if err := s.recordChanges(ctx, tx, "devices", id, map[string]any{"name": name}); err != nil {
			return err
		}
		return audit(ctx, tx, s.v.now(), s.actor(), "device-renamed", id, name)
	})
}

// RevokeDevice removes a lost or retired machine (admins): a signed roster
// change, and a new key epoch sealed to every remaining person. What the
// revoked machine already holds cannot be recalled; what any machine writes
// from now on, it cannot read, and what it writes is refused.
func (s *Session) RevokeDevice(ctx context.Context, dir, id string) error {
	return s.RevokeDeviceAt(ctx, FolderPlace(dir), id)
}

// RevokeDeviceAt is RevokeDevice through a place: the shared folder or
// the relay (which then disconnects and refuses the revoked computer at
// the next pass: its list of computers follows the roster).
func (s *Session) RevokeDeviceAt(ctx context.Context, at Place, id string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	f, err := s.transport(ctx, at)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == s.device {
		return invalid("this computer cannot revoke itself")
	}
	if s.clinical == nil {
		return fmt.Errorf("revoking needs the clinical key to re-key clinical sync: %w", ErrNotPermitted)
	}
	exists, err := scalar[int](ctx, s.general, `SELECT count(*) FROM devices WHERE id = ? AND revoked_at IS NULL`, id)
	if err != nil {
		return err
	}
	if exists == 0 {
		return fmt.Errorf("device %s (or it is already revoked): %w", id, ErrNotFound)
	}
	now := s.v.now()
	var newGen []byte
	defer func() { store.Zero(newGen) }()
	err = s.changeKeyringHeld(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		epoch, err := s.rotateEpoch(ctx, tx, kr, id, "computer "+shortID(id)+" revoked")
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ?, revoked_epoch = ? WHERE id = ?`, now.Unix(), epoch, id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "devices", id, map[string]any{"revoked_at": now.Unix(), "revoked_epoch": epoch}); err != nil {
			return err
		}
		// Its copy of general.db is under the general key: a new one
		// for what is written from now on.
		if newGen, err = s.rotateGeneralKey(ctx, tx, kr, nil); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "device-revoked", id, fmt.Sprintf("new key epoch %d", epoch))
	})
	if err != nil {
		return err
	}
	if err := s.rekeyGeneral(ctx, newGen); err != nil {
		return err
	}
	p, err := loadPlace(ctx, s.general, at.key())
	if err != nil {
		return err
	}
	return s.flushEpochFiles(ctx, f, &p)
}
