package app

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"golang.org/x/crypto/chacha20poly1305"
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
		var kept []byte
		if err := db.QueryRowContext(ctx, `SELECT key FROM sync_keys WHERE epoch = 0`).Scan(&kept); err == nil {
			return kept, nil
		}
		return hkdf.Key(sha256.New, dbKey, []byte(s.kr.VaultID), syncKeyLabel+"/"+class.String()+"/0", 32)
	}
	var key []byte
	err := db.QueryRowContext(ctx, `SELECT key FROM sync_keys WHERE epoch = ?`, epoch).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return key, err
}

// currentEpoch is the epoch new batches are sealed under: the newest this
// computer holds that was made by someone who is still an active admin
// (epochs of earlier versions, and those a pairing brought, name no
// maker). An epoch made by an admin since removed or demoted is never
// current, whatever its number.
func (s *Session) currentEpoch(ctx context.Context) uint32 {
	var e sql.NullInt64
	s.general.QueryRowContext(ctx, `SELECT max(k.epoch) FROM sync_keys k LEFT JOIN users u ON u.id = k.made_by
		WHERE k.made_by = '' OR (u.removed_at IS NULL AND u.role = 'admin')`).Scan(&e)
	return uint32(e.Int64)
}

// newestHeldEpoch is the greatest epoch this computer holds, current or
// not: new epochs are numbered after it.
func (s *Session) newestHeldEpoch(ctx context.Context, q querier) uint32 {
	var e sql.NullInt64
	q.QueryRowContext(ctx, `SELECT max(epoch) FROM sync_keys`).Scan(&e)
	return uint32(e.Int64)
}

// maxEpochJump bounds how many counts an epoch file may be ahead of the
// newest epoch held here: honest counts go up one at a time, and files
// are installed in order.
const maxEpochJump = 4

// epochFile is a new key epoch sealed to one device, signed by the admin
// who made it.
type epochFile struct {
	Epoch     uint32 `json:"epoch"`
	Device    string `json:"device,omitempty"`   // sealed to a device (earlier versions)
	User      string `json:"user,omitempty"`     // sealed to a person's identity key
	Made      int64  `json:"made,omitempty"`     // Unix ms, by the admin's clock
	Clinical  bool   `json:"clinical,omitempty"` // the box holds the clinical key
	Box       []byte `json:"box"`                // sealed to the person (userEpochKeys) or the device (epochKeys)
	Admin     string `json:"admin"`
	Signature []byte `json:"signature"`
}

type epochKeys struct {
	General         []byte `json:"general"`
	ClinicalWrapped []byte `json:"clinical_wrapped"`
	MadeBy          string `json:"made_by,omitempty"`
}

func epochSigned(e epochFile) []byte {
	b := fmt.Sprintf("%s|%d|%s|%x|%s", epochSignLabel, e.Epoch, e.Device, e.Box, e.Admin)
	if e.User != "" {
		b += fmt.Sprintf("|user=%s|made=%d|clinical=%t", e.User, e.Made, e.Clinical)
	}
	return []byte(b)
}

// clinicalWrapKey is the key (derived from the clinical database key) that
// wraps each epoch's clinical sync key, so that a device's own key alone —
// which any of its users can reach — never yields clinical sync keys.
func (s *Session) clinicalWrapKey(epoch uint32) ([]byte, error) {
	return wrapKeyFor(s.kClin, s.kr.VaultID, epoch)
}

