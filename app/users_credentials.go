package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/clinicvault/clinicvault/store"
)

// A person's own credentials: changing the passphrase, enrolling an
// authenticator, an admin's reset and unlock, and the way back in with the
// recovery key.

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

// ErrCodeRejected means a code typed to confirm an enrollment was wrong.
var ErrCodeRejected = errors.New("that code is not the one the authenticator app shows now")
