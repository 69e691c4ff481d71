package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Signing in: the passphrase and code checked against the keyring and
// general.db, the throttle and lockout, and opening the databases.

// SignIn opens the vault as name. The passphrase unwraps the user's slot,
// the slot's grants give the database keys, then the TOTP code is checked
// against general.db (never the same step twice). Every refusal wraps
// ErrSignInRefused and counts toward throttling and lockout.
func (v *Vault) SignIn(ctx context.Context, name, passphrase, code string) (*Session, error) {
	kr, err := store.LoadKeyring(v.Dir)
	if err != nil {
		return nil, err
	}
	now := v.now()
	slot, err := kr.SlotByName(name)
	if err != nil {
		// Spend the same time as a real attempt, so timing does not
		// reveal which names exist.
		if len(kr.Slots) > 0 && kr.Slots[0].KDF != nil {
			store.DeriveKEK(passphrase, *kr.Slots[0].KDF)
		}
		return nil, refusal
	}
	// The attempt counts as a failure before the key derivation runs,
	// under the keyring's lock: parallel attempts each count, and each
	// waits its turn. Success takes it back.
	if slot.KDF == nil {
		return nil, fmt.Errorf("the keyring slot of %s has no key-derivation parameters: %w", slot.Name, ErrSignInRefused)
	}
	// Parameters out of bounds (vault.keys edited by hand: 64 GiB of
	// memory, 100,000 passes) are refused before anything is derived,
	// and do not count as the person's failed attempt.
	if err := slot.KDF.Check(); err != nil {
		return nil, fmt.Errorf("%s's slot: %w", slot.Name, err)
	}
	if err := v.beginAttempt(kr, slot, now); err != nil {
		return nil, err
	}
	start := time.Now()
	kek, err := store.DeriveKEK(passphrase, *slot.KDF)
	if err != nil {
		return nil, fmt.Errorf("%s's slot: %w", slot.Name, err)
	}
	kdfTime := time.Since(start)
	restStart := time.Now()
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	if err != nil {
		store.Zero(kek)
		return nil, v.fail(kr, slot, now, "wrong passphrase or code")
	}
	// The code is checked before any database is opened, so that a wrong
	// code is refused in the time a wrong passphrase is: the time does not
	// tell a guesser that the passphrase was right. (Whether that code
	// was already used is known only to general.db, checked below; a
	// person whose authenticator an admin reset gives no code.)
	if !kr.TOTPResetMayBePending(slot.UserID) {
		if _, ok := checkTOTP(secrets.TOTPSecret, code, now, 0); !ok {
			store.Zero(kek)
			secrets.Wipe()
			return nil, v.fail(kr, slot, now, "wrong passphrase or code")
		}
	}
	s := &Session{v: v, kr: kr, secrets: secrets, kek: kek, lastTouch: now}
	s.setUser(User{ID: slot.UserID, Name: slot.Name, Role: Role(slot.Role)})
	if s.presence, err = store.Enter(v.Dir); err != nil {
		s.wipe()
		return nil, err
	}
	if err := s.openDatabases(ctx, slot); err != nil {
		s.wipe()
		if errors.Is(err, store.ErrUnwrap) {
			return nil, v.fail(kr, slot, now, "keyring grant did not open")
		}
		v.endAttempt(slot) // not the person's failure
		return nil, err
	}
	// The role in the keyring is a hint until general.db confirms it.
	var role string
	var removed sql.NullInt64
	var lastStep int64
	var reset bool
	err = s.general.QueryRowContext(ctx, `SELECT role, removed_at, last_totp_step, totp_reset FROM users WHERE id = ?`, slot.UserID).
		Scan(&role, &removed, &lastStep, &reset)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		s.wipe()
		v.endAttempt(slot) // not the person's failure, and no way in
		return nil, err
	}
	if err != nil || removed.Valid || role != slot.Role {
		s.wipe()
		return nil, v.fail(kr, slot, now, "account removed or role mismatch")
	}
	step := int64(0)
	if reset {
		s.mustTOTP = true
	} else {
		var ok bool
		step, ok = checkTOTP(secrets.TOTPSecret, code, now, lastStep)
		if !ok && codeUsed(secrets.TOTPSecret, code, now, lastStep) {
			// The right passphrase and a right code, already spent: the
			// person waits for the next code; no failure is counted.
			s.wipe()
			v.endAttempt(slot)
			return nil, ErrCodeUsed
		}
		if !ok {
			s.wipe()
			return nil, v.fail(kr, slot, now, "wrong passphrase or code")
		}
		store.Zero(s.kek)
		s.kek = nil
	}
	// Success: clear the count, record the sign-in and any failures that
	// were waiting in the keyring for a database to go into. The keyring
	// is changed under its lock, as it is now: another process may have
	// changed it since it was read above.
	var pending []store.PendingEvent
	resets := s.pendingResets(ctx)
	gone, err := generalLine.keptFrom(ctx, s.general, s.kGen)
	if err != nil {
		s.wipe()
		v.endAttempt(slot) // not the person's failure
		return nil, err
	}
	if err := store.UpdateKeyring(v.Dir, func(k *store.Keyring) error {
		pending, k.Pending = k.Pending, nil
		delete(k.Throttle, slot.UserID)
		ensureEscrow(k, s.kGen, gone)
		k.TOTPReset = resets
		kr = k
		return nil
	}); err != nil {
		s.wipe()
		return nil, err
	}
	s.kr = kr
	err = inTx(ctx, s.general, func(tx *sql.Tx) error {
		for _, p := range pending {
			// Written to vault.keys by a process that held no key (the
			// sign-in failed): anyone who can write that file could have
			// put it there. It goes into the log marked so.
			if err := audit(ctx, tx, p.At, actor{p.UserID, p.Name}, p.Action, p.Name, p.Detail+"; unverified: recorded before any sign-in"); err != nil {
				return err
			}
		}
		q := `UPDATE users SET last_signin_at = ? WHERE id = ?`
		args := []any{now.Unix(), slot.UserID}
		if step != 0 {
			q = `UPDATE users SET last_signin_at = ?, last_totp_step = ? WHERE id = ?`
			args = []any{now.Unix(), step, slot.UserID}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}

		detail := "passphrase and code"
		if s.mustTOTP {
			detail = "passphrase; authenticator must be enrolled again"
		}
		if s.clinicalUnavailable {
			detail += "; clinical records unavailable on this computer (the clinical key changed elsewhere): ask an admin"
		}
		return audit(ctx, tx, now, s.actor(), "signin", s.user.Name, detail)
	})
	if err != nil {
		// The failures stay queued for the next sign-in.
		store.UpdateKeyring(v.Dir, func(k *store.Keyring) error {
			k.Pending = append(pending, k.Pending...)
			return nil
		})
		s.wipe()
		return nil, err
	}
	if s.idleLock, err = s.readIdleLock(ctx); err != nil {
		s.wipe()
		return nil, err
	}
	if err := s.startClock(ctx); err != nil {
		s.wipe()
		return nil, err
	}

	if _, err := s.general.ExecContext(ctx, `UPDATE users SET last_device = ? WHERE id = ?`, s.device, s.user.ID); err != nil {
		s.wipe()
		return nil, err
	}
	s.dates = s.readDateOrder(ctx)
	if err := s.upgradeSearchIndex(ctx); err != nil {
		s.wipe()
		return nil, err
	}
	if err := s.finishGeneralMove(ctx); err != nil {
		s.wipe()
		return nil, err
	}
	s.timing = SignInTiming{KDF: kdfTime, Rest: time.Since(restStart)}
	if s.mustTOTP {
		return s, ErrEnrollTOTP
	}
	return s, nil
}

