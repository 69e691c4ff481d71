package app

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clinicvault/clinicvault/store"
)

// The clinical database key changes when someone with clinical access
// leaves (removed, or moved to a role without it). The admin who makes the
// change draws a new key, grants it to every remaining clinician and
// admin (and the recovery slot), records the old key sealed under the new
// one in the replicated clinical_key_chain, and re-keys this computer's
// clinical.db at once. Every other computer re-keys its clinical.db at the
// next sign-in of a clinician there: the grant gives the new key, the
// file opens only with an older one, and the chain leads from one to the
// other. The departed person's key opens only copies made before.

// clinicalKeyID names a clinical key without revealing it.
func clinicalKeyID(key []byte) string { return clinicalLine.id(key) }

// rotateClinicalKey draws a new clinical key within tx: grants it to
// every clinical slot of kr (saved by the caller, under the keyring lock)
// and records the chain entry. It returns the new key; the caller
// re-keys clinical.db once tx has committed. Admins only; s.mu held.
func (s *Session) rotateClinicalKey(ctx context.Context, tx *sql.Tx, kr *store.Keyring) ([]byte, error) {
	return s.replaceClinicalKey(ctx, tx, kr, nil)
}

// replaceClinicalKey is rotateClinicalKey that also replaces the keys
// named in apart (made by other admins while apart, not held here).
func (s *Session) replaceClinicalKey(ctx context.Context, tx *sql.Tx, kr *store.Keyring, apart []string) ([]byte, error) {
	if s.clinical == nil || len(s.kClin) != store.KeySize {
		return nil, fmt.Errorf("changing the clinical key needs it: %w", ErrNotPermitted)
	}
	newKey := store.NewKey()
	if err := s.recordKey(ctx, tx, clinicalLine, newKey, [][]byte{s.kClin}, apart); err != nil {
		return nil, err
	}
	slots, err := activeSlots(ctx, tx, kr)
	if err != nil {
		return nil, err
	}
	gone, err := clinicalLine.keptFrom(ctx, tx, newKey)
	if err != nil {
		return nil, err
	}
	for _, slot := range slots {
		if !Role(slot.Role).Clinical() || gone[slot.UserID] {
			continue
		}
		if err := grantOne(kr.VaultID, slot, store.Clinical, newKey); err != nil {
			continue // a key that cannot be sealed to gets nothing; the change goes on
		}
		if err := s.cw().mirrorGrants(ctx, tx, slot); err != nil {
			return nil, err
		}
	}
	return newKey, audit(ctx, tx, s.v.now(), s.actor(), "clinical-key-changed", "clinical.db", "new key granted to the remaining clinicians and admins")
}

