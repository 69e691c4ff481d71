package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// The sync pass: send this computer's new changes, install key epochs,
// then receive and apply the other computers' batches.

const (
	batchRecords = 5000
	batchBytes   = 16 << 20 // of values, before compression: well below the 64 MB a batch may be sealed
)

// SyncReport is what one sync pass did.
type SyncReport struct {
	Sent     int           // batches written
	Applied  int           // batches applied
	Sealed   int           // clinical batches kept sealed for a clinician
	Refused  int           // batches refused (first seen in this pass)
	Halted   int           // logs of other computers halted at a refused batch
	Problems []SyncProblem // which device, what is wrong
	// Quiet counts batches sent or applied that carried bookkeeping only
	// (audit heads, spent codes): not counted above, and a pass of only
	// those is idle (not audited, or two computers would answer each
	// other's audit entries for ever).
	Quiet int
	// Resent counts this computer's batches the place had lost (a relay
	// whose disk was wiped): all of its log went out to it again.
	Resent int
}

// quiet reports whether recs are bookkeeping only.
func quiet(recs []cvsync.Record) bool {
	for _, r := range recs {
		if r.Table == "audit_heads" {
			continue
		}
		if r.Table == "users" && len(r.Columns) == 1 && r.Columns["last_totp_step"] != nil {
			continue
		}
		return false
	}
	return len(recs) > 0
}

// Sync runs one pass over the shared folder: push this machine's new
// changes, install new key epochs, then pull and apply everyone else's.
func (s *Session) Sync(ctx context.Context, dir string) (SyncReport, error) {
	return s.SyncAt(ctx, FolderPlace(dir))
}

// SyncAt runs one pass through a place: a shared folder or a relay.
func (s *Session) SyncAt(ctx context.Context, p Place) (SyncReport, error) {
	if err := s.require(); err != nil {
		return SyncReport{}, err
	}
	f, err := s.transport(ctx, p)
	if err != nil {
		return SyncReport{}, err
	}
	return s.syncThrough(ctx, f, p)
}

// transport opens a place: the folder as it is, a relay through the
// session's connection to it.
func (s *Session) transport(ctx context.Context, p Place) (cvsync.Transport, error) {
	if p.IsRelay() {
		return s.relayFor(ctx, p.Relay)
	}
	if p.Folder == "" {
		return nil, invalid("no sync folder or relay given")
	}
	f := cvsync.Folder{Dir: p.Folder, Notes: &cvsync.FolderNotes{}}
	if err := f.Check(); err != nil {
		return nil, err
	}
	return f, nil
}

func (s *Session) syncThrough(ctx context.Context, f cvsync.Transport, p Place) (SyncReport, error) {
	var rep SyncReport
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
	// Pairing files past their code's expiry are of no use to anyone.
	if folder, ok := f.(cvsync.Folder); ok {
		folder.SweepPairing(s.v.now().Add(-2 * cvsync.PairingExpiry))
	}
	place, err := loadPlace(ctx, s.general, p.key())
	if err != nil {
		return rep, err
	}
	s.pass = &place
	defer func() { s.pass = nil }()
	if rep.Resent, err = s.checkRefill(ctx, f, &place); err != nil {
		return rep, err
	}
	if err := s.flushEpochOutbox(ctx, f); err != nil {
		return rep, err
	}
	if err := s.installEpochs(ctx, f, &rep); err != nil {
		return rep, err
	}
	// Receive first: a removal or a new roster arrives before this
	// computer seals anything, so it never seals under an epoch made by
	// someone who has just been removed.
	if err := s.pull(ctx, f, incoming, &rep); err != nil {
		return rep, err
	}
	if rep.Applied > 0 {
		if err := s.noteResets(ctx); err != nil {
			return rep, err
		}
	}
	// Keys changed by two admins apart are replaced by one, and grants
	// of a replaced key renewed, before sending: the change goes out in
	// this pass, so that the other admin finds it at theirs instead of
	// replacing the same keys too.
	if err := s.resolveKeyForks(ctx); err != nil {
		return rep, err
	}
	for _, l := range []keyLine{generalLine, clinicalLine} {
		if err := s.regrantStale(ctx, l); err != nil {
			return rep, err
		}
	}
	if err := s.push(ctx, f, &rep); err != nil {
		return rep, err
	}
	if err := s.rotateIfDepartedIncluded(ctx, f); err != nil {
		return rep, err
	}
	s.auditPass(ctx, f, &place, &rep)
	noteFolder(f, &rep)
	if r, ok := f.(*cvsync.Relay); ok {
		s.keepRelayAccess(ctx, r, p.Relay, &rep)
	}
	if err := s.general.QueryRowContext(ctx, `SELECT count(*) FROM sync_halts`).Scan(&rep.Halted); err != nil {
		return rep, err
	}
	if rep.Sent+rep.Applied+rep.Sealed+rep.Refused == 0 {
		return rep, nil // an idle pass (the watcher runs one a second) is not audited
	}
	now := s.v.now()
	return rep, inTx(ctx, s.general, func(tx *sql.Tx) error {
		return audit(ctx, tx, now, s.actor(), "sync", p.String(), fmt.Sprintf("sent %d, applied %d, sealed %d, refused %d", rep.Sent, rep.Applied, rep.Sealed, rep.Refused))
	})
}

