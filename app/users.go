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

// ErrCodeRejected means a code typed to confirm an enrollment was wrong.
var ErrCodeRejected = errors.New("that code is not the one the authenticator app shows now")

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
	rows, err := s.general.QueryContext(ctx, `SELECT id, name, role, created_at, last_signin_at, totp_reset, `+bookableSQL+`
		FROM users WHERE removed_at IS NULL ORDER BY name COLLATE NOCASE`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		var last sql.NullInt64
		if err := rows.Scan(&u.ID, &u.Name, &u.Role, &created, &last, &u.TOTPReset, &u.Bookable); err != nil {
			return nil, err
		}
		u.Created = time.Unix(created, 0)
		if last.Valid {
			u.LastSignIn = time.Unix(last.Int64, 0)
		}
		if th, ok := kr.Throttle[u.ID]; ok {
			u.Failures, u.LockedOut = th.Failures, th.Locked
		}
		out = append(out, u)
	}
	return out, rows.Err()
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
		ensureEscrow(kr, s.kGen, s.excludedGeneral())
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
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE removed_at IS NULL AND role = 'admin'`).Scan(&n)
	return n, err
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
		if s.excludedGeneral()[u.ID] || (s.kClin != nil && clinicalLine.excluded(ctx, tx, s.kClin)[u.ID]) {
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
			s.user.Role = role
		}
		return audit(ctx, tx, now, s.actor(), "role-changed", u.Name, fmt.Sprintf("%s -> %s", u.Role, role))
	})
	if err != nil || newClin == nil {
		return err
	}
	return s.rekeyLocked(ctx, newClin)
}

// ResetTOTP makes a user enroll a new authenticator at their next sign-in,
// for a lost or replaced phone (admins only).
func (s *Session) ResetTOTP(ctx context.Context, name string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	now := s.v.now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_reset = 1 WHERE id = ?`, u.ID); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "users", u.ID, map[string]any{"totp_reset": true}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "totp-reset", u.Name, "must enroll again at next sign-in")
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil
	}
	return s.noteResets(ctx)
}

// UnlockUser clears a user's failed sign-ins and lockout (admins only).
func (s *Session) UnlockUser(ctx context.Context, name string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	now := s.v.now()
	return s.changeKeyring(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		u, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		delete(kr.Throttle, u.ID)
		return audit(ctx, tx, now, s.actor(), "user-unlocked", u.Name, "failed sign-ins cleared")
	})
}

// ChangePassphrase replaces the signed-in user's passphrase. The current one
// is asked again, so a passer-by at an unlocked screen cannot take over; a
// wrong one counts as a failed sign-in (throttling and lockout), and a
// lockout locks this session too.
func (s *Session) ChangePassphrase(ctx context.Context, current, next string) error {
	if err := s.require(); err != nil {
		return err
	}
	u := s.User()
	if err := s.v.CheckPassphrase(next, u.Name, s.Practice()); err != nil {
		return err
	}
	now := s.v.now()
	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		return err
	}
	slot, err := kr.SlotByID(u.ID)
	if err != nil {
		return err
	}
	if err := s.v.beginAttempt(kr, slot, now); err != nil {
		if errors.Is(err, ErrLockedOut) {
			s.lock(ctx, "locked out")
		}
		return err
	}
	kek, err := store.DeriveKEK(current, *slot.KDF)
	if err != nil {
		return err
	}
	old, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	store.Zero(kek)
	if err != nil {
		ferr := s.v.fail(kr, slot, now, "wrong current passphrase when changing it")
		if errors.Is(ferr, ErrLockedOut) {
			s.lock(ctx, "locked out after wrong current passphrases")
			return ferr
		}
		return fmt.Errorf("the current passphrase is not right: %w", ErrSignInRefused)
	}
	old.Wipe()
	return s.changeKeyring(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		slot, err := kr.SlotByID(u.ID)
		if err != nil {
			return err
		}
		delete(kr.Throttle, u.ID)
		if err := s.rewrap(kr, slot, next); err != nil {
			return err
		}
		if err := s.cw().mirrorSecrets(ctx, tx, slot); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "passphrase-changed", u.Name, "")
	})
}

// rewrap wraps the session's secrets under a new passphrase with fresh
// Argon2id parameters and salt. Call with s.mu held.
func (s *Session) rewrap(kr *store.Keyring, slot *store.Slot, passphrase string) error {
	params := s.v.kdfParams()
	kek, err := store.DeriveKEK(passphrase, params)
	if err != nil {
		return err
	}
	defer store.Zero(kek)
	slot.KDF = &params
	slot.Version++
	slot.Wrapped = store.WrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, s.secrets)
	return nil
}

// BeginTOTPEnrollment starts enrolling a new authenticator after an admin's
// reset. Nothing is saved until ConfirmTOTPEnrollment accepts a code.
func (s *Session) BeginTOTPEnrollment() (*Enrollment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	if !s.mustTOTP {
		return nil, fmt.Errorf("no authenticator reset is pending: %w", ErrUsage)
	}
	return NewEnrollment(s.kr.Practice, s.user.Name)
}

