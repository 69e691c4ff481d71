package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// ErrLastAdmin refuses removing or demoting the practice's only admin.
var ErrLastAdmin = errors.New("the practice must keep at least one admin")

// ErrUserExists refuses a second user of the same name.
var ErrUserExists = errors.New("a user with this name already exists")

// ListUsers returns every current member of staff (admins only).
func (s *Session) ListUsers(ctx context.Context) ([]User, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return queryAll(ctx, s.general, func(r row) (u User, err error) {
		var created int64
		var last sql.NullInt64
		err = r.Scan(&u.ID, &u.Name, &u.Role, &created, &last, &u.TOTPReset, &u.Bookable)
		u.Created = time.Unix(created, 0)
		if last.Valid {
			u.LastSignIn = time.Unix(last.Int64, 0)
		}
		if th, ok := kr.Throttle[u.ID]; ok {
			u.Failures, u.LockedOut = th.Failures, th.Locked
		}
		return u, err
	}, `SELECT id, name, role, created_at, last_signin_at, totp_reset, `+bookableSQL+`
		FROM users WHERE removed_at IS NULL ORDER BY name COLLATE NOCASE`)
}

// userByName finds a current user in general.db. Call with s.mu held.
func (s *Session) userByName(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) (User, error) {
	var u User
	err := q.QueryRowContext(ctx, `SELECT id, name, role, `+bookableSQL+` FROM users WHERE removed_at IS NULL AND lower(name) = lower(?)`, name).
		Scan(&u.ID, &u.Name, &u.Role, &u.Bookable)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%q: %w", name, ErrUserNotFound)
	}
	return u, err
}

// changeKeyring takes the keyring's lock (other processes on this data
// folder wait), reloads the keyring and, inside one general.db
// transaction, runs fn, saves the keyring, then commits. A failed save
// rolls the database back; a failed commit after the save leaves a slot
// that general.db does not confirm, which sign-in refuses. Call without
// s.mu held.
func (s *Session) changeKeyring(ctx context.Context, fn func(kr *store.Keyring, tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	return s.changeKeyringHeld(ctx, fn)
}

// changeKeyringHeld is changeKeyring for a caller that holds s.mu.
func (s *Session) changeKeyringHeld(ctx context.Context, fn func(kr *store.Keyring, tx *sql.Tx) error) error {
	kr, unlock, err := store.LockedKeyring(s.v.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		if err := fn(kr, tx); err != nil {
			return err
		}
		gone, err := generalLine.keptFrom(ctx, s.general, s.kGen)
		if err != nil {
			return err
		}
		ensureEscrow(kr, s.kGen, gone)
		if err := store.SaveKeyring(s.v.Dir, kr); err != nil {
			return err
		}
		s.kr = kr
		return nil
	})
}

