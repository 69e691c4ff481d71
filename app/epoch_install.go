package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Taking key epochs from the folder: the files sealed to the signed-in
// person (or, for epochs of earlier versions, to this computer), checked
// against the roster before a key is kept.

// signedByAnAdmin checks an epoch file's signature against its maker in
// the roster (whatever their standing now: that is judged elsewhere).
func (s *Session) signedByAnAdmin(ctx context.Context, ef cvsync.EpochFile) bool {
	pub, err := s.signerKey(ctx)(ef.Admin)
	return err == nil && ed25519.Verify(pub, cvsync.EpochSigned(ef), ef.Signature)
}

// heldEpochs lists the epochs (after 0) whose general key this computer
// holds.
func (s *Session) heldEpochs(ctx context.Context) ([]uint32, error) {
	return queryAll(ctx, s.general, func(r row) (e uint32, err error) {
		err = r.Scan(&e)
		return e, err
	}, `SELECT epoch FROM sync_keys WHERE epoch > 0 ORDER BY epoch`)
}

func hasSyncKey(ctx context.Context, db *store.DB, epoch uint32) bool {
	if db == nil {
		return false
	}
	// Unread counts as not held: the epoch is looked for again.
	n, err := scalar[int](ctx, db, `SELECT count(*) FROM sync_keys WHERE epoch = ?`, epoch)
	return err == nil && n > 0
}

// installEpochs picks up the key epochs this computer lacks: from files
// sealed to the signed-in person (and, for epochs of earlier versions,
// to this computer), each signed by an admin who was not removed when it
// was made. The clinical keys of epochs installed while no clinician was
// here are picked up at a clinician's pass.
func (s *Session) installEpochs(ctx context.Context, f cvsync.Transport, rep *SyncReport) error {
	if s.clinical != nil {
		// Clinical keys that came wrapped (pairing, device epoch files)
		// while no clinician was here.
		type setting struct{ name, value string }
		wrapped, err := queryAll(ctx, s.general, func(r row) (x setting, err error) {
			err = r.Scan(&x.name, &x.value)
			return x, err
		}, `SELECT name, value FROM settings WHERE name LIKE 'epoch_clinical_wrapped_%'`)
		if err != nil {
			return err
		}
		type pending struct {
			name  string
			epoch uint32
			box   []byte
		}
		var ps []pending
		for _, w := range wrapped {
			e, err1 := strconv.Atoi(strings.TrimPrefix(w.name, "epoch_clinical_wrapped_"))
			b, err2 := base64.StdEncoding.DecodeString(w.value)
			if err1 != nil || err2 != nil || e < 0 {
				continue // not ours to read; kept as it is
			}
			ps = append(ps, pending{w.name, uint32(e), b})
		}
		for _, p := range ps {
			wk, err := s.clinicalWrapKey(p.epoch)
			if err != nil {
				return err
			}
			clin, err := store.OpenBox(wk, p.box, nil)
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
		newest, err := s.newestHeldEpoch(ctx, s.general)
		if err != nil {
			return err
		}
		if e>>16 > newest>>16+maxEpochJump {
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
func (s *Session) verifyEpochFile(ctx context.Context, ef cvsync.EpochFile) bool {
	// Anything unread refuses the file (for this pass).
	var role string
	var removed sql.NullInt64
	if err := s.general.QueryRowContext(ctx, `SELECT role, removed_at FROM users WHERE id = ?`, ef.Admin).Scan(&role, &removed); err != nil {
		return false
	}
	cur, err := s.epochNow(ctx)
	if err != nil {
		return false
	}
	newest, err := s.newestHeldEpoch(ctx, s.general)
	if err != nil {
		return false
	}
	pub, err := s.signerKey(ctx)(ef.Admin)
	if err != nil || role != string(Admin) || !ed25519.Verify(pub, cvsync.EpochSigned(ef), ef.Signature) {
		return false
	}
	if ef.User != "" && ef.Device != s.device {
		return false
	}
	if removed.Valid && ef.Epoch>>16 >= cur>>16 {
		return false
	}
	// Honest counts go up one at a time; a file far ahead is planted.
	return ef.Epoch>>16 <= newest>>16+maxEpochJump
}

// installUserEpoch installs epoch e from the file sealed to the signed-in
// person, if there is one; it reports whether it installed anything.
func (s *Session) installUserEpoch(ctx context.Context, f cvsync.Transport, e uint32, rep *SyncReport) (bool, error) {
	// The newest grant to this person for the epoch (a promotion adds
	// one with the clinical key).
	names, _ := f.List(fmt.Sprintf("epochs/%d", e))
	prefix := cvsync.UserEpochName(s.user.ID, s.device)
	var best []byte
	for _, n := range names {
		if n != prefix && !strings.HasPrefix(n, prefix+".") {
			continue
		}
		data, err := f.Read(fmt.Sprintf("epochs/%d/%s", e, n))
		if err != nil {
			continue
		}
		var ef cvsync.EpochFile
		if err := json.Unmarshal(data, &ef); err != nil || ef.Epoch != e || ef.User != s.user.ID || ef.Device != s.device || !s.verifyEpochFile(ctx, ef) {
			rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(e), Detail: fmt.Sprintf("key epoch %d: a file for %s that is not signed by an admin of the practice; ignored", e, s.user.Name)})
			continue
		}
		inner, err := cvsync.OpenFrom(s.devKeys.x25519, store.LabelEpochUserOnDevice, ef.Box)
		if err != nil {
			continue
		}
		body, err := cvsync.OpenFrom(s.secrets.Identity, store.LabelEpochUser, inner)
		if err != nil {
			continue
		}
		var k cvsync.UserEpochKeys
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
func (s *Session) installDeviceEpoch(ctx context.Context, f cvsync.Transport, epoch uint32, rep *SyncReport) (bool, error) {
	data, err := f.Read(fmt.Sprintf("epochs/%d/%s", epoch, s.device))
	if err != nil {
		return false, nil
	}
	var ef cvsync.EpochFile
	if err := json.Unmarshal(data, &ef); err != nil || ef.Epoch != epoch || ef.Device != s.device {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: unreadable file", epoch)})
		return false, nil
	}
	if !s.verifyEpochFile(ctx, ef) {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: not signed by an admin this computer knows; waiting", epoch)})
		return false, nil
	}
	body, err := cvsync.OpenFrom(s.devKeys.x25519, store.LabelEpochKeys, ef.Box)
	if err != nil {
		rep.Problems = append(rep.Problems, SyncProblem{Kind: ProblemEpochFile, Epoch: uint32(epoch), Detail: fmt.Sprintf("key epoch %d: does not open with this computer's key", epoch)})
		return false, nil
	}
	var ek cvsync.EpochKeys
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
		clin, err := store.OpenBox(wk, ek.ClinicalWrapped, nil)
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