// beginAttempt counts a sign-in attempt of slot as a failure before the
// key derivation runs, under the keyring's lock, after checking that the
// account may try now: N parallel attempts count N, and the ones past
// the free tries wait. A success takes it back (the throttle is cleared).
func (v *Vault) beginAttempt(kr *store.Keyring, slot *store.Slot, now time.Time) error {
	var refused error
	err := store.UpdateKeyring(v.Dir, func(k *store.Keyring) error {
		*kr = *k
		th := k.ThrottleFor(slot.UserID)
		if th.Locked {
			refused = ErrLockedOut
			return nil
		}
		// A last failure later than now (a clock set back, or a date
		// typed into vault.keys) counts as now, and is written down as
		// now: the wait is never more than throttleWait's longest,
		// whatever the file says, and it runs out.
		if th.LastFailure.After(now) {
			th.LastFailure = now
		}
		if wait := th.LastFailure.Add(throttleWait(th.Failures)).Sub(now); wait > 0 {
			refused = &ThrottledError{Wait: wait}
			return nil
		}
		th.Failures++
		th.LastFailure = now
		*kr = *k
		return nil
	})
	if err != nil {
		return fmt.Errorf("could not record the sign-in attempt: %w", err)
	}
	return refused
}

// endAttempt takes back an attempt counted by beginAttempt that failed
// for a reason not the person's (a database busy, a disk error).
func (v *Vault) endAttempt(slot *store.Slot) {
	store.UpdateKeyring(v.Dir, func(k *store.Keyring) error {
		if th := k.Throttle[slot.UserID]; th != nil && th.Failures > 0 {
			th.Failures--
		}
		return nil
	})
}