func wrapKeyFor(kClin []byte, vaultID string, epoch uint32) ([]byte, error) {
	return hkdf.Key(sha256.New, kClin, []byte(vaultID), epochLabel+"/clinical-wrap/"+strconv.Itoa(int(epoch)), 32)
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

const (
	epochUserLabel   = "clinicvault.org/v1/epoch-keys/user"
	epochDeviceLabel = "clinicvault.org/v1/epoch-keys/user-on-device"
)

// userEpochKeys is what an epoch file sealed to a person holds.
type userEpochKeys struct {
	General  []byte `json:"general"`
	Clinical []byte `json:"clinical,omitempty"`
}

// userEpochName is the file name, within epochs/<n>/, of an epoch's keys
// for user on device.
func userEpochName(user, device string) string { return "u-" + user + "@" + device }

// epochDevice is a current computer of the roster, a recipient of epochs.
type epochDevice struct{ id, pub string }

// currentDevices lists the roster's computers that are not revoked,
// except the one named (the one being revoked).
func currentDevices(ctx context.Context, q querier, except string) ([]epochDevice, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, x25519_pub FROM devices WHERE revoked_at IS NULL AND id != ? ORDER BY id`, except)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []epochDevice
	for rows.Next() {
		var d epochDevice
		if err := rows.Scan(&d.id, &d.pub); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// sealEpochFor seals an epoch's keys to one keyring slot (the clinical key
// only for a clinical role), then to one computer, and signs the file as
// the session's user. Call with s.mu held.
func (s *Session) sealEpochFor(slot *store.Slot, dev epochDevice, epoch uint32, made int64, gen, clin []byte) ([]byte, error) {
	k := userEpochKeys{General: gen}
	if Role(slot.Role).Clinical() {
		k.Clinical = clin
	}
	body, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	defer store.Zero(body)
	inner, err := cvsync.SealTo(slot.PublicKey, epochUserLabel, body)
	if err != nil {
		return nil, err
	}
	devPub, err := hex.DecodeString(dev.pub)
	if err != nil {
		return nil, fmt.Errorf("computer %s has no usable key in the roster", shortID(dev.id))
	}
	box, err := cvsync.SealTo(devPub, epochDeviceLabel, inner)
	if err != nil {
		return nil, err
	}
	ef := epochFile{Epoch: epoch, User: slot.UserID, Device: dev.id, Made: made, Clinical: len(k.Clinical) > 0, Box: box, Admin: s.user.ID}
	ef.Signature = ed25519.Sign(ed25519.NewKeyFromSeed(s.secrets.SigningSeed), epochSigned(ef))
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
	epoch, err := nextEpoch(s.newestHeldEpoch(ctx, tx))
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
			path := fmt.Sprintf("epochs/%d/%s.%s", epoch, userEpochName(slot.UserID, d.id), randomTag())
			if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_outbox (path, data) VALUES (?, ?)`, path, data); err != nil {
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
	rows, err := tx.QueryContext(ctx, `SELECT epoch, key FROM sync_keys ORDER BY epoch`)
	if err != nil {
		return err
	}
	type ek struct {
		epoch uint32
		key   []byte
	}
	var eks []ek
	for rows.Next() {
		var e ek
		if err := rows.Scan(&e.epoch, &e.key); err != nil {
			rows.Close()
			return err
		}
		eks = append(eks, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	devs, err := currentDevices(ctx, tx, "")
	if err != nil {
		return err
	}
	for _, e := range eks {
		var clin []byte
		if s.clinical != nil {
			s.clinical.QueryRowContext(ctx, `SELECT key FROM sync_keys WHERE epoch = ?`, e.epoch).Scan(&clin)
		}
		var made string
		tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, fmt.Sprintf("epoch_made_%d", e.epoch)).Scan(&made)
		m, _ := strconv.ParseInt(made, 10, 64)
		for _, d := range devs {
			data, err := s.sealEpochFor(slot, d, e.epoch, m, e.key, clin)
			if err != nil {
				return err
			}
			// Beside what the folder holds for the person already
			// (written once): a promotion adds a grant with the
			// clinical key.
			path := fmt.Sprintf("epochs/%d/%s.%s", e.epoch, userEpochName(slot.UserID, d.id), randomTag())
			if _, err := tx.ExecContext(ctx, `INSERT INTO epoch_outbox (path, data) VALUES (?, ?) ON CONFLICT(path) DO UPDATE SET data = excluded.data`, path, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushEpochOutbox writes the epoch files waiting in the outbox to the
// folder. A file already in place is left as it is (written once).
func (s *Session) flushEpochOutbox(ctx context.Context, f cvsync.Folder) error {
	rows, err := s.general.QueryContext(ctx, `SELECT path, data FROM epoch_outbox ORDER BY path`)
	if err != nil {
		return err
	}
	type file struct {
		path string
		data []byte
	}
	var files []file
	for rows.Next() {
		var fl file
		if err := rows.Scan(&fl.path, &fl.data); err != nil {
			rows.Close()
			return err
		}
		files = append(files, fl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, fl := range files {
		err := f.WriteOnce(fl.path, fl.data)
		if errors.Is(err, cvsync.ErrExists) {
			// Names carry a random tag: a file already there under one
			// was put there by someone else.
			if there, rerr := f.Read(fl.path); rerr != nil || string(there) != string(fl.data) {
				err = f.Replace(fl.path, fl.data)
			} else {
				err = nil
			}
		}
		if err != nil {
			return err
		}
		if _, err := s.general.ExecContext(ctx, `DELETE FROM epoch_outbox WHERE path = ?`, fl.path); err != nil {
			return err
		}
	}
	return nil
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
func (s *Session) rotateIfDepartedIncluded(ctx context.Context, f cvsync.Folder) error {
	if s.user.Role != Admin || s.clinical == nil {
		return nil
	}
	cur := s.currentEpoch(ctx)
	if cur == 0 {
		return nil
	}
	type person struct {
		role    Role
		removed bool
	}
	people := map[string]person{}
	rows, err := s.general.QueryContext(ctx, `SELECT id, role, removed_at IS NOT NULL FROM users`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var p person
		if err := rows.Scan(&id, &p.role, &p.removed); err != nil {
			rows.Close()
			return err
		}
		people[id] = p
	}
	rows.Close()
	revoked := map[string]bool{}
	rows, err = s.general.QueryContext(ctx, `SELECT id FROM devices WHERE revoked_at IS NOT NULL`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		revoked[id] = true
	}
	rows.Close()
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
			var ef epochFile
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
	var made string
	s.general.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, fmt.Sprintf("epoch_made_%d", cur)).Scan(&made)
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
			if _, err := s.general.ExecContext(ctx, `INSERT INTO epoch_outbox (path, data) VALUES (?, ?) ON CONFLICT(path) DO NOTHING`,
				fmt.Sprintf("epochs/%d/%s.%s", cur, userEpochName(slot.UserID, d.id), randomTag()), data); err != nil {
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

// signedByAnAdmin checks an epoch file's signature against its maker in
// the roster (whatever their standing now: that is judged elsewhere).
func (s *Session) signedByAnAdmin(ctx context.Context, ef epochFile) bool {
	pub, err := s.signerKey(ctx)(ef.Admin)
	return err == nil && ed25519.Verify(pub, epochSigned(ef), ef.Signature)
}

// heldEpochs lists the epochs (after 0) whose general key this computer
// holds.
func (s *Session) heldEpochs(ctx context.Context) ([]uint32, error) {
	rows, err := s.general.QueryContext(ctx, `SELECT epoch FROM sync_keys WHERE epoch > 0 ORDER BY epoch`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var e uint32
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func hasSyncKey(ctx context.Context, db *store.DB, epoch uint32) bool {
	if db == nil {
		return false
	}
	var n int
	db.QueryRowContext(ctx, `SELECT count(*) FROM sync_keys WHERE epoch = ?`, epoch).Scan(&n)
	return n > 0
}

// installEpochs picks up the key epochs this computer lacks: from files
// sealed to the signed-in person (and, for epochs of earlier versions,
// to this computer), each signed by an admin who was not removed when it
// was made. The clinical keys of epochs installed while no clinician was
// here are picked up at a clinician's pass.
func (s *Session) installEpochs(ctx context.Context, f cvsync.Folder, rep *SyncReport) error {
	if s.clinical != nil {
		// Clinical keys that came wrapped (pairing, device epoch files)
		// while no clinician was here.
		rows, err := s.general.QueryContext(ctx, `SELECT name, value FROM settings WHERE name LIKE 'epoch_clinical_wrapped_%'`)
		if err != nil {
			return err
		}
		type pending struct {
			name  string
			epoch uint32
			box   []byte
		}
		var ps []pending
		for rows.Next() {
			var n, v string
			if err := rows.Scan(&n, &v); err != nil {
				rows.Close()
				return err
			}
			e, err1 := strconv.Atoi(strings.TrimPrefix(n, "epoch_clinical_wrapped_"))
			b, err2 := base64.StdEncoding.DecodeString(v)
			if err1 != nil || err2 != nil || e < 0 {
				continue // not ours to read; kept as it is
			}
			ps = append(ps, pending{n, uint32(e), b})
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
		for _, p := range ps {
			wk, err := s.clinicalWrapKey(p.epoch)
			if err != nil {
				return err
			}
			clin, err := openSym(wk, p.box)
			if err != nil {
				continue // wrapped for a key this computer does not hold yet
			}
			// The wrapped copy goes only once the key is stored: a failed
			// save (a full disk) keeps it for the next pass.
			if _, err := s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, p.epoch, clin); err != nil {
				return fmt.Errorf("storing the clinical key of epoch %d: %w", p.epoch, err)
			}
			if _, err := s.general.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, p.name); err != nil {
				return err
			}
		}
	}
	epochs, err := f.Epochs()
	if err != nil {
		return err
	}
	looked := 0
	for _, e := range epochs {
		if e>>16 > s.newestHeldEpoch(ctx, s.general)>>16+maxEpochJump {
			break // planted far ahead; installed in order, honest ones never are
		}
		haveGen := hasSyncKey(ctx, s.general, e)
		haveClin := s.clinical == nil || hasSyncKey(ctx, s.clinical, e)
		if haveGen && haveClin {
			continue
		}
		if looked++; looked > 256 {
			rep.note(ProblemEpochFile, "the sync folder holds hundreds of key-epoch folders that open with nothing here: someone is filling it; the rest are looked at in later passes")
			break
		}
		ok, err := s.installUserEpoch(ctx, f, e, rep)
		if err != nil {
			return err
		}
		if !ok && !haveGen {
			if _, err = s.installDeviceEpoch(ctx, f, e, rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextEpoch numbers a new epoch after current: the high 16 bits count
// epochs, the low 16 are random, so that two admins who each start an
// epoch while their computers are apart (a laptop offline) make two
// epochs with different numbers, both installed everywhere, instead of
// two different keys under one number. The newest is the greatest.
func nextEpoch(current uint32) (uint32, error) {
	if current>>16 >= 0xffff {
		return 0, errors.New("this vault has used up its key epochs (65,535 departures): make a new vault and import its records")
	}
	var r [2]byte
	if _, err := rand.Read(r[:]); err != nil {
		return 0, err
	}
	return (current>>16+1)<<16 | uint32(r[0])<<8 | uint32(r[1]), nil
}

// verifyEpochFile checks an epoch file's admin signature against the
// roster. A file signed by an admin who has since been removed is taken
// only for an epoch of an earlier count than this computer's current
// one: it can open batches of that time but never become the key new
// batches are sealed under (a removed admin publishing keys of his own
// choosing, dated whenever he likes). Times in the files are not trusted
// for this: computers apart make epochs in any order.
func (s *Session) verifyEpochFile(ctx context.Context, ef epochFile) bool {
	var role string
	var removed sql.NullInt64
	s.general.QueryRowContext(ctx, `SELECT role, removed_at FROM users WHERE id = ?`, ef.Admin).Scan(&role, &removed)
	pub, err := s.signerKey(ctx)(ef.Admin)
	if err != nil || role != string(Admin) || !ed25519.Verify(pub, epochSigned(ef), ef.Signature) {
		return false
	}
	if ef.User != "" && ef.Device != s.device {
		return false
	}
	if removed.Valid && ef.Epoch>>16 >= s.currentEpoch(ctx)>>16 {
		return false
	}
	// Honest counts go up one at a time; a file far ahead is planted.
	return ef.Epoch>>16 <= s.newestHeldEpoch(ctx, s.general)>>16+maxEpochJump
}

// installUserEpoch installs epoch e from the file sealed to the signed-in
// person, if there is one; it reports whether it installed anything.
func (s *Session) installUserEpoch(ctx context.Context, f cvsync.Folder, e uint32, rep *SyncReport) (bool, error) {
	// The newest grant to this person for the epoch (a promotion adds
	// one with the clinical key).
	names, _ := f.List(fmt.Sprintf("epochs/%d", e))
	prefix := userEpochName(s.user.ID, s.device)
	var best []byte
	for _, n := range names {
		if n != prefix && !strings.HasPrefix(n, prefix+".") {
			continue
		}
		data, err := f.Read(fmt.Sprintf("epochs/%d/%s", e, n))
		if err != nil {
			continue
		}
		var ef epochFile
		if err := json.Unmarshal(data, &ef); err != nil || ef.Epoch != e || ef.User != s.user.ID || ef.Device != s.device || !s.verifyEpochFile(ctx, ef) {
			rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(e), Detail: fmt.Sprintf("key epoch %d: a file for %s that is not signed by an admin of the practice; ignored", e, s.user.Name)})
			continue
		}
		inner, err := cvsync.OpenFrom(s.devKeys.x25519, epochDeviceLabel, ef.Box)
		if err != nil {
			continue
		}
		body, err := cvsync.OpenFrom(s.secrets.Identity, epochUserLabel, inner)
		if err != nil {
			continue
		}
		var k userEpochKeys
		if json.Unmarshal(body, &k) != nil {
			continue
		}
		if best == nil || len(k.Clinical) > 0 {
			best = body
		}
		if !hasSyncKey(ctx, s.general, e) {
			if _, err := s.general.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key, made_by) VALUES (?, ?, ?) ON CONFLICT(epoch) DO NOTHING`, e, k.General, ef.Admin); err != nil {
				return false, err
			}
			setSettingDB(ctx, s.general, fmt.Sprintf("epoch_made_%d", e), strconv.FormatInt(ef.Made, 10))
		}
		if s.clinical != nil && len(k.Clinical) == 32 {
			if _, err := s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, e, k.Clinical); err != nil {
				return false, err
			}
		}
	}
	return best != nil, nil
}

// installDeviceEpoch installs epoch e from a file sealed to this computer
// by an earlier version, if there is one.
func (s *Session) installDeviceEpoch(ctx context.Context, f cvsync.Folder, epoch uint32, rep *SyncReport) (bool, error) {
	data, err := f.Read(fmt.Sprintf("epochs/%d/%s", epoch, s.device))
	if err != nil {
		return false, nil
	}
	var ef epochFile
	if err := json.Unmarshal(data, &ef); err != nil || ef.Epoch != epoch || ef.Device != s.device {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: unreadable file", epoch)})
		return false, nil
	}
	if !s.verifyEpochFile(ctx, ef) {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: not signed by an admin this computer knows; waiting", epoch)})
		return false, nil
	}
	body, err := cvsync.OpenFrom(s.devKeys.x25519, epochLabel, ef.Box)
	if err != nil {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: does not open with this computer's key", epoch)})
		return false, nil
	}
	var ek epochKeys
	if err := json.Unmarshal(body, &ek); err != nil {
		return false, nil
	}
	if _, err := s.general.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key, made_by) VALUES (?, ?, ?) ON CONFLICT(epoch) DO NOTHING`, epoch, ek.General, ef.Admin); err != nil {
		return false, err
	}
	if s.clinical != nil {
		wk, err := s.clinicalWrapKey(epoch)
		if err != nil {
			return false, err
		}
		clin, err := openSym(wk, ek.ClinicalWrapped)
		if err != nil {
			rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: clinical key does not open", epoch)})
			return true, nil
		}
		s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, epoch, clin)
	} else {
		// Keep the wrapped clinical key until a clinician signs in.
		setSettingDB(ctx, s.general, fmt.Sprintf("epoch_clinical_wrapped_%d", epoch), base64.StdEncoding.EncodeToString(ek.ClinicalWrapped))
	}
	return true, nil
}

func setSettingDB(ctx context.Context, db *store.DB, name, value string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

// sealSym encrypts with XChaCha20-Poly1305 and a random nonce.
func sealSym(key, plaintext []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(nonce, nonce, plaintext, nil)
}

func openSym(key, box []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(box) < aead.NonceSize() {
		return nil, cvsync.ErrDecrypt
	}
	return aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], nil)
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
	rows, err := q.QueryContext(ctx, `SELECT id FROM users WHERE removed_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	removed := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		removed[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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
