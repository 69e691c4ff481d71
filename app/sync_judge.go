package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Judging a batch: whether it may be applied, waits, or halts its log.
// judgeEnvelope and judgeRecords are pure: everything they need is
// gathered beforehand (batchFacts, signerFacts), so they are table-tested
// without a database; takeBatch gathers, judges and acts.

// replicatedTables are the tables sync carries, with their database.
// Everything else (settings, sync state, device keys, backups log, audit)
// stays on its machine.
var replicatedTables = map[string]store.Kind{
	"patients": store.General, "appointments": store.General, "users": store.General,
	"chart_restrictions": store.General, "emergency_access": store.General,
	"training_completions": store.General, "devices": store.General, "keyring_slots": store.General, "clinical_key_chain": store.General, "general_key_chain": store.General, "audit_heads": store.General,
	"encounters": store.Clinical, "addenda": store.Clinical, "problems": store.Clinical, "allergies": store.Clinical,
	"medications": store.Clinical, "vitals": store.Clinical, "documents": store.Clinical,
}

// adminTables may be changed only by admins (a user may change their own
// keyring slot and their own authenticator-reset flag).
var adminTables = map[string]bool{"users": true, "devices": true, "keyring_slots": true, "clinical_key_chain": true, "general_key_chain": true}

// verdict is what receiving does with one batch.
type verdict int

const (
	// apply: nothing against it; apply it and go on with the log.
	apply verdict = iota
	// keepSealed: a clinical batch on a computer where no clinician is
	// signed in, checked as far as it can be without the clinical key
	// (its place in the log, the device's signature) and kept for later.
	keepSealed
	// hold: not now (a newer format, keys or roster not here yet, a clock
	// ahead, a transient error). Nothing is recorded; the log waits here
	// and a later pass judges the file again.
	hold
	// halt: refused. The log halts at this batch and nothing after it is
	// applied, until another file takes this place (the genuine batch) or
	// an admin revokes the device. A refused batch is never an anchor.
	halt
)

// ProblemKind names why a batch was not applied.
type ProblemKind string

// The kinds of sync problem.
const (
	ProblemMalformed       ProblemKind = "malformed"        // not a batch, or a damaged one
	ProblemNewerFormat     ProblemKind = "newer-format"     // written by a newer ClinicVault (hold)
	ProblemMisplaced       ProblemKind = "misplaced"        // its header names another place (a copied file)
	ProblemWrongVault      ProblemKind = "wrong-vault"      // another practice's batch
	ProblemNotNext         ProblemKind = "not-next"         // does not follow the last batch taken (a replay or fork)
	ProblemRevokedDevice   ProblemKind = "revoked-device"   // the device was revoked
	ProblemUnknownDevice   ProblemKind = "unknown-device"   // not in the roster yet (hold)
	ProblemUnsignedFormat  ProblemKind = "unsigned-format"  // an old, unsigned format after the device signed its log
	ProblemDeviceSignature ProblemKind = "device-signature" // not signed by the device whose log it is in
	ProblemNoKey           ProblemKind = "no-key"           // the epoch's key is not here yet (hold)
	ProblemUnknownSigner   ProblemKind = "unknown-signer"   // signed by a user not in the roster yet (hold)
	ProblemDecrypt         ProblemKind = "decrypt"          // does not authenticate under the epoch's key
	ProblemSignature       ProblemKind = "signature"        // the user's signature does not verify
	ProblemRemovedSigner   ProblemKind = "removed-signer"   // signed by someone removed before the records' time
	ProblemRole            ProblemKind = "role"             // the signer's role does not allow a record
	ProblemClockAhead      ProblemKind = "clock-ahead"      // the device's clock runs ahead (hold)
	ProblemApply           ProblemKind = "apply"            // applying failed (disk, database busy): retried (hold)
	ProblemMissing         ProblemKind = "missing"          // the next batch is not in the folder (hold)
)

// judgment is a verdict with its reason.
type judgment struct {
	verdict verdict
	kind    ProblemKind
	detail  string
	epoch   uint32        // ProblemNoKey: the epoch whose key is missing
	wait    time.Duration // ProblemClockAhead: how far the clock runs ahead
}