// carryOver keeps, across a change of the clinical key from old to
// newer, what was derived from the old one: the clinical sync key of
// epoch 0 (derived from the vault's first clinical key, which batches of
// that epoch still need) goes into clinical.db, and clinical epoch keys
// waiting wrapped for a clinician are wrapped again under the new key.
func (s *Session) carryOver(ctx context.Context, clin *store.DB, old, newer []byte) error {
	have, err := scalar[int](ctx, clin, `SELECT count(*) FROM sync_keys WHERE epoch = 0`)
	if err != nil {
		return err
	}
	if have == 0 {
		k0, err := store.DeriveKey(old, []byte(s.kr.VaultID), store.LabelSyncKey+"/clinical/0", 32)
		if err != nil {
			return err
		}
		if _, err := clin.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (0, ?)`, k0); err != nil {
			return err
		}
	}
	if s.general == nil {
		return nil
	}
	type pending struct{ name, value string }
	ps, err := queryAll(ctx, s.general, func(r row) (p pending, err error) {
		err = r.Scan(&p.name, &p.value)
		return p, err
	}, `SELECT name, value FROM settings WHERE name LIKE 'epoch_clinical_wrapped_%'`)
	if err != nil {
		return err
	}
	for _, p := range ps {
		e, _ := strconv.Atoi(strings.TrimPrefix(p.name, "epoch_clinical_wrapped_"))
		box, _ := base64.StdEncoding.DecodeString(p.value)
		oldWrap, err := wrapKeyFor(old, s.kr.VaultID, uint32(e))
		if err != nil {
			return err
		}
		key, err := store.OpenBox(oldWrap, box, nil)
		if err != nil {
			continue // wrapped under another key already
		}
		newWrap, err := wrapKeyFor(newer, s.kr.VaultID, uint32(e))
		if err != nil {
			return err
		}
		if err := setSettingDB(ctx, s.general, p.name, base64.StdEncoding.EncodeToString(store.SealBox(newWrap, key, nil))); err != nil {
			return err
		}
	}
	return nil
}

// rekeyClinical re-keys this computer's clinical.db to key. s.mu held.
// While another session is open in this data folder it does nothing: the
// file would be replaced under it. The next sign-in here finishes the
// change (the grant gives the new key, the chain leads back).
func (s *Session) rekeyClinical(ctx context.Context, key []byte) error {
	if !s.presence.Alone() {
		return nil
	}
	defer s.presence.Shared()
	if err := s.carryOver(ctx, s.clinical, s.kClin, key); err != nil {
		return err
	}
	if err := keepHistory(ctx, s.general, clinicalLine, s.kClin, key); err != nil {
		return err
	}
	db, err := store.Rekey(ctx, s.clinical, key, s.rekeyProgress("clinical.db"))
	if err != nil {
		// The file is whole under one key or the other; the next sign-in
		// of a clinician finishes the change.
		s.clinical = nil
		if reopened, oerr := s.openClinicalWith(ctx, s.kClin); oerr == nil {
			s.clinical = reopened
		}
		return fmt.Errorf("re-keying clinical.db: %w", err)
	}
	store.Zero(s.kClin)
	s.clinical, s.kClin = db, append([]byte(nil), key...)
	return writeEscrow(ctx, s.general, s.kr, key)
}

// writeEscrow seals this computer's clinical key to every current
// clinician and admin, replacing what was there.
func writeEscrow(ctx context.Context, gen *store.DB, kr *store.Keyring, key []byte) error {
	if gen == nil {
		return nil
	}
	slots, err := activeSlots(ctx, gen, kr)
	if err != nil {
		return err
	}
	gone, err := clinicalLine.keptFrom(ctx, gen, key)
	if err != nil {
		return err
	}
	return inTx(ctx, gen, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM clinical_key_escrow`); err != nil {
			return err
		}
		for _, slot := range slots {
			if !Role(slot.Role).Clinical() || gone[slot.UserID] {
				continue
			}
			box, err := store.SealGrant(slot.PublicKey, kr.VaultID, slot.UserID, slot.Role, store.Clinical, key)
			if err != nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO clinical_key_escrow (user_id, role, box) VALUES (?, ?, ?)`, slot.UserID, slot.Role, box); err != nil {
				return err
			}
		}
		return nil
	})
}

// openClinicalWith opens clinical.db with key; when the file is still
// under an older clinical key it follows the chain back from key to the
// one that opens it and re-keys the file to key.
func (s *Session) openClinicalWith(ctx context.Context, key []byte) (*store.DB, error) {
	db, err := s.v.openDB(ctx, store.Clinical, key)
	if !errors.Is(err, store.ErrWrongKey) || s.general == nil {
		return db, err
	}
	older, lerr := s.olderClinicalKeysFrom(ctx, key)
	if lerr != nil {
		return nil, lerr
	}
	for _, prev := range older {
		old, operr := s.v.openDB(ctx, store.Clinical, prev)
		if operr == nil {
			return s.moveClinicalTo(ctx, old, prev, key)
		}
		if !errors.Is(operr, store.ErrWrongKey) {
			return nil, operr
		}
	}
	return s.openFromEscrow(ctx, key, err)
}

// moveClinicalTo re-keys clinical.db, open under old, to key; while
// another session is open in this data folder it keeps the file as it is
// and the session works under oldKey.
func (s *Session) moveClinicalTo(ctx context.Context, old *store.DB, oldKey, key []byte) (*store.DB, error) {
	if !s.presence.Alone() {
		store.Zero(s.kClin)
		s.kClin = append([]byte(nil), oldKey...)
		return old, nil
	}
	defer s.presence.Shared()
	if err := s.carryOver(ctx, old, oldKey, key); err != nil {
		old.Close()
		return nil, err
	}
	if err := keepHistory(ctx, s.general, clinicalLine, oldKey, key); err != nil {
		old.Close()
		return nil, err
	}
	db, err := store.Rekey(ctx, old, key, s.rekeyProgress("clinical.db"))
	if err != nil {
		return nil, err
	}
	return db, writeEscrow(ctx, s.general, s.kr, key)
}

// openFromEscrow opens clinical.db with the key this computer sealed to
// the signed-in person when its key last changed (two admins changed the
// key apart, and this person's grant names the other one), and moves it
// to key. notOpened is returned when that does not work either.
func (s *Session) openFromEscrow(ctx context.Context, key []byte, notOpened error) (*store.DB, error) {
	var role string
	var box []byte
	err := s.general.QueryRowContext(ctx, `SELECT role, box FROM clinical_key_escrow WHERE user_id = ?`, s.user.ID).Scan(&role, &box)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notOpened
	} else if err != nil {
		return nil, err
	}
	local, err := store.OpenGrant(s.secrets.Identity, s.kr.VaultID, s.user.ID, role, store.Clinical, box)
	if err != nil {
		return nil, notOpened
	}
	defer store.Zero(local)
	old, err := s.v.openDB(ctx, store.Clinical, local)
	if err != nil {
		return nil, notOpened
	}
	move, err := clinicalLine.shouldMove(ctx, s.general, local, key)
	if err != nil {
		old.Close()
		return nil, err
	}
	if !move {
		// The grant names a key older than the file's (granted by a
		// computer that had not heard of a change yet), or one made
		// apart that yields to the file's: the file stays, never moves
		// back.
		store.Zero(s.kClin)
		s.kClin = append([]byte(nil), local...)
		return old, nil
	}
	return s.moveClinicalTo(ctx, old, local, key)
}

// followClinicalKey re-keys this computer's clinical.db when the signed-in
// person's own slot, just updated by sync, grants a new clinical key: the
// change reaches a computer in use without waiting for a sign-in. s.mu
// held.
func (s *Session) followClinicalKey(ctx context.Context) error {
	if s.clinical == nil {
		return nil
	}
	slot, err := s.kr.SlotByID(s.user.ID)
	if err != nil {
		return nil
	}
	box, ok := slot.Grants[store.Clinical]
	if !ok {
		return nil
	}
	key, err := store.OpenGrant(s.secrets.Identity, s.kr.VaultID, slot.UserID, slot.Role, store.Clinical, box)
	if err != nil || subtle.ConstantTimeCompare(key, s.kClin) == 1 {
		return nil
	}
	defer store.Zero(key)
	move, err := clinicalLine.shouldMove(ctx, s.general, s.kClin, key)
	if err != nil || !move {
		return err // !move: a grant of a replaced key, made apart: never back
	}
	return s.rekeyClinical(ctx, key)
}

// olderClinicalKeys lists the clinical keys before the session's, newest
// first, as far as the chain in general.db leads (to open backups made
// before a change). s.mu held.
func (s *Session) olderClinicalKeys(ctx context.Context) ([][]byte, error) {
	return s.olderClinicalKeysFrom(ctx, s.kClin)
}

// olderClinicalKeysFrom lists the clinical keys before key, nearest first.
func (s *Session) olderClinicalKeysFrom(ctx context.Context, key []byte) ([][]byte, error) {
	return clinicalLine.olderKeys(ctx, s.general, key)
}