// ConfirmTOTPEnrollment checks a code from the new authenticator, then
// saves its secret in the user's slot and lifts the restriction.
func (s *Session) ConfirmTOTPEnrollment(ctx context.Context, enr *Enrollment, code string) error {
	now := s.v.now()
	if !enr.Confirm(code, now) {
		return ErrCodeRejected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	if !s.mustTOTP || s.kek == nil {
		return fmt.Errorf("no authenticator reset is pending: %w", ErrUsage)
	}
	kr, unlock, err := store.LockedKeyring(s.v.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	slot, err := kr.SlotByID(s.user.ID)
	if err != nil {
		return err
	}
	err = inTx(ctx, s.general, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_reset = 0, last_totp_step = ? WHERE id = ?`, enr.confirmed, s.user.ID); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, s.actor(), "totp-enrolled", s.user.Name, "new authenticator confirmed"); err != nil {
			return err
		}
		store.Zero(s.secrets.TOTPSecret)
		s.secrets.TOTPSecret = append([]byte(nil), enr.secret...)
		slot.Version++
		slot.Wrapped = store.WrapSlot(s.kek, kr.VaultID, slot.UserID, slot.Version, s.secrets)
		if err := s.recordChanges(ctx, tx, "users", s.user.ID, map[string]any{"totp_reset": false, "last_totp_step": enr.confirmed}); err != nil {
			return err
		}
		if err := s.cw().mirrorSecrets(ctx, tx, slot); err != nil {
			return err
		}
		if kr.TOTPReset != nil {
			delete(kr.TOTPReset, s.user.ID)
		}
		return store.SaveKeyring(s.v.Dir, kr)
	})
	if err != nil {
		return err
	}
	s.kr = kr
	s.mustTOTP = false
	store.Zero(s.kek)
	s.kek = nil
	return nil
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
	rows, err := s.general.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	var all []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var dev string
		var at int64
		if err := rows.Scan(&dev, &e.Seq, &at, &e.UserID, &e.UserName, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			rows.Close()
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		if _, ok := names[dev]; !ok {
			names[dev] = ""
		}
		e.Computer = dev
		all = append(all, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
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

// Recover uses the recovery key to give the named admin a new passphrase
// and a new authenticator, and clears their lockout. It is the way back in
// when the only admin forgot the passphrase or lost the phone.
func (v *Vault) Recover(ctx context.Context, recoveryKey, adminName, passphrase string, enr *Enrollment) error {
	if enr == nil {
		return fmt.Errorf("no authenticator enrollment: %w", ErrUsage)
	}
	kr, unlock, err := store.LockedKeyring(v.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	kGen, kClin, err := openRecoverySlot(kr, recoveryKey)
	if err != nil {
		return err
	}
	defer store.Zero(kGen)
	defer store.Zero(kClin)
	kGens := [][]byte{kGen}
	if identity, err := recoveryIdentity(kr, recoveryKey); err == nil {
		if k := escrowKey(kr, identity, recoveryUserID); k != nil {
			kGens = append(kGens, k) // the key changed elsewhere; this computer has not moved yet
			defer store.Zero(k)
		}
		store.Zero(identity)
	}
	gen, _, err := openGeneralFile(ctx, v, kGens)
	if err != nil {
		return err
	}
	defer gen.Close()
	var id, name, role string
	err = gen.QueryRowContext(ctx, `SELECT id, name, role FROM users WHERE removed_at IS NULL AND lower(name) = lower(?)`, adminName).Scan(&id, &name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%q: %w", adminName, ErrUserNotFound)
	} else if err != nil {
		return err
	}
	if Role(role) != Admin {
		return fmt.Errorf("the recovery key restores an admin, and %s is a %s: %w", name, role, ErrNotPermitted)
	}
	if err := v.CheckPassphrase(passphrase, name, kr.Practice); err != nil {
		return err
	}
	old, err := kr.SlotByID(id)
	if err != nil {
		return fmt.Errorf("%s has no keyring slot: %w", name, err)
	}
	slot, fresh, err := v.newSlot(kr.VaultID, id, name, Admin, old.Version+1, passphrase, enr.secret)
	if err != nil {
		return err
	}
	fresh.Wipe()
	if err := grant(kr.VaultID, slot, kGen, kClin); err != nil {
		return err
	}
	*old = *slot
	delete(kr.Throttle, id)
	now := v.now()
	w, _, err := vaultWriter(ctx, v, gen, id)
	if err != nil {
		return err
	}
	return inTx(ctx, gen, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET totp_reset = 0, last_totp_step = ? WHERE id = ?`, enr.confirmed, id); err != nil {
			return err
		}
		if err := audit(ctx, tx, now, actor{recoveryUserID, "recovery key"}, "recovery-key-used", name, "new passphrase and authenticator; lockout cleared"); err != nil {
			return err
		}
		if err := w.record(ctx, tx, "users", id, map[string]any{"totp_reset": false}); err != nil {
			return err
		}
		if err := w.mirrorSlot(ctx, tx, old); err != nil {
			return err
		}
		return store.SaveKeyring(v.Dir, kr)
	})
}
