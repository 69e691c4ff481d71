package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store/filelock"
)

// KeyringFile is the keyring's file name in a data directory.
const KeyringFile = "vault.keys"

// keyringFormat names the file layout; Load refuses any other.
const keyringFormat = "clinicvault.org/v1/keyring"

// ErrNoVault means the data directory holds no keyring.
var ErrNoVault = errors.New("no vault in this folder")

// Slot is one user's entry in the keyring: Argon2id parameters, the
// passphrase-wrapped SlotSecrets, the user's X25519 public key and the
// database keys sealed to it (grants). The recovery slot has no KDF: its
// key-encryption key comes from the recovery key through HKDF.
type Slot struct {
	UserID    string          `json:"user_id"`
	Name      string          `json:"name"`
	Role      string          `json:"role"`
	Version   int             `json:"version"`
	KDF       *KDFParams      `json:"kdf,omitempty"`
	PublicKey []byte          `json:"public_key"`
	Wrapped   []byte          `json:"wrapped"`
	Grants    map[Kind][]byte `json:"grants"`
	// ClinicalKeyID names (without revealing it) the clinical key the
	// clinical grant holds, so that an admin can tell a grant of a
	// replaced key and grant the current one.
	ClinicalKeyID string `json:"clinical_key_id,omitempty"`
	// GeneralKeyID does the same for the general grant.
	GeneralKeyID string `json:"general_key_id,omitempty"`
}

// Throttle is the persistent count of failed sign-ins for one user.
type Throttle struct {
	Failures    int       `json:"failures"`
	LastFailure time.Time `json:"last_failure"`
	Locked      bool      `json:"locked"`
}

