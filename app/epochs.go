package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Sync key epochs: the keys each class of batch is sealed under.

// syncKey returns the sync key of a class and epoch: epoch 0 is derived
// from the database key (every holder of it has it); later epochs, made
// at a revocation, are stored where the class's database key protects them.
func (s *Session) syncKey(ctx context.Context, class cvsync.Class, epoch uint32) ([]byte, error) {
	db, dbKey := s.general, s.kGen
	if class == cvsync.Clinical {
		db, dbKey = s.clinical, s.kClin
		if db == nil {
			return nil, fmt.Errorf("clinical sync key: %w", ErrNotPermitted)
		}
	}
	if epoch == 0 {
		// Derived from the database key — from the first one: after a
		// change of the clinical key, epoch 0's key is kept in clinical.db.
		kept, err := scalar[[]byte](ctx, db, `SELECT key FROM sync_keys WHERE epoch = 0`)
		if !errors.Is(err, sql.ErrNoRows) {
			return kept, err
		}
		return store.DeriveKey(dbKey, []byte(s.kr.VaultID), store.LabelSyncKey+"/"+class.String()+"/0", 32)
	}
	var key []byte
	err := db.QueryRowContext(ctx, `SELECT key FROM sync_keys WHERE epoch = ?`, epoch).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return key, err
}

// epochNow is the epoch new batches are sealed under: the newest this
// computer holds that was made by someone who is still an active admin
// (epochs of earlier versions, and those a pairing brought, name no
// maker). An epoch made by an admin since removed or demoted is never
// current, whatever its number.
// A read error is returned, never taken as epoch 0 (whose keys people
// since removed may hold).
func (s *Session) epochNow(ctx context.Context) (uint32, error) {
	e, err := scalar[sql.NullInt64](ctx, s.general, `SELECT max(k.epoch) FROM sync_keys k LEFT JOIN users u ON u.id = k.made_by
		WHERE k.made_by = '' OR (u.removed_at IS NULL AND u.role = 'admin')`)
	return uint32(e.Int64), err
}

// newestHeldEpoch is the greatest epoch this computer holds, current or
// not: new epochs are numbered after it.
func (s *Session) newestHeldEpoch(ctx context.Context, q querier) (uint32, error) {
	e, err := scalar[sql.NullInt64](ctx, q, `SELECT max(epoch) FROM sync_keys`)
	return uint32(e.Int64), err
}

// maxEpochJump bounds how many counts an epoch file may be ahead of the
// newest epoch held here: honest counts go up one at a time, and files
// are installed in order.
const maxEpochJump = 4

// clinicalWrapKey is the key (derived from the clinical database key) that
// wraps each epoch's clinical sync key, so that a device's own key alone —
// which any of its users can reach — never yields clinical sync keys.
func (s *Session) clinicalWrapKey(epoch uint32) ([]byte, error) {
	return wrapKeyFor(s.kClin, s.kr.VaultID, epoch)
}

func wrapKeyFor(kClin []byte, vaultID string, epoch uint32) ([]byte, error) {
	return store.DeriveKey(kClin, []byte(vaultID), store.LabelEpochKeys+"/clinical-wrap/"+strconv.Itoa(int(epoch)), 32)
}

// A key epoch is made at every departure: a member of staff removed, a
// clinician or admin demoted to a role without clinical access, a
// computer revoked. Its keys are random and sealed to each remaining
// person's own identity key (their keyring slot's X25519 key; the
// recovery slot too) and then to each remaining computer's device key, in
// epochs/<n>/u-<user id>@<device id>, signed by the admin who made it:
// the general sync key for everyone, the clinical one only for clinicians
// and admins. Opening one takes both a current person's passphrase and a
// current computer: nothing a departed person holds (their old slot, a
// copy of a computer's general.db with its device key, the general or
// clinical database key) opens a new epoch's keys, nor does a revoked
// computer whoever signs in there, so what is written from then on does
// not open with them. Epoch files of earlier versions were sealed to
// devices only (epochs/<n>/<device id>) and are still read.