func judged(v verdict, kind ProblemKind, format string, args ...any) judgment {
	return judgment{verdict: v, kind: kind, detail: fmt.Sprintf(format, args...)}
}

// batchFacts is what judging an envelope needs, gathered beforehand.
type batchFacts struct {
	place     uint64 // the batch's place (seq) in the device's log folder
	device    string // whose log the file is in
	header    cvsync.Header
	headerErr error
	vaultID   string // this vault's id
	resealed  bool   // a batch kept sealed earlier, opened now: its place was checked then
	// The last batch taken from the device's log (0 and nil: none).
	prevSeq     uint64
	prevHash    []byte
	prevVersion byte
	// The device in the replicated roster.
	known, revoked bool
	deviceSig      error // cvsync.VerifyDevice against the roster's key
	clinical       bool  // this session holds the clinical key
}

// judgeEnvelope judges what can be judged without opening the batch.
// A verdict of apply means "nothing against it so far": open it.
func judgeEnvelope(f batchFacts) judgment {
	h := f.header
	switch {
	case errors.Is(f.headerErr, cvsync.ErrNewerFormat):
		return judged(hold, ProblemNewerFormat, "batch %d was written by a newer version of ClinicVault: update this computer to receive that computer's changes", f.place)
	case f.headerErr != nil:
		return judged(halt, ProblemMalformed, "not a batch (damaged, cut short, or not yet fully copied into the folder): %v", f.headerErr)
	case h.Device != f.device || h.Seq != f.place:
		return judged(halt, ProblemMisplaced, "its header says batch %d of device %s (a copied or replayed file)", h.Seq, shortID(h.Device))
	case h.VaultID != f.vaultID:
		return judged(halt, ProblemWrongVault, "it belongs to another practice's vault")
	}
	if !f.resealed {
		want := make([]byte, 32)
		if f.prevSeq > 0 {
			want = f.prevHash
		}
		if h.Seq != f.prevSeq+1 || string(h.PrevHash[:]) != string(want) {
			return judged(halt, ProblemNotNext, "it does not follow batch %d of that device (a gap, a replay or a forked log)", f.prevSeq)
		}
	}
	switch {
	case f.revoked:
		return judged(halt, ProblemRevokedDevice, "the device was revoked; what it writes is no longer accepted")
	case !f.known:
		return judged(hold, ProblemUnknownDevice, "not in the practice's device roster (yet): its changes wait until an admin's approval arrives")
	case h.Version < 3 && f.prevSeq == 0:
		return judged(halt, ProblemUnsignedFormat, "written in an old format without the device's signature, at the start of a log (computers of this version sign their logs from the first batch)")
	case h.Version < 3 && f.prevVersion >= 3:
		return judged(halt, ProblemUnsignedFormat, "written in an old format without the device's signature, after that device had signed its log (a forged file)")
	case h.Version >= 3 && f.deviceSig != nil:
		return judged(halt, ProblemDeviceSignature, "not signed by the computer whose log it is in (a forged file)")
	case h.Class == cvsync.Clinical && !f.clinical:
		return judged(keepSealed, "", "clinical: applied at the next clinician sign-in")
	}
	return judgment{verdict: apply}
}

// signerFacts is what judging the records needs about the batch's signer,
// from the replicated roster.
type signerFacts struct {
	openErr   error // from cvsync.Open
	role      Role
	removedAt int64 // Unix seconds; 0 while active
	// logNewest is the newest record time already taken from this log
	// and class: a device's clock only moves forward.
	logNewest string
	// ownSlot is the version of the signer's own keyring slot this
	// computer holds (0: none), ownName and ownPub its name and public key.
	ownSlot int
	ownName string
	ownPub  []byte
}