// AddUser adds a member of staff with their first passphrase and the
// authenticator enrollment they scanned (admins only).
func (s *Session) AddUser(ctx context.Context, name string, role Role, passphrase string, enr *Enrollment) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	name, err := checkName("user name", name)
	if err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if enr == nil {
		return fmt.Errorf("no authenticator enrollment: %w", ErrUsage)
	}
	if err := s.v.CheckPassphrase(passphrase, name, s.Practice()); err != nil {
		return err
	}
	now := s.v.now()
	id := newID()
	return s.changeKeyring(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		if _, err := kr.SlotByName(name); err == nil {
			return fmt.Errorf("%q: %w", name, ErrUserExists)
		}
		if _, err := s.userByName(ctx, tx, name); err == nil {
			return fmt.Errorf("%q: %w", name, ErrUserExists)
		}
		if err := s.checkSeat(ctx, tx); err != nil {
			return err
		}
		slot, secrets, err := s.v.newSlot(kr.VaultID, id, name, role, 1, passphrase, enr.secret)
		if err != nil {
			return err
		}
		pub := signPub(secrets.SigningSeed)
		secrets.Wipe()
		if err := grant(kr.VaultID, slot, s.kGen, s.kClin); err != nil {
			return err
		}
		kr.Slots = append(kr.Slots, slot)
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, role, created_at, last_totp_step, sign_pub) VALUES (?, ?, ?, ?, ?, ?)`,
			id, name, string(role), now.Unix(), enr.confirmed, pub); err != nil {
			return err
		}
		if err := s.grantEpochs(ctx, tx, slot); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "users", id, map[string]any{"name": name, "role": string(role), "created_at": now.Unix(), "sign_pub": pub}); err != nil {
			return err
		}
		if err := s.cw().mirrorSlot(ctx, tx, slot); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "user-added", name, "role "+string(role))
	})
}

// keepAnAdmin refuses to remove or demote u when u is the only admin.
func keepAnAdmin(ctx context.Context, tx *sql.Tx, u User) error {
	if u.Role != Admin {
		return nil
	}
	n, err := countAdmins(ctx, tx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// countAdmins counts current admins in general.db.
func countAdmins(ctx context.Context, tx *sql.Tx) (int, error) {
	return scalar[int](ctx, tx, `SELECT count(*) FROM users WHERE removed_at IS NULL AND role = 'admin'`)
}

// RemoveUser removes a member of staff: their slot leaves the keyring, so
// their passphrase opens nothing from now on (admins only). Their row stays
// in general.db, marked removed, for the audit trail. What is synced from
// now on is sealed under a new key epoch, and when they had clinical
// access the clinical database key changes too.
func (s *Session) RemoveUser(ctx context.Context, name string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	now := s.v.now()
	var newClin, newGen []byte
	defer func() { store.Zero(newClin); store.Zero(newGen) }()
	err := s.changeKeyring(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		u, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := keepAnAdmin(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET removed_at = ? WHERE id = ?`, now.Unix(), u.ID); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "users", u.ID, map[string]any{"removed_at": now.Unix()}); err != nil {
			return err
		}
		if err := s.cw().removeSlot(ctx, tx, u.ID); err != nil {
			return err
		}
		kr.RemoveSlot(u.ID)
		// A departure is a rotation: what is written from now on is
		// sealed under keys the departed person never held.
		if _, err := s.rotateEpoch(ctx, tx, kr, "", u.Name+" removed"); err != nil {
			return err
		}
		if u.Role.Clinical() {
			if newClin, err = s.rotateClinicalKey(ctx, tx, kr); err != nil {
				return err
			}
		}
		// Everyone held the general key.
		if newGen, err = s.rotateGeneralKey(ctx, tx, kr, nil); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "user-removed", u.Name, "was "+string(u.Role))
	})
	if err != nil {
		return err
	}
	if newClin != nil {
		if err := s.rekeyLocked(ctx, newClin); err != nil {
			return err
		}
	}
	return s.rekeyGeneralLocked(ctx, newGen)
}

// rekeyLocked re-keys this computer's clinical.db under the session lock.
func (s *Session) rekeyLocked(ctx context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked || s.clinical == nil {
		return nil // the next clinician's sign-in here re-keys it
	}
	return s.rekeyClinical(ctx, key)
}

