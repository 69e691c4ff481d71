package app

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"

	"github.com/clinicvault/clinicvault/store"
)

// The general database key changes when anyone leaves (every member of
// staff holds it) and when a computer is revoked (its copy of general.db
// was under it). The admin who makes the change draws a new key, grants
// it to every remaining person (and the recovery slot), records the old
// key sealed under the new one in the replicated general_key_chain, and
// re-keys this computer's general.db at once. Every other computer moves
// its general.db at the next sign-in there, or at once when the person
// signed in there receives the new grant: the grant names the new key,
// the file opens with the computer's escrow (its current key sealed to
// each person with a slot there, in vault.keys), and the file is re-keyed.
// The departed person's key opens only copies made before.

// escrowKind binds an escrow box to its purpose (never a grant).
const escrowKind store.Kind = "escrow/general"

// rotateGeneralKey draws a new general key within tx, grants it to every
// active slot of kr (saved by the caller, under the keyring lock) and
// records the chain entry; apart names keys made by other admins while
// apart that it replaces too. The caller re-keys general.db once tx has
// committed. Admins only; s.mu held.
func (s *Session) rotateGeneralKey(ctx context.Context, tx *sql.Tx, kr *store.Keyring, apart []string) ([]byte, error) {
	newKey := store.NewKey()
	if err := s.recordKey(ctx, tx, generalLine, newKey, [][]byte{s.kGen}, apart); err != nil {
		return nil, err
	}
	slots, err := activeSlots(ctx, tx, kr)
	if err != nil {
		return nil, err
	}
	gone, err := generalLine.keptFrom(ctx, tx, newKey)
	if err != nil {
		return nil, err
	}
	for _, slot := range slots {
		if gone[slot.UserID] {
			continue
		}
		if err := grantOne(kr.VaultID, slot, store.General, newKey); err != nil {
			continue // a key that cannot be sealed to gets nothing; the change goes on
		}
		if err := s.cw().mirrorGrants(ctx, tx, slot); err != nil {
			return nil, err
		}
	}
	return newKey, audit(ctx, tx, s.v.now(), s.actor(), "general-key-changed", "general.db", "new key granted to the remaining staff")
}

// RekeyProgress says how far the change of a database's key has got.
type RekeyProgress struct {
	Database    string // general.db or clinical.db
	Done, Total int    // pages copied so far, of
}

// OnRekey has fn told the progress of each change of a database's key
// this session makes (the window shows it). fn runs with the session
// held: it must not call the session.
func (s *Session) OnRekey(fn func(RekeyProgress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRekey = fn
}

func (s *Session) rekeyProgress(name string) func(done, total int) {
	fn := s.onRekey
	if fn == nil {
		return nil
	}
	return func(done, total int) { fn(RekeyProgress{Database: name, Done: done, Total: total}) }
}

// rekeyGeneral moves this computer's general.db to key. s.mu held. While
// another session is open in this data folder it does nothing (the file
// would be replaced under it): the next sign-in here finishes the change.
func (s *Session) rekeyGeneral(ctx context.Context, key []byte) error {
	if s.general == nil || subtle.ConstantTimeCompare(key, s.kGen) == 1 || !s.presence.Alone() {
		return nil
	}
	defer s.presence.Shared()
	s.background.Wait()
	if err := s.carryOverGeneral(ctx, s.general, s.kGen); err != nil {
		return err
	}
	if err := keepHistory(ctx, s.general, generalLine, s.kGen, key); err != nil {
		return err
	}
	db, err := store.Rekey(ctx, s.general, key, s.rekeyProgress("general.db"))
	if err != nil {
		// The file is whole under one key or the other.
		s.general = nil
		for _, k := range [][]byte{s.kGen, key} {
			if reopened, oerr := s.v.openDB(ctx, store.General, k); oerr == nil {
				s.general = reopened
				if subtle.ConstantTimeCompare(k, key) == 1 {
					store.Zero(s.kGen)
					s.kGen = append([]byte(nil), key...)
				}
				break
			}
		}
		return fmt.Errorf("re-keying general.db: %w", err)
	}
	store.Zero(s.kGen)
	s.general, s.kGen = db, append([]byte(nil), key...)
	return s.saveEscrow()
}

// rekeyGeneralLocked is rekeyGeneral under the session lock.
func (s *Session) rekeyGeneralLocked(ctx context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil // the next sign-in here re-keys it
	}
	return s.rekeyGeneral(ctx, key)
}