// judgeRecords judges an opened batch: its signer's standing and role
// against every record, and its clock against now.
func judgeRecords(h cvsync.Header, recs []cvsync.Record, sf signerFacts, now time.Time) judgment {
	switch {
	case errors.Is(sf.openErr, errUnknownSigner):
		return judged(hold, ProblemUnknownSigner, "batch %d: %v; waiting for the roster", h.Seq, sf.openErr)
	case errors.Is(sf.openErr, cvsync.ErrBadSignature):
		return judged(halt, ProblemSignature, "%v", sf.openErr)
	case errors.Is(sf.openErr, cvsync.ErrDecrypt):
		return judged(halt, ProblemDecrypt, "%v", sf.openErr)
	case sf.openErr != nil:
		return judged(halt, ProblemMalformed, "%v", sf.openErr)
	}
	maxWall := uint64(0)
	for _, r := range recs {
		ts, _ := cvsync.ParseTimestamp(r.HLC)
		maxWall = max(maxWall, ts.Wall)
		if sf.removedAt != 0 && int64(ts.Wall) >= sf.removedAt*1000 {
			return judged(halt, ProblemRemovedSigner, "signed by a user who had been removed from the practice before these changes were made")
		}
		if sf.logNewest != "" && r.HLC <= sf.logNewest {
			return judged(halt, ProblemNotNext, "its changes are dated before changes already taken from that computer (a backdated batch)")
		}
		if r.Author != h.Signer {
			return judged(halt, ProblemRole, "it carries changes it names as made by someone other than its signer")
		}
		if r.Table == "audit_heads" && (r.RowID != h.Device || r.Device != h.Device) {
			return judged(halt, ProblemRole, "it states the audit head of another computer than its own")
		}
		if j := mayWrite(sf.role, h.Signer, h.Class, r); j.verdict != apply {
			return j
		}
		if r.Table == "keyring_slots" && sf.role != Admin && r.Columns["slot"] != nil {
			// A person's own slot only moves forward (a new passphrase or
			// authenticator), never back to an older copy whose
			// passphrase may have leaked; its name and identity stay
			// (its role and grants are an admin's part, taken from there).
			if sf.ownSlot == 0 {
				return judged(hold, ProblemUnknownSigner, "it changes a keyring slot this computer does not have yet; waiting for the roster")
			}
			var slot store.Slot
			if json.Unmarshal([]byte(*r.Columns["slot"]), &slot) != nil || slot.UserID != h.Signer || slot.Version <= sf.ownSlot ||
				slot.Name != sf.ownName || !bytes.Equal(slot.PublicKey, sf.ownPub) {
				return judged(halt, ProblemRole, "it puts back an older copy of its signer's keyring slot, or changes its name or identity key")
			}
		}
	}
	if ahead := time.Duration(int64(maxWall)-now.UnixMilli()) * time.Millisecond; ahead > cvsync.MaxClockAhead {
		j := judged(hold, ProblemClockAhead, "its clock runs %s ahead of this computer's: its changes are held until its date and time are fixed", ahead.Round(time.Second))
		j.wait = ahead.Round(time.Second)
		return j
	}
	return judgment{verdict: apply}
}

// mayWrite is the role rule for one record signed by signer in a batch of
// class: the same rule receiving enforces, and sending uses to never
// sign what the others would refuse.
func mayWrite(role Role, signer string, class cvsync.Class, r cvsync.Record) judgment {
	kind, ok := replicatedTables[r.Table]
	if !ok || (kind == store.Clinical) != (class == cvsync.Clinical) {
		return judged(halt, ProblemRole, "table %q may not travel in a %s batch", r.Table, class)
	}
	if class == cvsync.Clinical && !role.Clinical() {
		return judged(halt, ProblemRole, "clinical changes signed by a %s are not accepted", roleName(role))
	}
	if adminTables[r.Table] && role != Admin && !selfService(r, signer) {
		return judged(halt, ProblemRole, "a %s may not change %s", roleName(role), r.Table)
	}
	switch r.Table {
	case "chart_restrictions":
		// Restricting a chart is a clinician's or an admin's act (whether
		// this one is named on the restriction it changes is checked
		// against the roster when the batch is opened).
		if !role.Clinical() {
			return judged(halt, ProblemRole, "a %s may not restrict or lift a chart's restriction", roleName(role))
		}
	case "emergency_access":
		for c, v := range r.Columns {
			switch c {
			case "reviewed_by", "reviewed_at", "review_note":
				// Reviewing an emergency access is an admin's, in their
				// own name.
				if role != Admin || (c == "reviewed_by" && (v == nil || *v != signer)) {
					return judged(halt, ProblemRole, "only an admin may review an emergency access, in their own name")
				}
			case "user_id":
				if !role.Clinical() || v == nil || *v != signer {
					return judged(halt, ProblemRole, "an emergency access is recorded only by the clinician who used it")
				}
			default:
				if !role.Clinical() {
					return judged(halt, ProblemRole, "a %s may not record an emergency access", roleName(role))
				}
			}
		}
	}
	return judgment{verdict: apply}
}

