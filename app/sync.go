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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"golang.org/x/crypto/chacha20poly1305"
)

// replicatedTables are the tables sync carries, with their database.
// Everything else (settings, sync state, device keys, backups log, audit)
// stays on its machine.
var replicatedTables = map[string]store.Kind{
	"patients": store.General, "appointments": store.General, "users": store.General,
	"chart_restrictions": store.General, "emergency_access": store.General,
	"training_completions": store.General, "devices": store.General, "keyring_slots": store.General,
	"encounters": store.Clinical, "addenda": store.Clinical, "problems": store.Clinical, "allergies": store.Clinical,
	"medications": store.Clinical, "vitals": store.Clinical, "documents": store.Clinical,
}

// adminTables may be changed only by admins (a user may change their own
// keyring slot and their own authenticator-reset flag).
var adminTables = map[string]bool{"users": true, "devices": true, "keyring_slots": true}

const (
	batchRecords   = 5000
	syncKeyLabel   = "clinicvault.org/v1/sync-key"
	epochLabel     = "clinicvault.org/v1/epoch-keys"
	epochSignLabel = "clinicvault.org/v1/epoch-file"
)

// SyncReport is what one sync pass did.
type SyncReport struct {
	Sent     int      // batches written
	Applied  int      // batches applied
	Sealed   int      // clinical batches kept sealed for a clinician
	Refused  int      // batches refused
	Problems []string // one line each: which device, what is wrong
}

// column describes a replicated table's column for apply.
type column struct {
	notNull, hasDefault bool
	typ                 string
}

func tableColumns(ctx context.Context, db *store.DB, table string) (map[string]column, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]column{}
	for rows.Next() {
		var name, typ string
		var notNull bool
		var dflt sql.NullString
		if err := rows.Scan(&name, &typ, &notNull, &dflt); err != nil {
			return nil, err
		}
		out[name] = column{notNull, dflt.Valid, strings.ToUpper(typ)}
	}
	return out, rows.Err()
}

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
		return hkdf.Key(sha256.New, dbKey, []byte(s.kr.VaultID), syncKeyLabel+"/"+class.String()+"/0", 32)
	}
	var key []byte
	err := db.QueryRowContext(ctx, `SELECT key FROM sync_keys WHERE epoch = ?`, epoch).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return key, err
}

// currentEpoch is the newest epoch this machine holds keys for.
func (s *Session) currentEpoch(ctx context.Context) uint32 {
	var e sql.NullInt64
	s.general.QueryRowContext(ctx, `SELECT max(epoch) FROM sync_keys`).Scan(&e)
	return uint32(e.Int64)
}

// Sync runs one pass over the shared folder: push this machine's new
// changes, install new key epochs, then pull and apply everyone else's.
func (s *Session) Sync(ctx context.Context, dir string) (SyncReport, error) {
	var rep SyncReport
	if err := s.require(); err != nil {
		return rep, err
	}
	f := cvsync.Folder{Dir: dir}
	if err := f.Check(); err != nil {
		return rep, err
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// The other computers' new batches are read before the session is
	// held: on a slow network share the other screens do not wait for it.
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return rep, ErrLocked
	}
	gen, dev := s.general, s.device
	s.mu.Unlock()
	incoming, err := fetchIncoming(ctx, f, gen, dev)
	if err != nil {
		if s.Locked() {
			return rep, ErrLocked // locked while the folder was read
		}
		return rep, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return rep, ErrLocked
	}
	if err := s.installEpochs(ctx, f, &rep); err != nil {
		return rep, err
	}
	if err := s.push(ctx, f, &rep); err != nil {
		return rep, err
	}
	if err := s.pull(ctx, f, incoming, &rep); err != nil {
		return rep, err
	}
	if rep.Sent+rep.Applied+rep.Sealed+rep.Refused == 0 {
		return rep, nil // an idle pass (the watcher runs one a second) is not audited
	}
	now := s.v.now()
	return rep, inTx(ctx, s.general, func(tx *sql.Tx) error {
		return audit(ctx, tx, now, s.actor(), "sync", dir, fmt.Sprintf("sent %d, applied %d, sealed %d, refused %d", rep.Sent, rep.Applied, rep.Sealed, rep.Refused))
	})
}

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
	var epoch sql.NullInt64
	if err := gen.QueryRowContext(ctx, `SELECT max(epoch) FROM sync_keys`).Scan(&epoch); err != nil {
		return true
	}
	f := cvsync.Folder{Dir: dir}
	if _, err := f.Read(fmt.Sprintf("epochs/%d/%s", epoch.Int64+1, dev)); err == nil {
		return true
	}
	devices, err := f.Devices()
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
		if seqs, err := f.Seqs(d, last); err != nil || len(seqs) > 0 {
			return true
		}
	}
	return false
}