// PendingEvent is a failed sign-in seen before any database was open; it is
// moved into the audit log at the next successful sign-in.
type PendingEvent struct {
	At     time.Time `json:"at"`
	UserID string    `json:"user_id"`
	Name   string    `json:"name"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// Keyring is the content of vault.keys: readable before unlock, it holds no
// plaintext secret. Staff names and roles are in clear so the sign-in screen
// can offer them; every role is also bound into its grants and re-checked
// against general.db after unlock.
type Keyring struct {
	Format   string               `json:"format"`
	VaultID  string               `json:"vault_id"`
	Practice string               `json:"practice"`
	Created  time.Time            `json:"created"`
	Slots    []*Slot              `json:"slots"`
	Recovery *Slot                `json:"recovery"`
	Throttle map[string]*Throttle `json:"throttle,omitempty"`
	Pending  []PendingEvent       `json:"pending_events,omitempty"`
	// Escrow is this computer's own (never replicated): the key its
	// general.db is under, sealed to each person with a slot here. When
	// the general key changes elsewhere, a grant names the new key while
	// the file is still under the old one; the escrow opens the file so
	// that it can be moved to the new key.
	Escrow map[string]*EscrowBox `json:"escrow,omitempty"`
	// TOTPReset lists, as this computer last saw them, the people whose
	// authenticator an admin reset (they sign in without a code and enrol
	// again). nil until a sign-in here has written it. Sign-in checks the
	// code before opening any database except for these people; a wrong
	// list costs timing only, never a wrong sign-in (the databases decide).
	TOTPReset map[string]bool `json:"totp_reset"`
}

// TOTPResetMayBePending reports whether user id may sign in without a
// code: their authenticator was reset, or this computer has not yet
// written down whose was.
func (k *Keyring) TOTPResetMayBePending(id string) bool {
	return k.TOTPReset == nil || k.TOTPReset[id]
}

// EscrowBox is a computer's general key sealed to one person.
type EscrowBox struct {
	KeyID     string `json:"key_id"`     // names the key sealed (not secret)
	PublicKey []byte `json:"public_key"` // the identity it is sealed to
	Role      string `json:"role"`       // bound into the box
	Box       []byte `json:"box"`
}

// NewKeyring returns an empty keyring for a new vault.
func NewKeyring(vaultID, practice string, now time.Time) *Keyring {
	return &Keyring{Format: keyringFormat, VaultID: vaultID, Practice: practice, Created: now.UTC(),
		Throttle: map[string]*Throttle{}}
}

// SlotByName finds a slot by user name, ignoring case and Unicode form.
func (k *Keyring) SlotByName(name string) (*Slot, error) {
	want := foldName(name)
	for _, s := range k.Slots {
		if foldName(s.Name) == want {
			return s, nil
		}
	}
	return nil, ErrNotFound
}

// SlotByID finds a slot by user id.
func (k *Keyring) SlotByID(id string) (*Slot, error) {
	for _, s := range k.Slots {
		if s.UserID == id {
			return s, nil
		}
	}
	return nil, ErrNotFound
}

// RemoveSlot deletes the slot of user id.
func (k *Keyring) RemoveSlot(id string) {
	out := k.Slots[:0]
	for _, s := range k.Slots {
		if s.UserID != id {
			out = append(out, s)
		}
	}
	k.Slots = out
	delete(k.Throttle, id)
}

// ThrottleFor returns (creating) the throttle state of user id.
func (k *Keyring) ThrottleFor(id string) *Throttle {
	if k.Throttle == nil {
		k.Throttle = map[string]*Throttle{}
	}
	t := k.Throttle[id]
	if t == nil {
		t = &Throttle{}
		k.Throttle[id] = t
	}
	return t
}

func foldName(s string) string { return strings.ToLower(strings.TrimSpace(NormalizePassphrase(s))) }

// LoadKeyring reads dir/vault.keys. A missing file is ErrNoVault.
func LoadKeyring(dir string) (*Keyring, error) {
	b, err := os.ReadFile(filepath.Join(dir, KeyringFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoVault
	}
	if err != nil {
		return nil, fmt.Errorf("store: read keyring: %w", err)
	}
	var k Keyring
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("store: keyring %s is damaged: %w", filepath.Join(dir, KeyringFile), err)
	}
	if k.Format != keyringFormat {
		return nil, fmt.Errorf("store: keyring format %q is not %q", k.Format, keyringFormat)
	}
	if k.Throttle == nil {
		k.Throttle = map[string]*Throttle{}
	}
	return &k, nil
}

// SaveKeyring writes the keyring atomically: a temp file in the same folder,
// fsync, rename over vault.keys, fsync of the folder. A crash at any point
// leaves either the old file or the new one.
func SaveKeyring(dir string, k *Keyring) error {
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, KeyringFile), b, 0o600)
}

// keyringLockFile sits beside vault.keys; holding an exclusive lock on it
// is the right to change vault.keys.
const keyringLockFile = "vault.keys.lock"

// UpdateKeyring changes vault.keys under an exclusive lock held across
// processes (on Windows too): it re-reads the file under the lock, lets
// fn apply its one change to what is there now, and saves. Two processes
// on one data folder therefore never write back a stale copy over each
// other's change (a sign-in reading the file before its ~0.5 s key
// derivation and saving after it lost a 'user add' made meanwhile).
// When fn returns an error nothing is saved. fn must not wait on a
// database: the lock is always taken before any database work, never
// inside it.
func UpdateKeyring(dir string, fn func(k *Keyring) error) error {
	unlock, err := LockKeyring(dir)
	if err != nil {
		return err
	}
	defer unlock()
	k, err := LoadKeyring(dir)
	if err != nil {
		return err
	}
	if err := fn(k); err != nil {
		return err
	}
	return SaveKeyring(dir, k)
}

// LockKeyring takes the keyring's lock, for a change that must also read
// or write elsewhere (a database) between loading and saving vault.keys;
// the returned function releases it. Everything else uses UpdateKeyring.
func LockKeyring(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, keyringLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: keyring lock: %w", err)
	}
	if err := filelock.Lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: keyring lock: %w", err)
	}
	return func() { filelock.Unlock(f); f.Close() }, nil
}

// LockedKeyring takes the keyring's lock and loads vault.keys under it:
// for a change that also writes a database between loading and saving.
// Call unlock when done.
func LockedKeyring(dir string) (k *Keyring, unlock func(), err error) {
	unlock, err = LockKeyring(dir)
	if err != nil {
		return nil, nil, err
	}
	if k, err = LoadKeyring(dir); err != nil {
		unlock()
		return nil, nil, err
	}
	return k, unlock, nil
}

// crashHook, when set by a test, is called between writing the temp file
// and renaming it; returning an error simulates a crash at that point.
var crashHook func(tmp string) error

// WriteFileAtomic replaces path with data so that readers see either the
// old content or the new, never a mix, even across a power cut.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	// A temp file of an earlier write that crashed is deleted once it is
	// an hour old (see SweepStale); file-system times are real times, so
	// the real clock judges them.
	SweepStale(dir, time.Now(), atomicScheme(path))
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		// Windows has no Unix modes; everything else must honour them.
		if !strings.Contains(err.Error(), "not supported") {
			return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
		}
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
	}
	if crashHook != nil {
		if err = crashHook(tmp); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: write %s: %w", filepath.Base(path), err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable; it is a no-op where directories cannot
// be opened for sync (Windows).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