func roleName(r Role) string {
	if r == "" {
		return "user without a role"
	}
	return string(r)
}

// selfService reports whether a non-admin may make this change: their own
// keyring slot (a new passphrase or authenticator), clearing their own
// authenticator reset, or the last authenticator step they used (a code
// spent at one computer is spent at all; someone who raises their own
// only locks themselves out of codes).
func selfService(r cvsync.Record, signer string) bool {
	if r.RowID != signer || len(r.Columns) == 0 {
		return false
	}
	for c, v := range r.Columns {
		switch {
		case r.Table == "keyring_slots" && c == "slot":
		case r.Table == "users" && c == "totp_reset" && v != nil && *v == "0":
		case r.Table == "users" && c == "last_totp_step" && v != nil:
		default:
			return false
		}
	}
	return true
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

// envelopeFacts gathers batchFacts for the file at place in device's log.
func (s *Session) envelopeFacts(ctx context.Context, device string, place uint64, env []byte, resealed bool) batchFacts {
	f := batchFacts{place: place, device: device, vaultID: s.kr.VaultID, resealed: resealed, clinical: s.clinical != nil}
	f.header, f.headerErr = cvsync.ParseHeader(env)
	var prevVersion int
	s.general.QueryRowContext(ctx, `SELECT seq, hash, version FROM sync_received WHERE device = ? ORDER BY seq DESC LIMIT 1`, device).
		Scan(&f.prevSeq, &f.prevHash, &prevVersion)
	f.prevVersion = byte(prevVersion)
	var revoked sql.NullInt64
	var pub string
	err := s.general.QueryRowContext(ctx, `SELECT revoked_at, ed25519_pub FROM devices WHERE id = ?`, device).Scan(&revoked, &pub)
	f.known, f.revoked = err == nil, revoked.Valid
	f.deviceSig = cvsync.ErrBadDeviceSignature
	if raw, err := hex.DecodeString(pub); err == nil && f.known {
		f.deviceSig = cvsync.VerifyDevice(env, ed25519.PublicKey(raw))
	}
	return f
}

// takeBatch judges one envelope at its place in a device's log and acts:
// applies it, keeps it sealed, holds, or halts the log. It returns false
// when the device's log must stop here for now.
func (s *Session) takeBatch(ctx context.Context, device string, seq uint64, env []byte, rep *SyncReport, resealed bool) bool {
	hash := sha256.Sum256(env)
	f := s.envelopeFacts(ctx, device, seq, env, resealed)
	j := judgeEnvelope(f)
	h := f.header
	var b *cvsync.Batch
	if j.verdict == apply {
		j, b = s.openAndJudge(ctx, h, env)
	} else if j.kind == ProblemNotNext {
		// A batch out of place may also be signed by someone removed (an
		// old copy of this device's folder writing on): that is the
		// reason to name. Nothing of it is applied either way.
		if why, _ := s.openAndJudge(ctx, h, env); why.kind == ProblemRemovedSigner {
			j = why
		}
	}
	if j.verdict == apply {
		if slots, err := s.applyBatch(ctx, b); store.IsTransient(err) {
			j = judged(hold, ProblemApply, "could not apply batch %d (%v): it is tried again at the next pass", seq, err)
		} else if err != nil {
			j = judged(halt, ProblemMalformed, "it cannot be applied: %v", err)
		} else {
			for _, r := range b.Records {
				if ts, err := cvsync.ParseTimestamp(r.HLC); err == nil {
					s.clock.Observe(ts)
				}
			}
			if len(slots) > 0 {
				if err := s.applySlots(ctx, slots); err != nil {
					s.problem(ctx, rep, SyncProblem{Device: device, Kind: ProblemKeyring, Seq: seq, Detail: "keyring update: " + err.Error()})
				} else if err := s.followClinicalKey(ctx); err != nil {
					s.problem(ctx, rep, SyncProblem{Device: device, Kind: ProblemKeyring, Seq: seq, Detail: err.Error()})
				} else if err := s.followGeneralKey(ctx); err != nil {
					s.problem(ctx, rep, SyncProblem{Device: device, Kind: ProblemKeyring, Seq: seq, Detail: err.Error()})
				}
			}
		}
	}
	switch j.verdict {
	case apply:
		if quiet(b.Records) {
			rep.Quiet++
		} else {
			rep.Applied++
		}
		newest := ""
		for _, r := range b.Records {
			newest = max(newest, r.HLC)
		}
		s.markReceived(ctx, h, hash, "applied", "", newest)
		s.seen(ctx, device)
		s.general.ExecContext(ctx, `DELETE FROM sync_halts WHERE device = ?`, device)
		s.clearProblem(ctx, device)
		return true
	case keepSealed:
		rep.Sealed++
		s.markReceived(ctx, h, hash, "sealed", j.detail, "")
		s.seen(ctx, device)
		s.general.ExecContext(ctx, `DELETE FROM sync_halts WHERE device = ?`, device)
		return true
	case hold:
		s.problem(ctx, rep, j.about(device, seq))
		return false
	}
	// halt: counted as refused the first time this file is judged here
	var same int
	s.general.QueryRowContext(ctx, `SELECT count(*) FROM sync_halts WHERE device = ? AND seq = ? AND hash = ?`, device, seq, hash[:]).Scan(&same)
	if same == 0 {
		rep.Refused++
	}
	if resealed {
		// Kept sealed earlier, so later batches were taken after it: it
		// stays in the log as refused, and the problem is shown.
		s.markReceived(ctx, cvsync.Header{Device: device, Seq: seq, Class: h.Class, Version: h.Version}, hash, "refused", j.detail, "")
	} else {
		s.general.ExecContext(ctx, `INSERT INTO sync_halts (device, seq, hash, kind, reason, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, kind = excluded.kind, reason = excluded.reason, at = excluded.at`,
			device, seq, hash[:], string(j.kind), j.detail, s.v.now().Unix())
	}
	p := j.about(device, seq)
	p.Halted = true
	p.Detail = fmt.Sprintf("batch %d refused, its log halted there: %s", seq, j.detail)
	s.problem(ctx, rep, p)
	return false
}

// openAndJudge opens a batch that passed judgeEnvelope and judges its
// records; the batch comes back when the verdict is apply.
func (s *Session) openAndJudge(ctx context.Context, h cvsync.Header, env []byte) (judgment, *cvsync.Batch) {
	key, err := s.syncKey(ctx, h.Class, h.Epoch)
	if err != nil || key == nil {
		j := judged(hold, ProblemNoKey, "batch %d needs the keys of epoch %d, not on this computer yet", h.Seq, h.Epoch)
		j.epoch = h.Epoch
		return j, nil
	}
	b, err := cvsync.Open(env, key, s.signerKey(ctx))
	sf := signerFacts{openErr: err}
	if err != nil {
		return judgeRecords(h, nil, sf, s.v.now()), nil
	}
	// A signer not in the roster has no role (judgeRecords refuses or
	// holds); one that cannot be read is judged at a later pass, never
	// taken as active.
	var role string
	var removed sql.NullInt64
	if err := s.general.QueryRowContext(ctx, `SELECT role, removed_at FROM users WHERE id = ?`, h.Signer).Scan(&role, &removed); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return unread("the signer", err), nil
	}
	sf.role, sf.removedAt = Role(role), removed.Int64
	// The session's keyring is kept current by every slot change it
	// applies or makes: no file read per batch.
	if slot, err := s.kr.SlotByID(h.Signer); err == nil {
		sf.ownSlot, sf.ownName, sf.ownPub = slot.Version, slot.Name, slot.PublicKey
	}
	if sf.logNewest, err = scalar[string](ctx, s.general, `SELECT coalesce(max(max_hlc), '') FROM sync_received WHERE device = ? AND class = ?`, h.Device, h.Class.String()); err != nil {
		return unread("the device's log", err), nil
	}
	j := judgeRecords(h, b.Records, sf, s.v.now())
	if j.verdict == apply {
		j = s.judgeRestrictions(ctx, h.Signer, sf.role, b.Records)
	}
	return j, b
}