// push writes this device's changes since the last batch, in batches of
// up to 5000 records, each class under its own key.
func (s *Session) push(ctx context.Context, f cvsync.Folder, rep *SyncReport) error {
	revoked, _ := s.deviceRevoked(ctx, s.device)
	if revoked {
		rep.Problems = append(rep.Problems, "this computer was revoked from the practice: its changes are no longer sent")
		return nil
	}
	signer := ed25519.NewKeyFromSeed(s.secrets.SigningSeed)
	epoch := s.currentEpoch(ctx)
	for _, class := range []cvsync.Class{cvsync.General, cvsync.Clinical} {
		db := s.general
		if class == cvsync.Clinical {
			if s.clinical == nil {
				continue
			}
			db = s.clinical
		}
		key, err := s.syncKey(ctx, class, epoch)
		if err != nil || key == nil {
			return fmt.Errorf("no %s sync key for epoch %d", class, epoch)
		}
		for {
			lastChange, err := sentUpTo(ctx, s.general, class)
			if err != nil {
				return err
			}
			rows, err := db.QueryContext(ctx, `SELECT seq, hlc, tbl, row_id, col, value, device, author FROM changes
				WHERE seq > ? AND device = ? ORDER BY seq LIMIT ?`, lastChange, s.device, batchRecords)
			if err != nil {
				return err
			}
			var recs []cvsync.Record
			var maxSeq int64
			for rows.Next() {
				var r cvsync.Record
				var col string
				var v sql.NullString
				if err := rows.Scan(&maxSeq, &r.HLC, &r.Table, &r.RowID, &col, &v, &r.Device, &r.Author); err != nil {
					rows.Close()
					return err
				}
				if r.Columns, err = decodeColumns(col, v); err != nil {
					rows.Close()
					return err
				}
				recs = append(recs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			var seq int64
			var prev []byte
			s.general.QueryRowContext(ctx, `SELECT seq, hash FROM sync_sent ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
			h := cvsync.Header{VaultID: s.kr.VaultID, Epoch: epoch, Class: class, Device: s.device, Seq: uint64(seq + 1), Signer: s.user.ID}
			copy(h.PrevHash[:], prev)
			env, hash, err := cvsync.Seal(h, recs, key, signer)
			if err != nil {
				return err
			}
			if err := f.Put(s.device, h.Seq, env); err != nil {
				return err
			}
			if _, err := s.general.ExecContext(ctx, `INSERT INTO sync_sent (seq, class, hash, last_change, records, at) VALUES (?, ?, ?, ?, ?, ?)`,
				h.Seq, class.String(), hash[:], maxSeq, len(recs), s.v.now().Unix()); err != nil {
				return err
			}
			rep.Sent++
		}
	}
	return nil
}

func (s *Session) deviceRevoked(ctx context.Context, id string) (bool, error) {
	var at sql.NullInt64
	err := s.general.QueryRowContext(ctx, `SELECT revoked_at FROM devices WHERE id = ?`, id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return at.Valid, err
}

// signerKey looks up a user's sync signing key in the replicated roster.
func (s *Session) signerKey(ctx context.Context) func(string) (ed25519.PublicKey, error) {
	return func(id string) (ed25519.PublicKey, error) {
		var pub string
		err := s.general.QueryRowContext(ctx, `SELECT sign_pub FROM users WHERE id = ?`, id).Scan(&pub)
		if err != nil || pub == "" {
			return nil, errUnknownSigner
		}
		b, err := hex.DecodeString(pub)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, errUnknownSigner
		}
		return ed25519.PublicKey(b), nil
	}
}

var errUnknownSigner = errors.New("signed by a user this computer does not know yet")

// received is the last batch taken from a device's log.
func (s *Session) lastReceived(ctx context.Context, device string) (uint64, []byte) {
	var seq int64
	var hash []byte
	s.general.QueryRowContext(ctx, `SELECT seq, hash FROM sync_received WHERE device = ? ORDER BY seq DESC LIMIT 1`, device).Scan(&seq, &hash)
	return uint64(seq), hash
}

func (s *Session) problem(ctx context.Context, rep *SyncReport, device, msg string) {
	rep.Problems = append(rep.Problems, fmt.Sprintf("device %s: %s", shortID(device), msg))
	s.general.ExecContext(ctx, `INSERT INTO sync_peers (device, problem) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET problem = excluded.problem`, device, msg)
}

// shortID names a device briefly: the last 8 characters of its UUIDv7,
// which are random (the first ones are a time stamp, alike for devices
// made the same day).
func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

func (s *Session) markReceived(ctx context.Context, h cvsync.Header, hash [32]byte, state, reason string) error {
	_, err := s.general.ExecContext(ctx, `INSERT INTO sync_received (device, seq, class, hash, state, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(device, seq) DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at`,
		h.Device, h.Seq, h.Class.String(), hash[:], state, reason, s.v.now().Unix())
	return err
}

// incomingLog is what the folder holds of one other device's log past
// what this computer received: its next batches, in order, up to the
// first one missing or unreadable (named in problem).
type incomingLog struct {
	device  string
	batches []incomingBatch
	problem string
}

// maxFetch bounds what one pass reads of a device's log (the watcher
// comes back for the rest at once: SyncNeeded sees it).
const maxFetch = 64 << 20

type incomingBatch struct {
	seq uint64
	env []byte
}

// fetchIncoming reads the other devices' new batches from the folder. It
// uses the database only to know where each log was left; it does not
// need the session held.
func fetchIncoming(ctx context.Context, f cvsync.Folder, gen *store.DB, self string) ([]incomingLog, error) {
	devices, err := f.Devices()
	if err != nil {
		return nil, err
	}
	var out []incomingLog
	for _, d := range devices {
		if d == self {
			continue
		}
		in := incomingLog{device: d}
		last, err := receivedUpTo(ctx, gen, d)
		if err != nil {
			return nil, err
		}
		seqs, err := f.Seqs(d, last)
		if err != nil {
			in.problem = err.Error()
			out = append(out, in)
			continue
		}
		next := last + 1
		size := 0
		for _, q := range seqs {
			if size > maxFetch {
				break // the rest next pass: a long catch-up is not read into memory at once
			}
			if q != next {
				in.problem = fmt.Sprintf("batch %d is missing from the folder (have up to %d, next is %d): waiting for it", next, next-1, q)
				break
			}
			env, err := f.Get(d, q)
			if err != nil {
				in.problem = err.Error()
				break
			}
			in.batches = append(in.batches, incomingBatch{q, env})
			size += len(env)
			next++
		}
		out = append(out, in)
	}
	return out, nil
}

// pull applies what fetchIncoming read of the other devices' logs (and,
// for a clinician, the clinical batches kept sealed until now).
func (s *Session) pull(ctx context.Context, f cvsync.Folder, incoming []incomingLog, rep *SyncReport) error {
	// First, clinical batches that were kept sealed until a clinician came.
	if s.clinical != nil {
		rows, err := s.general.QueryContext(ctx, `SELECT device, seq FROM sync_received WHERE state = 'sealed' ORDER BY device, seq`)
		if err != nil {
			return err
		}
		type key struct {
			d string
			q uint64
		}
		var sealed []key
		for rows.Next() {
			var k key
			rows.Scan(&k.d, &k.q)
			sealed = append(sealed, k)
		}
		rows.Close()
		for _, k := range sealed {
			env, err := f.Get(k.d, k.q)
			if err != nil {
				continue
			}
			s.takeBatch(ctx, k.d, k.q, env, rep, true)
		}
	}
	for _, in := range incoming {
		last, _ := s.lastReceived(ctx, in.device)
		stopped := false
		for _, b := range in.batches {
			if b.seq <= last {
				continue
			}
			if b.seq != last+1 || !s.takeBatch(ctx, in.device, b.seq, b.env, rep, false) {
				stopped = true
				break
			}
			last = b.seq
		}
		if !stopped && in.problem != "" {
			s.problem(ctx, rep, in.device, in.problem) // where the readable run ended
		}
	}
	return nil
}

// seen records that a device's batch was just taken: "last seen" means
// the device last wrote something, not that its folder exists.
func (s *Session) seen(ctx context.Context, device string) {
	s.general.ExecContext(ctx, `INSERT INTO sync_peers (device, last_seen) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET last_seen = excluded.last_seen`,
		device, s.v.now().Unix())
}

// takeBatch checks and applies one envelope, recording the outcome. It
// returns false when the device's log must stop here for now (held, or
// refused).
func (s *Session) takeBatch(ctx context.Context, device string, seq uint64, env []byte, rep *SyncReport, resealed bool) bool {
	h, err := cvsync.ParseHeader(env)
	hash := sha256.Sum256(env)
	// A refusal is recorded at the file's place in the device's log, so the
	// same file is not judged again; the log stops there.
	refuse := func(reason string) bool {
		rep.Refused++
		pos := cvsync.Header{Device: device, Seq: seq, Class: h.Class}
		s.markReceived(ctx, pos, hash, "refused", reason)
		s.problem(ctx, rep, device, fmt.Sprintf("batch %d refused: %s", seq, reason))
		return false
	}
	if errors.Is(err, cvsync.ErrNewerFormat) {
		// Not refused: the log waits here and goes on once this computer
		// runs a version that reads it.
		s.problem(ctx, rep, device, fmt.Sprintf("batch %d was written by a newer version of ClinicVault: update this computer to receive that computer's changes", seq))
		return false
	}
	if err != nil {
		return refuse("not a batch: " + err.Error())
	}
	if h.Device != device || h.Seq != seq {
		return refuse(fmt.Sprintf("its header says batch %d of device %s (a copied or replayed file)", h.Seq, shortID(h.Device)))
	}
	if h.VaultID != s.kr.VaultID {
		return refuse("it belongs to another practice's vault")
	}
	if !resealed {
		prevSeq, prevHash := s.lastReceived(ctx, h.Device)
		want := make([]byte, 32)
		if prevSeq > 0 {
			want = prevHash
		}
		if h.Seq != prevSeq+1 || string(h.PrevHash[:]) != string(want) {
			return refuse(fmt.Sprintf("it does not follow batch %d of that device (a gap, a replay or a forked log)", prevSeq))
		}
	}
	if revoked, _ := s.deviceRevoked(ctx, h.Device); revoked {
		return refuse("the device was revoked; what it writes is no longer accepted")
	}
	var known int
	s.general.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE id = ?`, h.Device).Scan(&known)
	if known == 0 {
		s.problem(ctx, rep, h.Device, "not in the practice's device roster (yet): its changes wait until an admin's approval arrives")
		return false
	}
	if h.Class == cvsync.Clinical && s.clinical == nil {
		rep.Sealed++
		s.markReceived(ctx, h, hash, "sealed", "clinical: applied at the next clinician sign-in")
		s.seen(ctx, h.Device)
		return true
	}
	key, err := s.syncKey(ctx, h.Class, h.Epoch)
	if err != nil || key == nil {
		s.problem(ctx, rep, h.Device, fmt.Sprintf("batch %d needs the keys of epoch %d, not on this computer yet", h.Seq, h.Epoch))
		return false
	}
	b, err := cvsync.Open(env, key, s.signerKey(ctx))
	if errors.Is(err, errUnknownSigner) {
		s.problem(ctx, rep, h.Device, fmt.Sprintf("batch %d: %v; waiting for the roster", h.Seq, err))
		return false
	}
	if err != nil {
		return refuse(err.Error())
	}
	var role string
	s.general.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, h.Signer).Scan(&role)
	if h.Class == cvsync.Clinical && !Role(role).Clinical() {
		return refuse("clinical changes signed by a " + role + " are not accepted")
	}
	maxWall := uint64(0)
	for _, r := range b.Records {
		ts, _ := cvsync.ParseTimestamp(r.HLC)
		maxWall = max(maxWall, ts.Wall)
		kind, ok := replicatedTables[r.Table]
		if !ok || (kind == store.Clinical) != (h.Class == cvsync.Clinical) {
			return refuse(fmt.Sprintf("table %q may not travel in a %s batch", r.Table, h.Class))
		}
		if adminTables[r.Table] && role != string(Admin) && !selfService(r, h.Signer) {
			return refuse(fmt.Sprintf("a %s may not change %s", role, r.Table))
		}
	}
	now := s.v.now()
	if ahead := time.Duration(int64(maxWall)-now.UnixMilli()) * time.Millisecond; ahead > cvsync.MaxClockAhead {
		s.problem(ctx, rep, h.Device, fmt.Sprintf("its clock runs %s ahead of this computer's: its changes are held until its date and time are fixed", ahead.Round(time.Second)))
		return false
	}
	slots, err := s.applyBatch(ctx, b)
	if err != nil {
		return refuse("could not apply: " + err.Error())
	}
	for _, r := range b.Records {
		if ts, err := cvsync.ParseTimestamp(r.HLC); err == nil {
			s.clock.Observe(ts)
		}
	}
	if len(slots) > 0 {
		if err := s.applySlots(ctx, slots); err != nil {
			s.problem(ctx, rep, h.Device, "keyring update: "+err.Error())
		}
	}
	rep.Applied++
	s.markReceived(ctx, h, hash, "applied", "")
	s.seen(ctx, h.Device)
	s.general.ExecContext(ctx, `UPDATE sync_peers SET problem = '' WHERE device = ?`, h.Device)
	return true
}

// selfService reports whether a non-admin may make this change: their own
// keyring slot (a new passphrase or authenticator), or clearing their own
// authenticator reset.
func selfService(r cvsync.Record, signer string) bool {
	if r.RowID != signer || len(r.Columns) == 0 {
		return false
	}
	for c, v := range r.Columns {
		switch {
		case r.Table == "keyring_slots" && c == "slot":
		case r.Table == "users" && c == "totp_reset" && v != nil && *v == "0":
		default:
			return false
		}
	}
	return true
}

// applyBatch merges a batch in one transaction: every record joins the
// change log (so a losing value stays in the history), and each of its
// columns that no newer record of the same row has set — by
// hybrid-logical-clock time, ties broken by device id — is written.
// Applying a batch twice changes nothing. It returns the keyring slots the
// batch touched.
func (s *Session) applyBatch(ctx context.Context, b *cvsync.Batch) ([]string, error) {
	db := s.general
	if b.Header.Class == cvsync.Clinical {
		db = s.clinical
	}
	schemas := map[string]map[string]column{}
	// Patients whose search index entry must be rewritten (true: a new
	// row, with no entry yet).
	reindex := map[string]bool{}
	var slots []string
	err := inTx(ctx, db, func(sqltx *sql.Tx) error {
		tx := newCachedTx(sqltx)
		for _, r := range b.Records {
			cols, ok := schemas[r.Table]
			if !ok {
				var err error
				if cols, err = tableColumns(ctx, db, r.Table); err != nil {
					return err
				}
				schemas[r.Table] = cols
			}
			for c := range r.Columns {
				if _, ok := cols[c]; !ok || c == "id" || (r.Table == "patients" && c == "phone_key") {
					return fmt.Errorf("unknown column %s.%s", r.Table, c)
				}
			}
		}
		// Every record joins the log first, many per statement; the ones
		// the log already held (a batch seen before) are left out.
		fresh, err := logRecords(ctx, tx, b.Records)
		if err != nil {
			return err
		}
		newest, err := newestPerColumn(ctx, tx, fresh)
		if err != nil {
			return err
		}
		for _, r := range fresh {
			cols := schemas[r.Table]
			win := make(map[string]*string, len(r.Columns))
			for c, v := range r.Columns {
				if newest[rowKey{r.Table, r.RowID}][c] == r.HLC {
					win[c] = v
				}
			}
			if len(win) == 0 {
				continue // older on every column: kept in the history only
			}
			vals := make(map[string]any, len(win)+1)
			for c, v := range win {
				if v == nil {
					vals[c] = nil
					continue
				}
				vals[c] = *v
				if cols[c].typ == "BLOB" {
					raw, err := base64.StdEncoding.DecodeString(*v)
					if err != nil {
						return fmt.Errorf("%s.%s: not base64", r.Table, c)
					}
					vals[c] = raw
				}
			}
			if r.Table == "patients" {
				if phone, ok := win["phone"]; ok {
					vals["phone_key"] = ""
					if phone != nil {
						vals["phone_key"] = digits(*phone) // local: the duplicate check's key
					}
				}
			}
			created, err := writeRow(ctx, tx, r.Table, r.RowID, cols, vals)
			if err != nil {
				return err
			}
			switch r.Table {
			case "patients":
				if created {
					reindex[r.RowID] = true
				} else if searched(win) && !reindex[r.RowID] {
					reindex[r.RowID] = false
				}
			case "keyring_slots":
				slots = append(slots, r.RowID)
			}
		}
		return reindexPatients(ctx, tx, reindex)
	})
	return slots, err
}

// searched reports whether a change touches what the search index holds.
func searched(cols map[string]*string) bool {
	for c := range cols {
		switch c {
		case "given", "family", "preferred", "mrn", "phone", "phone2", "dob", "archived":
			return true
		}
	}
	return false
}

// reindexPatients rewrites the search index entries of the given patients
// (true: a new row without an entry), in rowid order: FTS4 then keeps its
// pending terms across a delete and re-insert of each docid instead of
// writing a segment per patient.
func reindexPatients(ctx context.Context, tx querier, ids map[string]bool) error {
	type entry struct {
		rowid int64
		p     Patient
		isNew bool
	}
	entries := make([]entry, 0, len(ids))
	for id, isNew := range ids {
		e := entry{isNew: isNew}
		row := tx.QueryRowContext(ctx, `SELECT rowid, `+patientColumns+` FROM patients WHERE id = ?`, id)
		p, err := scanPatient(withLeading{row, &e.rowid})
		if err != nil {
			return err
		}
		e.p = p
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rowid < entries[j].rowid })
	for _, e := range entries {
		if !e.isNew {
			if _, err := tx.ExecContext(ctx, `DELETE FROM patients_fts WHERE docid = ?`, e.rowid); err != nil {
				return err
			}
		}
		if !e.p.Archived {
			if err := insertFTS(ctx, tx, e.rowid, e.p); err != nil {
				return err
			}
		}
	}
	return nil
}

// withLeading scans a row whose first column goes to lead and the rest to
// what the caller's Scan asks for.
type withLeading struct {
	row  *sql.Row
	lead any
}

func (w withLeading) Scan(dest ...any) error {
	return w.row.Scan(append([]any{w.lead}, dest...)...)
}

// logRecords adds a batch's records to the change log, many per
// statement, and returns those it did not hold yet, in batch order.
func logRecords(ctx context.Context, tx querier, recs []cvsync.Record) ([]cvsync.Record, error) {
	const chunk = 400
	fresh := make([]cvsync.Record, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for start := 0; start < len(recs); start += chunk {
		part := recs[start:min(start+chunk, len(recs))]
		args := make([]any, 0, len(part))
		for _, r := range part {
			args = append(args, r.HLC)
		}
		rows, err := tx.QueryContext(ctx, `SELECT hlc FROM changes WHERE hlc IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return nil, err
			}
			seen[h] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ins := make([]any, 0, 7*len(part))
		for _, r := range part {
			if seen[r.HLC] {
				continue // held already, or twice in this batch
			}
			seen[r.HLC] = true
			col, value, err := encodeColumns(r.Columns)
			if err != nil {
				return nil, err
			}
			ins = append(ins, r.HLC, r.Table, r.RowID, col, value, r.Device, r.Author)
			fresh = append(fresh, r)
		}
		if err := insertChanges(ctx, tx, ins); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// rowKey names a replicated row.
type rowKey struct{ table, id string }

// newestPerColumn reads the change log of every row the records touch —
// from the oldest of the records on, since older entries cannot outrank
// any of them — and returns, per row and column, the newest time that set
// it. A record wins the columns whose newest time is its own.
func newestPerColumn(ctx context.Context, tx querier, recs []cvsync.Record) (map[rowKey]map[string]string, error) {
	const chunk = 400
	known := make(map[string]map[string]*string, len(recs))
	byTable := map[string][]string{}
	oldest := map[string]string{} // per table
	out := make(map[rowKey]map[string]string, len(recs))
	for _, r := range recs {
		known[r.HLC] = r.Columns
		k := rowKey{r.Table, r.RowID}
		if out[k] == nil {
			out[k] = map[string]string{}
			byTable[r.Table] = append(byTable[r.Table], r.RowID)
		}
		if o, ok := oldest[r.Table]; !ok || r.HLC < o {
			oldest[r.Table] = r.HLC
		}
	}
	for table, ids := range byTable {
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			args := make([]any, 0, len(part)+2)
			args = append(args, table, oldest[table])
			for _, id := range part {
				args = append(args, id)
			}
			rows, err := tx.QueryContext(ctx, `SELECT row_id, hlc, col, value FROM changes WHERE tbl = ? AND hlc >= ? AND row_id IN (`+placeholders(len(part))+`)`, args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id, hlc, col string
				var v sql.NullString
				if err := rows.Scan(&id, &hlc, &col, &v); err != nil {
					rows.Close()
					return nil, err
				}
				cols, ok := known[hlc]
				if !ok {
					if cols, err = decodeColumns(col, v); err != nil {
						rows.Close()
						return nil, err
					}
				}
				newest := out[rowKey{table, id}]
				for c := range cols {
					if hlc > newest[c] {
						newest[c] = hlc
					}
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// writeRow sets columns of a row, first inserting the row — with defaults
// for its required columns that vals does not set — if it does not exist
// yet (its other columns arrive as records).
func writeRow(ctx context.Context, tx querier, table, id string, cols map[string]column, vals map[string]any) (created bool, err error) {
	names := make([]string, 0, len(vals))
	for c := range vals {
		names = append(names, c)
	}
	sort.Strings(names)
	sets := make([]string, len(names))
	upd := make([]any, 0, len(names)+1)
	for i, c := range names {
		sets[i] = c + " = ?"
		upd = append(upd, vals[c])
	}
	upd = append(upd, id)
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s WHERE id = ?`, table, strings.Join(sets, ", ")), upd...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return false, err
	}
	names = []string{"id"}
	args := []any{id}
	keys := make([]string, 0, len(cols))
	for c := range cols {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	for _, c := range keys {
		col := cols[c]
		if c == "id" {
			continue
		}
		if v, ok := vals[c]; ok {
			names = append(names, c)
			args = append(args, v)
			continue
		}
		if !col.notNull || col.hasDefault {
			continue
		}
		names = append(names, c)
		if d, ok := rowDefaults[table+"."+c]; ok {
			args = append(args, d)
		} else if strings.Contains(col.typ, "INT") || col.typ == "REAL" {
			args = append(args, 0)
		} else {
			args = append(args, "")
		}
	}
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, table, strings.Join(names, ", "), placeholders(len(names))), args...)
	return err == nil, err
}

// rowDefaults fill required columns with a CHECK constraint until their
// record arrives: the least privilege.
var rowDefaults = map[string]any{"users.role": string(Receptionist)}

// applySlots copies replicated keyring slots into vault.keys.
func (s *Session) applySlots(ctx context.Context, ids []string) error {
	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		return err
	}
	for _, id := range ids {
		var js string
		var archived bool
		if err := s.general.QueryRowContext(ctx, `SELECT slot, archived FROM keyring_slots WHERE id = ?`, id).Scan(&js, &archived); err != nil {
			return err
		}
		if archived {
			kr.RemoveSlot(id)
			continue
		}
		var slot store.Slot
		if err := json.Unmarshal([]byte(js), &slot); err != nil || slot.UserID != id {
			return fmt.Errorf("slot %s: not a keyring slot", id)
		}
		if id == recoveryUserID {
			kr.Recovery = &slot
			continue
		}
		if old, err := kr.SlotByID(id); err == nil {
			*old = slot
		} else {
			kr.Slots = append(kr.Slots, &slot)
		}
	}
	if err := store.SaveKeyring(s.v.Dir, kr); err != nil {
		return err
	}
	s.kr = kr
	return nil
}

// Device is one machine in the practice's roster.
type Device struct {
	ID       string
	Name     string
	Added    time.Time
	Revoked  time.Time // zero unless revoked
	LastSeen time.Time // when this machine last read its log
	Problem  string
	This     bool
}

// Devices lists the practice's machines.
func (s *Session) Devices(ctx context.Context) ([]Device, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.general.QueryContext(ctx, `SELECT d.id, d.name, d.added_at, d.revoked_at, coalesce(p.last_seen, 0), coalesce(p.problem, '')
		FROM devices d LEFT JOIN sync_peers p ON p.device = d.id ORDER BY d.added_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var added, seen int64
		var revoked sql.NullInt64
		rows.Scan(&d.ID, &d.Name, &added, &revoked, &seen, &d.Problem)
		d.Added = time.Unix(added, 0)
		if revoked.Valid {
			d.Revoked = time.Unix(revoked.Int64, 0)
		}
		if seen > 0 {
			d.LastSeen = time.Unix(seen, 0)
		}
		d.This = d.ID == s.device
		out = append(out, d)
	}
	return out, rows.Err()
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

// epochFile is a new key epoch sealed to one device, signed by the admin
// who made it.
type epochFile struct {
	Epoch     uint32 `json:"epoch"`
	Device    string `json:"device"`
	Box       []byte `json:"box"` // SealTo(device X25519, {general key, clinical key wrapped under the clinical key})
	Admin     string `json:"admin"`
	Signature []byte `json:"signature"`
}

type epochKeys struct {
	General         []byte `json:"general"`
	ClinicalWrapped []byte `json:"clinical_wrapped"`
}

func epochSigned(e epochFile) []byte {
	return []byte(fmt.Sprintf("%s|%d|%s|%x|%s", epochSignLabel, e.Epoch, e.Device, e.Box, e.Admin))
}

// clinicalWrapKey is the key (derived from the clinical database key) that
// wraps each epoch's clinical sync key, so that a device's own key alone —
// which any of its users can reach — never yields clinical sync keys.
func (s *Session) clinicalWrapKey(epoch uint32) ([]byte, error) {
	return hkdf.Key(sha256.New, s.kClin, []byte(s.kr.VaultID), epochLabel+"/clinical-wrap/"+strconv.Itoa(int(epoch)), 32)
}

// RevokeDevice removes a lost or retired machine (admins): a signed roster
// change, and a new key epoch sealed to every remaining device. What the
// revoked machine already holds cannot be recalled; what any machine writes
// from now on, it cannot read, and what it writes is refused.
func (s *Session) RevokeDevice(ctx context.Context, dir, id string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	f := cvsync.Folder{Dir: dir}
	if err := f.Check(); err != nil {
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
	var exists int
	s.general.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE id = ? AND revoked_at IS NULL`, id).Scan(&exists)
	if exists == 0 {
		return fmt.Errorf("device %s (or it is already revoked): %w", id, ErrNotFound)
	}
	epoch := s.currentEpoch(ctx) + 1
	gen, clin := store.NewKey(), store.NewKey()
	wrapKey, err := s.clinicalWrapKey(epoch)
	if err != nil {
		return err
	}
	wrapped := sealSym(wrapKey, clin)
	body, _ := json.Marshal(epochKeys{General: gen, ClinicalWrapped: wrapped})
	signer := ed25519.NewKeyFromSeed(s.secrets.SigningSeed)
	rows, err := s.general.QueryContext(ctx, `SELECT id, x25519_pub FROM devices WHERE revoked_at IS NULL AND id != ?`, id)
	if err != nil {
		return err
	}
	type dev struct{ id, pub string }
	var devs []dev
	for rows.Next() {
		var d dev
		rows.Scan(&d.id, &d.pub)
		devs = append(devs, d)
	}
	rows.Close()
	for _, d := range devs {
		if d.id == s.device {
			continue
		}
		pub, err := hex.DecodeString(d.pub)
		if err != nil {
			continue
		}
		box, err := cvsync.SealTo(pub, epochLabel, body)
		if err != nil {
			return err
		}
		ef := epochFile{Epoch: epoch, Device: d.id, Box: box, Admin: s.user.ID}
		ef.Signature = ed25519.Sign(signer, epochSigned(ef))
		js, _ := json.Marshal(ef)
		if err := f.WriteOnce(fmt.Sprintf("epochs/%d/%s", epoch, d.id), js); err != nil {
			return err
		}
	}
	now := s.v.now()
	if err := inTx(ctx, s.clinical, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?)`, epoch, clin)
		return err
	}); err != nil {
		return err
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?)`, epoch, gen); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ?, revoked_epoch = ? WHERE id = ?`, now.Unix(), epoch, id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "devices", id, map[string]any{"revoked_at": now.Unix(), "revoked_epoch": epoch}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "device-revoked", id, fmt.Sprintf("new key epoch %d", epoch))
	})
}

// installEpochs picks up key epochs sealed to this machine, checking the
// admin's signature against the roster.
func (s *Session) installEpochs(ctx context.Context, f cvsync.Folder, rep *SyncReport) error {
	if s.clinical != nil {
		// Clinical keys of epochs that arrived while no clinician was here.
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
			rows.Scan(&n, &v)
			e, _ := strconv.Atoi(strings.TrimPrefix(n, "epoch_clinical_wrapped_"))
			b, _ := base64.StdEncoding.DecodeString(v)
			ps = append(ps, pending{n, uint32(e), b})
		}
		rows.Close()
		for _, p := range ps {
			wk, err := s.clinicalWrapKey(p.epoch)
			if err != nil {
				return err
			}
			if clin, err := openSym(wk, p.box); err == nil {
				s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, p.epoch, clin)
				s.general.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, p.name)
			}
		}
	}
	for epoch := s.currentEpoch(ctx) + 1; ; epoch++ {
		data, err := f.Read(fmt.Sprintf("epochs/%d/%s", epoch, s.device))
		if err != nil {
			return nil
		}
		var ef epochFile
		if err := json.Unmarshal(data, &ef); err != nil || ef.Epoch != epoch || ef.Device != s.device {
			rep.Problems = append(rep.Problems, fmt.Sprintf("key epoch %d: unreadable file", epoch))
			return nil
		}
		var role string
		s.general.QueryRowContext(ctx, `SELECT role FROM users WHERE id = ?`, ef.Admin).Scan(&role)
		pub, err := s.signerKey(ctx)(ef.Admin)
		if err != nil || role != string(Admin) || !ed25519.Verify(pub, epochSigned(ef), ef.Signature) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("key epoch %d: not signed by an admin this computer knows; waiting", epoch))
			return nil
		}
		body, err := cvsync.OpenFrom(s.devKeys.x25519, epochLabel, ef.Box)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("key epoch %d: does not open with this computer's key", epoch))
			return nil
		}
		var ek epochKeys
		if err := json.Unmarshal(body, &ek); err != nil {
			return nil
		}
		if _, err := s.general.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, epoch, ek.General); err != nil {
			return err
		}
		if s.clinical != nil {
			wk, err := s.clinicalWrapKey(epoch)
			if err != nil {
				return err
			}
			clin, err := openSym(wk, ek.ClinicalWrapped)
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("key epoch %d: clinical key does not open", epoch))
				return nil
			}
			s.clinical.ExecContext(ctx, `INSERT INTO sync_keys (epoch, key) VALUES (?, ?) ON CONFLICT(epoch) DO NOTHING`, epoch, clin)
		} else {
			// Keep the wrapped clinical key until a clinician signs in.
			s.general.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`,
				fmt.Sprintf("epoch_clinical_wrapped_%d", epoch), base64.StdEncoding.EncodeToString(ek.ClinicalWrapped))
		}
	}
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

const settingSyncFolder = "sync_folder"

// SyncFolder returns the folder this machine last synced through.
func (s *Session) SyncFolder(ctx context.Context) string {
	if s.require() != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settingLocked(ctx, s.general, settingSyncFolder)
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
