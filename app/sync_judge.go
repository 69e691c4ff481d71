package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Judging a batch: whether it may be applied, waits, or halts its log.

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

func (s *Session) deviceRevoked(ctx context.Context, id string) (bool, error) {
	var at sql.NullInt64
	err := s.general.QueryRowContext(ctx, `SELECT revoked_at FROM devices WHERE id = ?`, id).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return at.Valid, err
}