// epochDevice is a current computer of the roster, a recipient of epochs.
type epochDevice struct{ id, pub string }

// currentDevices lists the roster's computers that are not revoked,
// except the one named (the one being revoked).
func currentDevices(ctx context.Context, q querier, except string) ([]epochDevice, error) {
	return queryAll(ctx, q, func(r row) (d epochDevice, err error) {
		err = r.Scan(&d.id, &d.pub)
		return d, err
	}, `SELECT id, x25519_pub FROM devices WHERE revoked_at IS NULL AND id != ? ORDER BY id`, except)
}

// sealEpochFor seals an epoch's keys to one keyring slot (the clinical key
// only for a clinical role), then to one computer, and signs the file as
// the session's user. Call with s.mu held.
func (s *Session) sealEpochFor(slot *store.Slot, dev epochDevice, epoch uint32, made int64, gen, clin []byte) ([]byte, error) {
	k := cvsync.UserEpochKeys{General: gen}
	if Role(slot.Role).Clinical() {
		k.Clinical = clin
	}
	body, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	defer store.Zero(body)
	inner, err := cvsync.SealTo(slot.PublicKey, store.LabelEpochUser, body)
	if err != nil {
		return nil, err
	}
	devPub, err := hex.DecodeString(dev.pub)
	if err != nil {
		return nil, fmt.Errorf("computer %s has no usable key in the roster", shortID(dev.id))
	}
	box, err := cvsync.SealTo(devPub, store.LabelEpochUserOnDevice, inner)
	if err != nil {
		return nil, err
	}
	ef := cvsync.EpochFile{Epoch: epoch, User: slot.UserID, Device: dev.id, Made: made, Clinical: len(k.Clinical) > 0, Box: box, Admin: s.user.ID}
	ef.Signature = ed25519.Sign(ed25519.NewKeyFromSeed(s.secrets.SigningSeed), cvsync.EpochSigned(ef))
	return json.Marshal(ef)
}