// stillHalted reports whether device's log is halted at seq by the very
// file that is there now: judging it again would change nothing, so the
// watcher does not run a pass for it (a new file in that place does).
func stillHalted(ctx context.Context, gen *store.DB, f cvsync.Transport, device string, seq uint64) bool {
	var hash []byte
	if err := gen.QueryRowContext(ctx, `SELECT hash FROM sync_halts WHERE device = ? AND seq = ?`, device, seq).Scan(&hash); err != nil {
		return false
	}
	env, err := f.Get(device, seq)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(env)
	return string(sum[:]) == string(hash)
}

// push writes this device's changes since the last batch, in batches of
// up to 5000 records, each class under its own key.
func (s *Session) push(ctx context.Context, f cvsync.Transport, rep *SyncReport) error {
	revoked, _ := s.deviceRevoked(ctx, s.device)
	if revoked {
		rep.note(ProblemRevokedHere, "this computer was revoked from the practice: its changes are no longer sent")
		return nil
	}
	if err := s.flushLog(ctx, f, s.pass, rep); err != nil {
		return err
	}
	if err := s.recordSpentStep(ctx); err != nil {
		return err
	}
	if err := s.recordAuditHead(ctx); err != nil {
		return err
	}
	signer := ed25519.NewKeyFromSeed(s.secrets.SigningSeed)
	devKey := ed25519.NewKeyFromSeed(s.devKeys.ed25519)
	epoch, err := s.epochNow(ctx)
	if err != nil {
		return err
	}
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
			if class == cvsync.Clinical {
				// Its key comes sealed to a clinician of the practice;
				// until then clinical changes wait here.
				rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemNotSent, Epoch: epoch,
					Detail: fmt.Sprintf("clinical changes wait: the clinical key of epoch %d has not reached %s yet", epoch, s.user.Name)})
				continue
			}
			return fmt.Errorf("no %s sync key for epoch %d", class, epoch)
		}
		for {
			lastChange, err := sentUpTo(ctx, s.general, class)
			if err != nil {
				return err
			}
			type change struct {
				seq int64
				rec cvsync.Record
			}
			changes, err := queryAll(ctx, db, func(rw row) (c change, err error) {
				var col string
				var v sql.NullString
				if err = rw.Scan(&c.seq, &c.rec.HLC, &c.rec.Table, &c.rec.RowID, &col, &v, &c.rec.Device, &c.rec.Author); err != nil {
					return c, err
				}
				c.rec.Columns, err = decodeColumns(col, v)
				return c, err
			}, `SELECT seq, hlc, tbl, row_id, col, value, device, author FROM changes
				WHERE seq > ? AND device = ? ORDER BY seq LIMIT ?`, lastChange, s.device, batchRecords)
			if err != nil {
				return err
			}
			recs := make([]cvsync.Record, len(changes))
			seqs := make([]int64, len(changes))
			for i, c := range changes {
				recs[i], seqs[i] = c.rec, c.seq
			}
			// A person signs only their own changes, and only those
			// their role allows (the others refuse anything else, and
			// halt this log): changes someone else made here wait until
			// they sign in here again. (While signed in, the window
			// sends every change within a second or two.)
			n := 0
			var refused judgment
			size := 0
			for n < len(recs) {
				// A batch holds at most batchBytes of values (and always
				// one record): a receiver refuses an envelope over 64 MB.
				for _, v := range recs[n].Columns {
					if v != nil {
						size += len(*v)
					}
				}
				if n > 0 && size > batchBytes {
					break
				}
				if recs[n].Author != s.user.ID {
					refused = judged(hold, ProblemRole, "made by another member of staff")
					break
				}
				if refused = mayWrite(s.user.Role, s.user.ID, class, recs[n]); refused.verdict != apply {
					break
				}
				n++
			}
			if n == 0 {
				switch {
				case len(recs) == 0:
				case recs[0].Author != s.user.ID:
					rep.note(ProblemNotSent, "changes made on this computer by someone else are not sent while %s is signed in: they go out when that person signs in here", s.user.Name)
				default:
					rep.note(ProblemNotSent, "a change made here by %s is not sent: %s", s.user.Name, refused.detail)
				}
				break
			}
			recs = recs[:n]
			maxSeq := seqs[n-1]
			// The batch chains on from the last one sent: unread, nothing
			// is sealed (a batch at a wrong place would halt this log
			// everywhere).
			var seq int64
			var prev []byte
			if err := s.general.QueryRowContext(ctx, `SELECT seq, hash FROM sync_sent ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			h := cvsync.Header{VaultID: s.kr.VaultID, Epoch: epoch, Class: class, Device: s.device, Seq: uint64(seq + 1), Signer: s.user.ID}
			copy(h.PrevHash[:], prev)
			env, hash, err := cvsync.Seal(h, recs, key, signer, devKey)
			if err != nil {
				return err
			}
			// Recorded, with its bytes, before it is written: a kill in
			// between leaves a batch to write, never one to guess at.
			if err := inTx(ctx, s.general, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO sync_sent (seq, class, hash, last_change, records, at) VALUES (?, ?, ?, ?, ?, ?)`,
					h.Seq, class.String(), hash[:], maxSeq, len(recs), s.v.now().Unix()); err != nil {
					return err
				}
				// A batch at this number that the database forgot (a kill,
				// a restore) is replaced, and every place gets this one.
				if _, err := tx.ExecContext(ctx, `INSERT INTO sync_log (seq, env) VALUES (?, ?)
					ON CONFLICT(seq) DO UPDATE SET env = excluded.env`, h.Seq, env); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE sync_places SET batches = ? WHERE batches >= ?`, h.Seq-1, h.Seq)
				return err
			}); err != nil {
				return err
			}
			if s.pass.batches >= int64(h.Seq) {
				s.pass.batches = int64(h.Seq) - 1
			}
			if err := s.flushLog(ctx, f, s.pass, rep); err != nil {
				return err
			}
			if quiet(recs) {
				rep.Quiet++
			} else {
				rep.Sent++
			}
		}
	}
	return nil
}

// putOwn writes this computer's batch at its place. A file already there
// that is not this very batch was not written by this computer's
// ClinicVault (every batch is recorded, with its bytes, before it is
// written, so one interrupted by a kill is written again from that
// record): it is replaced by the genuine batch, and reported.
func (s *Session) putOwn(f cvsync.Transport, seq uint64, env []byte, rep *SyncReport) error {
	err := f.Put(s.device, seq, env)
	if !errors.Is(err, cvsync.ErrExists) {
		return err
	}
	there, gerr := f.Get(s.device, seq)
	if gerr != nil {
		// Not read (held open by another program, say): it is compared
		// at the next pass, never replaced unseen.
		return fmt.Errorf("batch %d of this computer's log is in the sync folder but could not be read: %w", seq, gerr)
	}
	if string(there) == string(env) {
		return nil
	}
	if err := f.ReplaceBatch(s.device, seq, env); err != nil {
		return err
	}
	rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemForgedOwn, Seq: seq,
		Detail: fmt.Sprintf("batch %d of this computer's log in the sync folder was not written by this computer's ClinicVault (a foreign, forged or damaged file): replaced by the genuine batch", seq)})
	return nil
}

// pull applies what fetchIncoming read of the other devices' logs (and,
// for a clinician, the clinical batches kept sealed until now).
func (s *Session) pull(ctx context.Context, f cvsync.Transport, incoming []incomingLog, rep *SyncReport) error {
	// First, clinical batches kept sealed (checked as far as they could
	// be without the clinical key). The file judged now must be the one
	// checked then: a file changed since is judged again from its place
	// when nothing was taken after it (the sealed one was a forgery that
	// its device has replaced), and waited for otherwise.
	type key struct {
		d    string
		q    uint64
		hash []byte
		last bool
	}
	sealed, err := queryAll(ctx, s.general, func(r row) (k key, err error) {
		err = r.Scan(&k.d, &k.q, &k.hash, &k.last)
		return k, err
	}, `SELECT device, seq, hash, seq = (SELECT max(seq) FROM sync_received r WHERE r.device = sync_received.device)
		FROM sync_received WHERE state = 'sealed' ORDER BY device, seq`)
	if err != nil {
		return err
	}
	rejudge := map[string]bool{}
	for _, k := range sealed {
		env, err := f.Get(k.d, k.q)
		if err != nil {
			continue
		}
		if sum := sha256.Sum256(env); string(sum[:]) != string(k.hash) {
			if k.last {
				s.general.ExecContext(ctx, `DELETE FROM sync_received WHERE device = ? AND seq = ?`, k.d, k.q)
				rejudge[k.d] = true
			} else {
				s.problem(ctx, rep, SyncProblem{Device: k.d, Kind: ProblemMisplaced, Seq: k.q,
					Detail: fmt.Sprintf("batch %d, kept sealed here, has changed in the folder since it was checked: waiting for the file that was checked", k.q)})
			}
			continue
		}
		if s.clinical != nil {
			s.takeBatch(ctx, k.d, k.q, env, rep, true)
		}
	}
	for _, in := range incoming {
		if rejudge[in.device] {
			continue // read again from the sealed place at the next pass
		}
		last, err := receivedUpTo(ctx, s.general, in.device)
		if err != nil {
			return err
		}
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
		if !stopped && !in.problem.IsZero() {
			s.problem(ctx, rep, in.problem) // where the readable run ended
		}
	}
	return nil
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

const settingSyncFolder = "sync_folder"

// recordSpentStep makes the last authenticator step the signed-in person
// used here a change of their own, sent in this pass: a code spent at one
// computer is refused at the others once they have synced. It is recorded
// when sending rather than at sign-in, so that a sign-in never leaves a
// change of someone who is gone again ahead of everyone else's.
func (s *Session) recordSpentStep(ctx context.Context) error {
	var step int64
	if err := s.general.QueryRowContext(ctx, `SELECT last_totp_step FROM users WHERE id = ?`, s.user.ID).Scan(&step); err != nil || step == 0 {
		return nil
	}
	sent, err := scalarOr(ctx, s.general, sql.NullString{}, `SELECT value FROM changes WHERE tbl = 'users' AND row_id = ? AND col = 'last_totp_step' ORDER BY seq DESC LIMIT 1`, s.user.ID)
	if err != nil {
		return err
	}
	if sent.Valid && sent.String == strconv.FormatInt(step, 10) {
		return nil
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		return s.recordChanges(ctx, tx, "users", s.user.ID, map[string]any{"last_totp_step": step})
	})
}

// recordAuditHead makes this computer's audit head (its newest entry's
// number and hash) a change of the signed-in person's, sent in this pass
// when it moved: the others hold this computer to it (entries it says it
// has must reach them, and its log may not shrink below it).
func (s *Session) recordAuditHead(ctx context.Context) error {
	var seq int64
	var hash []byte
	switch err := s.general.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	var col string
	var val sql.NullString
	switch err := s.general.QueryRowContext(ctx, `SELECT col, value FROM changes WHERE tbl = 'audit_heads' AND row_id = ? ORDER BY seq DESC LIMIT 1`, s.device).Scan(&col, &val); {
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	case err == nil:
		if last, err := decodeColumns(col, val); err == nil && last["seq"] != nil && *last["seq"] == strconv.FormatInt(seq, 10) {
			return nil
		}
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		return s.recordChanges(ctx, tx, "audit_heads", s.device, map[string]any{"seq": seq, "hash": hash})
	})
}
