package app

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