// rotateEpoch starts a new key epoch for a departure: random general and
// clinical sync keys, kept on this computer and sealed to every slot of kr
// (which no longer names the departed person, or names them with their
// new role) on every current computer but exceptDevice, queued in the
// epoch outbox within tx. Admins only, with the clinical key; call with
// s.mu held.
func (s *Session) rotateEpoch(ctx context.Context, tx *sql.Tx, kr *store.Keyring, exceptDevice, why string) (uint32, error) {
	if s.clinical == nil {
		return 0, fmt.Errorf("a new key epoch needs the clinical key: %w", ErrNotPermitted)
	}
	newest, err := s.newestHeldEpoch(ctx, tx)
	if err != nil {
		return 0, err
	}
	epoch, err := nextEpoch(newest)
	if err != nil {
		return 0, err
	}
	gen, clin := store.NewKey(), store.NewKey()
	made := s.v.now().UnixMilli()
	if _, err := s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO UPDATE SET key = excluded.key`, epoch, clin); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key, made_by) VALUES (?, ?, ?)`, epoch, gen, s.user.ID); err != nil {
		return 0, err
	}
	if err := setSetting(ctx, tx, fmt.Sprintf("epoch_made_%d", epoch), strconv.FormatInt(made, 10)); err != nil {
		return 0, err
	}
	slots, err := activeSlots(ctx, tx, kr)
	if err != nil {
		return 0, err
	}
	devs, err := currentDevices(ctx, tx, exceptDevice)
	if err != nil {
		return 0, err
	}
	for _, slot := range slots {
		for _, d := range devs {
			data, err := s.sealEpochFor(slot, d, epoch, made, gen, clin)
			if err != nil {
				// A slot or computer whose public key cannot be sealed to
				// (damaged, or planted) gets nothing; it never stops a
				// departure's rotation.
				continue
			}
			path := fmt.Sprintf("epochs/%d/%s.%s", epoch, cvsync.UserEpochName(slot.UserID, d.id), randomTag())
			if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_files (path, data) VALUES (?, ?)`, path, data); err != nil {
				return 0, err
			}
		}
	}
	return epoch, audit(ctx, tx, s.v.now(), s.actor(), "key-epoch", fmt.Sprint(epoch), why)
}

// grantEpochs queues, within tx, every epoch's keys this computer holds
// sealed to slot: for a new member of staff or a promotion to a clinical
// role, whose computer may have been offline when the epochs were made.
// Call with s.mu held.
func (s *Session) grantEpochs(ctx context.Context, tx *sql.Tx, slot *store.Slot) error {
	type ek struct {
		epoch uint32
		key   []byte
	}
	eks, err := queryAll(ctx, tx, func(r row) (e ek, err error) {
		err = r.Scan(&e.epoch, &e.key)
		return e, err
	}, `SELECT epoch, key FROM sync_keys ORDER BY epoch`)
	if err != nil {
		return err
	}
	devs, err := currentDevices(ctx, tx, "")
	if err != nil {
		return err
	}
	for _, e := range eks {
		var clin []byte
		if s.clinical != nil {
			if clin, err = scalarOr[[]byte](ctx, s.clinical, nil, `SELECT key FROM sync_keys WHERE epoch = ?`, e.epoch); err != nil {
				return err
			}
		}
		made, err := readSetting(ctx, tx, fmt.Sprintf("epoch_made_%d", e.epoch))
		if err != nil {
			return err
		}
		m, _ := strconv.ParseInt(made, 10, 64)
		for _, d := range devs {
			data, err := s.sealEpochFor(slot, d, e.epoch, m, e.key, clin)
			if err != nil {
				return err
			}
			// Beside what the folder holds for the person already
			// (written once): a promotion adds a grant with the
			// clinical key.
			path := fmt.Sprintf("epochs/%d/%s.%s", e.epoch, cvsync.UserEpochName(slot.UserID, d.id), randomTag())
			if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_files (path, data) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET data = excluded.data`, path, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushEpochOutbox writes the epoch files that the place of the pass
// under way has not had yet (sync_places.go).
func (s *Session) flushEpochOutbox(ctx context.Context, f cvsync.Transport) error {
	if s.pass == nil {
		return nil
	}
	return s.flushEpochFiles(ctx, f, s.pass)
}

// rotateIfDepartedIncluded is an admin's check at each pass, on the
// epochs of the current count this computer holds, from their signed
// files. When one was sealed to someone who has left, to a computer since
// revoked, or gave the clinical key to someone who no longer has clinical
// access (made by a computer that did not know yet: the two were apart),
// a new epoch is started without them. Otherwise, the current epoch's
// files are completed: a remaining person on a remaining computer whose
// file is missing (deleted from the folder, say) gets one. (Only admins
// can; until an admin's pass, the others go on as they are.)
func (s *Session) rotateIfDepartedIncluded(ctx context.Context, f cvsync.Transport) error {
	if s.user.Role != Admin || s.clinical == nil {
		return nil
	}
	cur, err := s.epochNow(ctx)
	if err != nil || cur == 0 {
		return err
	}
	type person struct {
		role    Role
		removed bool
	}
	type row3 struct {
		id string
		person
	}
	all, err := queryAll(ctx, s.general, func(r row) (x row3, err error) {
		err = r.Scan(&x.id, &x.role, &x.removed)
		return x, err
	}, `SELECT id, role, removed_at IS NOT NULL FROM users`)
	if err != nil {
		return err
	}
	people := map[string]person{}
	for _, x := range all {
		people[x.id] = x.person
	}
	revoked, err := stringSet(ctx, s.general, `SELECT id FROM devices WHERE revoked_at IS NOT NULL`)
	if err != nil {
		return err
	}
	held, err := s.heldEpochs(ctx)
	if err != nil {
		return err
	}
	why := ""
	covered := map[string]bool{} // user@device holding a valid file of the current epoch
	for _, e := range held {
		if e>>16 != cur>>16 {
			continue
		}
		names, _ := f.List(fmt.Sprintf("epochs/%d", e))
		for _, n := range names {
			data, err := f.Read(fmt.Sprintf("epochs/%d/%s", e, n))
			if err != nil {
				continue
			}
			var ef cvsync.EpochFile
			if json.Unmarshal(data, &ef) != nil || ef.Epoch != e || ef.User == "" || !s.signedByAnAdmin(ctx, ef) {
				continue // not a file of the practice's: its name says nothing
			}
			p, known := people[ef.User]
			switch {
			case ef.User == recoveryUserID:
			case !known:
			case p.removed:
				why = "an epoch made while computers were apart was sealed to someone who had left"
			case ef.Clinical && !p.role.Clinical():
				why = "an epoch made while computers were apart gave the clinical key to someone who no longer has clinical access"
			}
			if revoked[ef.Device] {
				why = "an epoch made while computers were apart was sealed to a computer since revoked"
			}
			if e == cur && !revoked[ef.Device] && (ef.User == recoveryUserID || known && !p.removed) {
				covered[ef.User+"@"+ef.Device] = true
			}
		}
	}
	if why != "" {
		if err := s.changeKeyringHeld(ctx, func(kr *store.Keyring, tx *sql.Tx) error {
			_, err := s.rotateEpoch(ctx, tx, kr, "", why)
			return err
		}); err != nil {
			return err
		}
		return s.flushEpochOutbox(ctx, f)
	}
	kr := s.kr // only read here: the slots to complete the files for
	// Complete the current epoch's files.
	devs, err := currentDevices(ctx, s.general, "")
	if err != nil {
		return err
	}
	gen, _ := s.syncKey(ctx, cvsync.General, cur)
	clin, _ := s.syncKey(ctx, cvsync.Clinical, cur)
	if gen == nil || clin == nil {
		return nil
	}
	made, err := readSetting(ctx, s.general, fmt.Sprintf("epoch_made_%d", cur))
	if err != nil {
		return err
	}
	m, _ := strconv.ParseInt(made, 10, 64)
	slots, err := activeSlots(ctx, s.general, kr)
	if err != nil {
		return err
	}
	wrote := false
	for _, slot := range slots {
		for _, d := range devs {
			if covered[slot.UserID+"@"+d.id] {
				continue
			}
			data, err := s.sealEpochFor(slot, d, cur, m, gen, clin)
			if err != nil {
				return err
			}
			if _, err := s.general.ExecContext(ctx, `INSERT INTO epoch_files (path, data) VALUES (?, ?) ON CONFLICT(path) DO NOTHING`,
				fmt.Sprintf("epochs/%d/%s.%s", cur, cvsync.UserEpochName(slot.UserID, d.id), randomTag()), data); err != nil {
				return err
			}
			wrote = true
		}
	}
	if !wrote {
		return nil
	}
	return s.flushEpochOutbox(ctx, f)
}

func setSettingDB(ctx context.Context, db *store.DB, name, value string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// randomTag is 8 random hex digits: epoch file names carry one, so that
// nobody can take a name before its file is written.
func randomTag() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// activeSlots is the keyring's slots of people the roster does not name
// as removed, and the recovery slot: the recipients of new keys. (A slot
// can come back into a keyring after a removal — a change to it made
// elsewhere while the two computers were apart wins over the removal by
// time — but a removal in the roster is never undone.)
func activeSlots(ctx context.Context, q querier, kr *store.Keyring) ([]*store.Slot, error) {
	removed, err := stringSet(ctx, q, `SELECT id FROM users WHERE removed_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	var out []*store.Slot
	for _, sl := range kr.Slots {
		if !removed[sl.UserID] {
			out = append(out, sl)
		}
	}
	if kr.Recovery != nil {
		out = append(out, kr.Recovery)
	}
	return out, nil
}