// judgeRestrictions applies the rules local changes follow to chart
// restrictions and emergency accesses, against what this computer holds
// before the batch: a restriction row names its chart and clinician for
// good (it is only ever archived), and only a clinician named on the
// chart's current restriction, or an admin, changes it; an emergency
// access is recorded once, by the clinician who used it, and afterwards
// only reviewed, by an admin.
func (s *Session) judgeRestrictions(ctx context.Context, signer string, role Role, recs []cvsync.Record) judgment {
	checked := map[string]bool{}
	// Rows an earlier record of this batch creates (restricted, then
	// lifted, before a sync).
	made := map[string]string{}
	for _, r := range recs {
		switch r.Table {
		case "chart_restrictions":
			current, exists := made[r.RowID]
			if !exists {
				switch err := s.general.QueryRowContext(ctx, `SELECT patient_id FROM chart_restrictions WHERE id = ?`, r.RowID).Scan(&current); {
				case err == nil:
					exists = true
				case !errors.Is(err, sql.ErrNoRows):
					return unread("the chart's restriction", err)
				}
			}
			var patients []string
			if exists {
				for _, c := range []string{"patient_id", "clinician_id", "added_by"} {
					if _, ok := r.Columns[c]; ok {
						return judged(halt, ProblemRole, "it moves an existing chart restriction to another chart or clinician (a restriction is only ever lifted)")
					}
				}
				patients = append(patients, current)
			} else {
				v := r.Columns["patient_id"]
				if v == nil || *v == "" || r.Columns["clinician_id"] == nil || *r.Columns["clinician_id"] == "" {
					return judged(halt, ProblemRole, "it adds a chart restriction that names no chart or no clinician")
				}
				patients = append(patients, *v)
				made[r.RowID] = *v
			}
			if role == Admin {
				continue
			}
			for _, patient := range patients {
				if checked[patient] {
					continue
				}
				checked[patient] = true
				allowed, restricted, err := chartAllowed(ctx, s.general, patient, signer)
				if err != nil {
					return unread("the chart's restriction", err)
				}
				if restricted && !allowed {
					return judged(halt, ProblemRole, "it changes the restriction of a chart its signer is not named on")
				}
			}
		case "emergency_access":
			_, exists := made["emergency:"+r.RowID]
			if !exists {
				n, err := scalar[int](ctx, s.general, `SELECT count(*) FROM emergency_access WHERE id = ?`, r.RowID)
				if err != nil {
					return unread("the emergency access", err)
				}
				exists = n > 0
			}
			if !exists {
				if v := r.Columns["patient_id"]; v == nil || *v == "" {
					return judged(halt, ProblemRole, "it records an emergency access to no chart")
				}
				made["emergency:"+r.RowID] = *r.Columns["patient_id"]
				continue // a new one: mayWrite checked who and what
			}
			for c := range r.Columns {
				switch c {
				case "reviewed_by", "reviewed_at", "review_note":
				default:
					return judged(halt, ProblemRole, "it changes an emergency access after the fact (only its review may be added)")
				}
			}
		}
	}
	return judgment{verdict: apply}
}

// unread holds a batch whose judgment needs what could not be read here
// (a busy or damaged database): judged again at the next pass, never
// taken as allowed.
func unread(what string, err error) judgment {
	return judged(hold, ProblemApply, "could not read %s (%v): it is tried again at the next pass", what, err)
}

func (s *Session) deviceRevoked(ctx context.Context, id string) (bool, error) {
	var at sql.NullInt64
	err := s.general.QueryRowContext(ctx, `SELECT revoked_at FROM devices WHERE id = ?`, id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return at.Valid, err
}