// carryOverGeneral keeps the general sync key of epoch 0, derived from
// the vault's first general key, which batches of that epoch still need.
func (s *Session) carryOverGeneral(ctx context.Context, gen *store.DB, old []byte) error {
	have, err := scalar[int](ctx, gen, `SELECT count(*) FROM sync_keys WHERE epoch = 0`)
	if err != nil || have > 0 {
		return err
	}
	k0, err := store.DeriveKey(old, []byte(s.kr.VaultID), store.LabelSyncKey+"/general/0", 32)
	if err != nil {
		return err
	}
	_, err = gen.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (0, ?)`, k0)
	return err
}

// saveEscrow seals this computer's general key to every slot of vault.keys
// that lacks it. s.mu held.
func (s *Session) saveEscrow() error {
	return store.UpdateKeyring(s.v.Dir, func(kr *store.Keyring) error {
		gone, err := generalLine.keptFrom(context.Background(), s.general, s.kGen)
		if err != nil {
			return err
		}
		ensureEscrow(kr, s.kGen, gone)
		s.kr = kr
		return nil
	})
}

// excludedGeneral lists whom this computer's general key must not reach,
// nil when that cannot be read (see keyLine.excluded). s.mu held.
func (s *Session) excludedGeneral() map[string]bool {
	return generalLine.excluded(context.Background(), s.general, s.kGen)
}

// ensureEscrow makes kr.Escrow hold key sealed to each slot of kr (and
// the recovery slot) but the excluded (removed, as the key's lineage
// says), and nothing for anyone else. It reports whether it changed
// anything. A nil excluded (the lineage could not be read) changes
// nothing: no one gains the key, no one loses it.
func ensureEscrow(kr *store.Keyring, key []byte, excluded map[string]bool) bool {
	if excluded == nil {
		return false
	}
	id := generalLine.id(key)
	var slots []*store.Slot
	for _, sl := range kr.Slots {
		if !excluded[sl.UserID] {
			slots = append(slots, sl)
		}
	}
	if kr.Recovery != nil {
		slots = append(slots, kr.Recovery)
	}
	changed := false
	keep := map[string]bool{}
	if kr.Escrow == nil {
		kr.Escrow = map[string]*store.EscrowBox{}
	}
	for _, sl := range slots {
		keep[sl.UserID] = true
		e := kr.Escrow[sl.UserID]
		if e != nil && e.KeyID == id && e.Role == sl.Role && subtle.ConstantTimeCompare(e.PublicKey, sl.PublicKey) == 1 {
			continue
		}
		box, err := store.SealGrant(sl.PublicKey, kr.VaultID, sl.UserID, sl.Role, escrowKind, key)
		if err != nil {
			continue
		}
		kr.Escrow[sl.UserID] = &store.EscrowBox{KeyID: id, PublicKey: append([]byte(nil), sl.PublicKey...), Role: sl.Role, Box: box}
		changed = true
	}
	for uid := range kr.Escrow {
		if !keep[uid] {
			delete(kr.Escrow, uid)
			changed = true
		}
	}
	return changed
}

// escrowKey opens the escrow of kr for a person, or returns nil.
func escrowKey(kr *store.Keyring, identity []byte, userID string) []byte {
	e := kr.Escrow[userID]
	if e == nil {
		return nil
	}
	key, err := store.OpenGrant(identity, kr.VaultID, userID, e.Role, escrowKind, e.Box)
	if err != nil {
		return nil
	}
	return key
}

// generalKeysOf lists the keys a person may open a copy of general.db
// with: their grant's, then the computer's escrow for them.
func generalKeysOf(kr *store.Keyring, identity []byte, slot *store.Slot) [][]byte {
	var out [][]byte
	if k, err := store.OpenGrant(identity, kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General]); err == nil {
		out = append(out, k)
	}
	if k := escrowKey(kr, identity, slot.UserID); k != nil {
		out = append(out, k)
	}
	return out
}

// openGeneral opens general.db at sign-in. The person's grant names the
// key; when the file is under another (the key changed on a computer
// apart), the escrow opens it and it moves to the grant's key, unless
// the grant's key is the older one.
func (s *Session) openGeneral(ctx context.Context, slot *store.Slot) error {
	var err error
	s.kGen, err = store.OpenGrant(s.secrets.Identity, s.kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General])
	if err != nil {
		return err
	}
	s.general, err = s.v.openDB(ctx, store.General, s.kGen)
	if !errors.Is(err, store.ErrWrongKey) {
		return err
	}
	local := escrowKey(s.kr, s.secrets.Identity, slot.UserID)
	if local == nil {
		return err
	}
	db, oerr := s.v.openDB(ctx, store.General, local)
	if oerr != nil {
		store.Zero(local)
		return err
	}
	granted := s.kGen
	s.general, s.kGen = db, local
	move, merr := generalLine.shouldMove(ctx, s.general, local, granted)
	if merr != nil || !move {
		store.Zero(granted)
		return merr
	}
	s.moveGeneral = granted // once the sign-in has succeeded
	return nil
}

// finishGeneralMove moves general.db to the key the person's grant named,
// after a sign-in that opened it with the escrow. A failure leaves the
// file under one key or the other; the session goes on under the one it
// is under, and the next sign-in tries again.
func (s *Session) finishGeneralMove(ctx context.Context) error {
	key := s.moveGeneral
	s.moveGeneral = nil
	if key == nil {
		return nil
	}
	defer store.Zero(key)
	if err := s.rekeyGeneral(ctx, key); err != nil && s.general == nil {
		return err
	}
	return nil
}

// followGeneralKey moves this computer's general.db when the signed-in
// person's own slot, just updated by sync, grants a new general key.
// s.mu held.
func (s *Session) followGeneralKey(ctx context.Context) error {
	slot, err := s.kr.SlotByID(s.user.ID)
	if err != nil {
		return nil
	}
	key, err := store.OpenGrant(s.secrets.Identity, s.kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General])
	if err != nil || subtle.ConstantTimeCompare(key, s.kGen) == 1 {
		return nil
	}
	defer store.Zero(key)
	if move, err := generalLine.shouldMove(ctx, s.general, s.kGen, key); err != nil || !move {
		return err
	}
	return s.rekeyGeneral(ctx, key)
}

// olderGeneralKeys lists the general keys before the session's, nearest
// first (to open backups made before a change). s.mu held.
func (s *Session) olderGeneralKeys(ctx context.Context) ([][]byte, error) {
	return generalLine.olderKeys(ctx, s.general, s.kGen)
}

// regrantStale is an admin's check at each pass: a slot whose grant of
// line's kind holds a key the lineage shows was replaced (granted by a
// computer that had not heard of the change: someone added or promoted
// there meanwhile) is granted the current key. s.mu held.
func (s *Session) regrantStale(ctx context.Context, l keyLine) error {
	if s.user.Role != Admin {
		return nil
	}
	current := s.kGen
	if l.kind == store.Clinical {
		if s.clinical == nil {
			return nil
		}
		current = s.kClin
	}
	older, err := l.ancestors(ctx, s.general, l.id(current))
	if err != nil {
		return err
	}
	keys, err := l.olderKeys(ctx, s.general, current)
	if err != nil {
		return err
	}
	for _, k := range keys {
		older[l.id(k)] = true
		store.Zero(k)
	}
	if len(older) == 0 {
		return nil
	}
	grantID := func(sl *store.Slot) string {
		if l.kind == store.Clinical {
			if !Role(sl.Role).Clinical() {
				return ""
			}
			return sl.ClinicalKeyID
		}
		return sl.GeneralKeyID
	}
	// Never to someone a key of this lineage was kept from: a slot of
	// someone removed elsewhere, whose removal has not reached this
	// computer, holds a replaced key on purpose.
	gone, err := l.keptFrom(ctx, s.general, current)
	if err != nil {
		return err
	}
	stale := func(kr *store.Keyring) []*store.Slot {
		var out []*store.Slot
		for _, sl := range kr.Slots {
			if older[grantID(sl)] && !gone[sl.UserID] {
				out = append(out, sl)
			}
		}
		if kr.Recovery != nil && older[grantID(kr.Recovery)] {
			out = append(out, kr.Recovery)
		}
		return out
	}
	if len(stale(s.kr)) == 0 {
		return nil
	}
	return s.changeKeyringHeld(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
		slots := stale(kr)
		for _, sl := range slots {
			if err := grantOne(kr.VaultID, sl, l.kind, current); err != nil {
				continue
			}
			if err := s.cw().mirrorGrants(ctx, tx, sl); err != nil {
				return err
			}
		}
		return audit(ctx, tx, s.v.now(), s.actor(), string(l.kind)+"-key-granted", fmt.Sprintf("%d staff", len(slots)), "granted the current "+string(l.kind)+" key in place of a replaced one")
	})
}

// resolveKeyForks is an admin's check at each pass: when two admins
// changed a database key while apart, both new keys stand (each granted
// by a computer that may not have heard of the other's departure). The
// admin replaces both with one new key, granted to the people active now
// only. s.mu held.
func (s *Session) resolveKeyForks(ctx context.Context) error {
	if s.user.Role != Admin {
		return nil
	}
	for _, l := range []keyLine{generalLine, clinicalLine} {
		current := s.kGen
		if l.kind == store.Clinical {
			if s.clinical == nil {
				continue
			}
			current = s.kClin
		}
		heads, err := l.heads(ctx, s.general)
		if err != nil {
			return err
		}
		mine := false
		for _, h := range heads {
			mine = mine || h == l.id(current)
		}
		if len(heads) < 2 || !mine {
			continue // one line, or this computer has yet to follow
		}
		var newKey []byte
		err = s.changeKeyringHeld(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
			var err error
			if l.kind == store.Clinical {
				newKey, err = s.replaceClinicalKey(ctx, tx, kr, heads)
			} else {
				newKey, err = s.rotateGeneralKey(ctx, tx, kr, heads)
			}
			return err
		})
		if err != nil {
			return err
		}
		if l.kind == store.Clinical {
			err = s.rekeyClinical(ctx, newKey)
		} else {
			err = s.rekeyGeneral(ctx, newKey)
		}
		store.Zero(newKey)
		if err != nil {
			return err
		}
	}
	return nil
}

// openGeneralFile opens v's general.db with the first of keys that opens
// it, and says which.
func openGeneralFile(ctx context.Context, v *Vault, keys [][]byte) (*store.DB, []byte, error) {
	err := error(store.ErrWrongKey)
	for _, k := range keys {
		db, oerr := v.openDB(ctx, store.General, k)
		if oerr == nil {
			return db, k, nil
		}
		if err = oerr; !errors.Is(oerr, store.ErrWrongKey) {
			return nil, nil, oerr
		}
	}
	return nil, nil, err
}

func zeroAll(keys [][]byte) {
	for _, k := range keys {
		store.Zero(k)
	}
}