// fail records a failed attempt (counted already by beginAttempt) for
// the audit log, and locks the account out at the limit. It returns the
// refusal to show.
func (v *Vault) fail(kr *store.Keyring, slot *store.Slot, now time.Time, why string) error {
	var locked bool
	err := store.UpdateKeyring(v.Dir, func(k *store.Keyring) error {
		th := k.ThrottleFor(slot.UserID)
		if th.Failures == 0 {
			th.Failures = 1 // its attempt was counted on a copy since replaced
		}
		th.LastFailure = now
		detail := fmt.Sprintf("%s (failure %d)", why, th.Failures)
		action := "signin-failed"
		if th.Failures >= lockoutFailures {
			th.Locked = true
			action = "account-locked-out"
		}
		locked = th.Locked
		k.Pending = append(k.Pending, store.PendingEvent{At: now, UserID: slot.UserID, Name: slot.Name, Action: action, Detail: detail})
		*kr = *k
		return nil
	})
	if err != nil {
		return fmt.Errorf("could not record the failed sign-in: %w", err)
	}
	if locked {
		return ErrLockedOut
	}
	return refusal
}

// noteResets writes general.db's list of pending authenticator resets
// into vault.keys when it differs from the keyring's copy. s.mu held.
func (s *Session) noteResets(ctx context.Context) error {
	resets := s.pendingResets(ctx)
	if resets == nil || maps.Equal(resets, s.kr.TOTPReset) {
		return nil
	}
	return store.UpdateKeyring(s.v.Dir, func(k *store.Keyring) error {
		k.TOTPReset = resets
		s.kr = k
		return nil
	})
}

// pendingResets lists whose authenticator reset is pending, from
// general.db, for the keyring's copy (TOTPReset).
func (s *Session) pendingResets(ctx context.Context) map[string]bool {
	ids, err := queryAll(ctx, s.general, scanString, `SELECT id FROM users WHERE totp_reset = 1 AND removed_at IS NULL`)
	if err != nil {
		return nil // unknown: sign-in keeps opening the databases first
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// openDatabases opens the grants of slot with the session's identity and
// opens general.db, and clinical.db when a clinical grant exists.
func (s *Session) openDatabases(ctx context.Context, slot *store.Slot) error {
	kr := s.kr
	err := s.openGeneral(ctx, slot)
	if err != nil {
		return err
	}
	if box, ok := slot.Grants[store.Clinical]; ok && Role(slot.Role).Clinical() {
		s.kClin, err = store.OpenGrant(s.secrets.Identity, kr.VaultID, slot.UserID, slot.Role, store.Clinical, box)
		if err != nil {
			return err
		}
		s.clinical, err = s.openClinicalWith(ctx, s.kClin)
		if errors.Is(err, store.ErrWrongKey) {
			// The clinical key changed elsewhere in a way this computer
			// cannot follow yet (two changes made apart): the person signs
			// in without the clinical records here rather than not at all.
			store.Zero(s.kClin)
			s.kClin, s.clinical, s.clinicalUnavailable = nil, nil, true
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