// SetRole changes a user's role (admins only). Both grants are sealed
// again, bound to the new role; a demotion to receptionist drops the
// clinical grant, so the user's passphrase no longer yields the clinical key.
func (s *Session) SetRole(ctx context.Context, name string, role Role) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	now := s.v.now()
	var newClin []byte
	defer func() { store.Zero(newClin) }()
	err := s.changeKeyring(ctx, func(target *store.Keyring, tx *sql.Tx) error {
		u, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if u.Role == role {
			return nil
		}
		if err := keepAnAdmin(ctx, tx, u); err != nil {
			return err
		}
		goneGen, err := generalLine.keptFrom(ctx, s.general, s.kGen)
		if err != nil {
			return err
		}
		goneClin := map[string]bool{}
		if s.kClin != nil {
			if goneClin, err = clinicalLine.keptFrom(ctx, tx, s.kClin); err != nil {
				return err
			}
		}
		if goneGen[u.ID] || goneClin[u.ID] {
			// Removed on another computer (the keys' lineage says so),
			// though that removal has not reached this one yet: a new
			// grant would hand them the keys kept from them.
			return fmt.Errorf("%s was removed on another computer of the practice: %w", u.Name, ErrNotPermitted)
		}
		slot, err := target.SlotByID(u.ID)
		if err != nil {
			return fmt.Errorf("%s has no keyring slot: %w", u.Name, err)
		}
		slot.Role = string(role)
		if err := grant(target.VaultID, slot, s.kGen, s.kClin); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), u.ID); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "users", u.ID, map[string]any{"role": string(role)}); err != nil {
			return err
		}
		if err := s.cw().mirrorGrants(ctx, tx, slot); err != nil {
			return err
		}
		switch {
		case u.Role.Clinical() && !role.Clinical():
			// Demoted out of clinical access: a new epoch, its clinical
			// key for the remaining clinicians only.
			if _, err := s.rotateEpoch(ctx, tx, target, "", fmt.Sprintf("%s demoted to %s", u.Name, role)); err != nil {
				return err
			}
			if newClin, err = s.rotateClinicalKey(ctx, tx, target); err != nil {
				return err
			}
		case u.Role == Admin:
			// An admin no longer: the epochs they made are never current
			// again, so a new one is made now.
			if _, err := s.rotateEpoch(ctx, tx, target, "", fmt.Sprintf("%s is no longer an admin", u.Name)); err != nil {
				return err
			}
		case !u.Role.Clinical() && role.Clinical():
			if err := s.grantEpochs(ctx, tx, slot); err != nil {
				return err
			}
		}
		if u.ID == s.user.ID {
			u := s.user
			u.Role = role
			s.setUser(u)
		}
		return audit(ctx, tx, now, s.actor(), "role-changed", u.Name, fmt.Sprintf("%s -> %s", u.Role, role))
	})
	if err != nil || newClin == nil {
		return err
	}
	return s.rekeyLocked(ctx, newClin)
}

// AuditList returns the newest limit audit entries, newest first (admins only).
func (s *Session) AuditList(ctx context.Context, limit int) ([]AuditEntry, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	own, err := store.ListAudit(ctx, s.general, limit)
	if err != nil {
		return nil, err
	}
	// The other computers' entries, as received (each names its computer).
	q := `SELECT device, seq, at, user_id, user_name, action, subject, detail, prev_hash, hash FROM audit_remote ORDER BY at DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	all, err := queryAll(ctx, s.general, func(r row) (e AuditEntry, err error) {
		var at int64
		err = r.Scan(&e.Computer, &e.Seq, &at, &e.UserID, &e.UserName, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash)
		e.At = time.Unix(0, at).UTC()
		return e, err
	}, q)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, e := range all {
		names[e.Computer] = ""
	}
	for dev := range names {
		names[dev] = s.deviceName(ctx, dev)
	}
	for i := range all {
		all[i].Computer = names[all[i].Computer]
	}
	here := s.deviceName(ctx, s.device)
	for i := range own {
		own[i].Computer = here
	}
	all = append(all, own...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.After(all[j].At) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// AuditVerify checks the whole audit chain and returns the rows checked
// (admins only). A chain that holds together but lacks, or differs from,
// entries another computer saw of it is an *AuditWitnessError (wrapping
// ErrAuditTampered) naming the computer and the entries.
func (s *Session) AuditVerify(ctx context.Context) (int, error) {
	if err := s.require(Admin); err != nil {
		return 0, err
	}
	n, err := store.VerifyAudit(ctx, s.general)
	if err != nil {
		return n, err
	}
	problems, err := s.AuditProblems(ctx)
	if err != nil {
		return n, err
	}
	if len(problems) > 0 {
		return n, &AuditWitnessError{Problems: problems}
	}
	return n, nil
}
