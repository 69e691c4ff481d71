// Package app is ClinicVault's application core: creating a vault, signing
// in and out, staff accounts and roles, the audit log, and the use cases the
// screens and the command line call. It never imports Fyne.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	"github.com/google/uuid"
)

// Role is what a member of staff may do.
type Role string

// The three roles. Admins and clinicians hold the clinical key.
const (
	Admin        Role = "admin"
	Clinician    Role = "clinician"
	Receptionist Role = "receptionist"
)

// ParseRole accepts a role name in any case.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Clinician, Receptionist:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use admin, clinician or receptionist: %w", s, ErrUsage)
}

// Clinical reports whether the role may open clinical.db.
func (r Role) Clinical() bool { return r == Admin || r == Clinician }

var (
	// ErrSignInRefused is wrapped by every refused sign-in. Its message never
	// says whether the passphrase or the code was wrong.
	ErrSignInRefused = errors.New("sign-in refused")
	// ErrNotPermitted means the signed-in role may not do this.
	ErrNotPermitted = errors.New("not permitted for your role")
	// ErrUsage means the request itself is malformed (a bad name or role).
	ErrUsage = errors.New("invalid request")
	// ErrVaultExists means a vault is already in the folder.
	ErrVaultExists = errors.New("a vault already exists in this folder")
	// ErrNoVault means the folder holds no vault.
	ErrNoVault = store.ErrNoVault
	// ErrLocked means the session has been locked; sign in again.
	ErrLocked = errors.New("the session is locked")
	// ErrEnrollTOTP means an admin reset this user's authenticator: the
	// user must enroll a new one before doing anything else.
	ErrEnrollTOTP = errors.New("your authenticator app was reset by an admin: enroll it again")
	// ErrUserNotFound means no such member of staff.
	ErrUserNotFound = errors.New("no such user")
	// ErrBadRecoveryKey means the recovery key is mistyped or wrong.
	ErrBadRecoveryKey = errors.New("the recovery key is not valid")
)

// refusal is the one message for a wrong passphrase, a wrong code or an
// unknown user.
var refusal = fmt.Errorf("the passphrase or the code is not right: %w", ErrSignInRefused)

// ErrCodeUsed refuses a sign-in whose code is right but was used already
// (coming back within 30 s of locking, or a code seen at another
// computer): the person waits for the next code. Nothing counts against
// them. It wraps ErrSignInRefused.
var ErrCodeUsed = fmt.Errorf("that code was already used to sign in: wait for the next code on your phone (a new one every 30 seconds) and type it: %w", ErrSignInRefused)

// ThrottledError refuses a sign-in attempt made before the wait after
// repeated failures has passed.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again in %d s", int((e.Wait+time.Second-1)/time.Second))
}

// Unwrap makes errors.Is(err, ErrSignInRefused) true.
func (e *ThrottledError) Unwrap() error { return ErrSignInRefused }

// ErrLockedOut means 20 consecutive failures locked the account.
var ErrLockedOut = fmt.Errorf("this account is locked after too many failed sign-ins: ask an admin to unlock it (a locked-out admin can use the recovery key): %w", ErrSignInRefused)

// Throttling: after freeDelayFailures failures each attempt waits a delay
// that doubles from baseDelay up to maxDelay; lockoutFailures locks.
const (
	freeFailures    = 5
	baseDelay       = 5 * time.Second
	maxDelay        = 15 * time.Minute
	lockoutFailures = 20
)

// throttleWait returns how long after the last failure the next attempt
// must wait.
func throttleWait(failures int) time.Duration {
	if failures < freeFailures {
		return 0
	}
	d := baseDelay
	for i := freeFailures; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// DefaultIdleLock is how long a session may sit idle before it locks.
const DefaultIdleLock = 5 * time.Minute

// Vault is a data directory holding (or about to hold) a practice's vault.
type Vault struct {
	Dir string
	// Now is the clock; tests inject one.
	Now func() time.Time
	// KDF returns Argon2id parameters for new slots; nil calibrates to
	// KDFTarget (default 0.5 s) once per process.
	KDF func() store.KDFParams
	// KDFTarget is the calibration target for new slots.
	KDFTarget time.Duration
	// Policy checks new passphrases.
	Policy *Policy

	calibrated  *store.KDFParams
	createFile  func(path string) (io.WriteCloser, error) // test seam for a full disk
	unencrypted bool                                      // benchmarks only: see NewBenchmarkVault
}

// NewBenchmarkVault returns a vault for benchmarks with the minimum KDF;
// with encrypted false its databases are opened WITHOUT a key, so that a
// benchmark can compare SQLCipher with the same engine unkeyed in one run.
// An unencrypted vault must never hold real patient data.
func NewBenchmarkVault(dir string, encrypted bool) *Vault {
	v := NewVault(dir)
	v.UseMinimumKDF()
	v.unencrypted = !encrypted
	return v
}

// openDB opens one of the vault's databases with its key (or, for an
// unencrypted benchmark vault, without).
func (v *Vault) openDB(ctx context.Context, kind store.Kind, key []byte) (*store.DB, error) {
	p := filepath.Join(v.Dir, kind.FileName())
	if v.unencrypted {
		return store.OpenUnencrypted(ctx, p, kind)
	}
	return store.Open(ctx, p, kind, key)
}

// NewVault returns the vault in dir with the real clock and calibrated KDF.
func NewVault(dir string) *Vault {
	return &Vault{Dir: dir, Now: time.Now, KDFTarget: 500 * time.Millisecond, Policy: NewPolicy()}
}

func (v *Vault) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Vault) policy() *Policy {
	if v.Policy == nil {
		v.Policy = NewPolicy()
	}
	return v.Policy
}

func (v *Vault) kdfParams() store.KDFParams {
	if v.KDF != nil {
		return v.KDF().WithNewSalt()
	}
	if v.calibrated == nil {
		target := v.KDFTarget
		if target == 0 {
			target = 500 * time.Millisecond
		}
		p := store.CalibrateKDF(target)
		v.calibrated = &p
	}
	return v.calibrated.WithNewSalt()
}

// Exists reports whether the folder holds a vault.
func (v *Vault) Exists() bool {
	_, err := os.Stat(filepath.Join(v.Dir, store.KeyringFile))
	return err == nil
}

// Info is what the sign-in screen may show before unlock.
type Info struct {
	Practice string
	Users    []string
	Admins   []string // as the keyring says; general.db confirms at sign-in
}

// Info reads the practice name and staff names from the keyring.
func (v *Vault) Info() (Info, error) {
	kr, err := store.LoadKeyring(v.Dir)
	if err != nil {
		return Info{}, err
	}
	info := Info{Practice: kr.Practice}
	for _, s := range kr.Slots {
		info.Users = append(info.Users, s.Name)
		if Role(s.Role) == Admin {
			info.Admins = append(info.Admins, s.Name)
		}
	}
	return info, nil
}

// CheckPassphrase applies the passphrase policy for user name in this practice.
func (v *Vault) CheckPassphrase(passphrase, user, practice string) error {
	return v.policy().Check(passphrase, user, practice)
}

// MeasurePassphrase is the live strength meter.
func (v *Vault) MeasurePassphrase(passphrase, user, practice string) Strength {
	return v.policy().Measure(passphrase, user, practice)
}

// checkName refuses empty, over-long or control-character names.
func checkName(what, name string) (string, error) {
	name = strings.TrimSpace(store.NormalizePassphrase(name))
	if name == "" {
		return "", fmt.Errorf("the %s is empty: %w", what, ErrUsage)
	}
	if len([]rune(name)) > 100 {
		return "", fmt.Errorf("the %s is longer than 100 characters: %w", what, ErrUsage)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return "", fmt.Errorf("the %s contains a control character: %w", what, ErrUsage)
		}
	}
	return name, nil
}

// Created is what vault creation hands back once: the recovery key.
type Created struct {
	RecoveryKey string
}

// Create makes a new vault: keys, the first admin's slot, the recovery slot,
// both databases. The enrollment's secret becomes the admin's TOTP secret;
// the first-run wizard confirms a code before calling Create, the CLI's
// init does not (no code can exist before the secret).
func (v *Vault) Create(ctx context.Context, practice, admin, passphrase string, enr *Enrollment) (*Created, error) {
	if enr == nil {
		return nil, fmt.Errorf("no authenticator enrollment: %w", ErrUsage)
	}
	practice, err := checkName("practice name", practice)
	if err != nil {
		return nil, err
	}
	admin, err = checkName("admin name", admin)
	if err != nil {
		return nil, err
	}
	if err := v.CheckPassphrase(passphrase, admin, practice); err != nil {
		return nil, err
	}
	if v.Exists() {
		return nil, ErrVaultExists
	}
	for _, k := range []store.Kind{store.General, store.Clinical} {
		if _, err := os.Stat(filepath.Join(v.Dir, k.FileName())); err == nil {
			return nil, fmt.Errorf("%s is already in %s but there is no keyring: move it away first: %w", k.FileName(), v.Dir, ErrVaultExists)
		}
	}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	now := v.now()
	kr := store.NewKeyring(uuid.NewString(), practice, now)
	kGen, kClin := store.NewKey(), store.NewKey()
	defer store.Zero(kGen)
	defer store.Zero(kClin)

	adminID := newID()
	slot, secrets, err := v.newSlot(kr.VaultID, adminID, admin, Admin, 1, passphrase, enr.secret)
	if err != nil {
		return nil, err
	}
	defer secrets.Wipe()
	if err := grant(kr.VaultID, slot, kGen, kClin); err != nil {
		return nil, err
	}
	kr.Slots = append(kr.Slots, slot)

	recoveryRaw, recoveryKey := newRecoveryKey()
	defer store.Zero(recoveryRaw)
	rslot, err := newRecoverySlot(kr.VaultID, recoveryRaw, kGen, kClin)
	if err != nil {
		return nil, err
	}
	kr.Recovery = rslot

	cleanup := func() {
		for _, k := range []store.Kind{store.General, store.Clinical} {
			p := filepath.Join(v.Dir, k.FileName())
			os.Remove(p)
			os.Remove(p + "-wal")
			os.Remove(p + "-shm")
		}
	}
	gen, err := v.openDB(ctx, store.General, kGen)
	if err != nil {
		cleanup()
		return nil, err
	}
	defer gen.Close()
	clin, err := v.openDB(ctx, store.Clinical, kClin)
	if err != nil {
		gen.Close()
		cleanup()
		return nil, err
	}
	clin.Close()
	w, dev, err := vaultWriter(ctx, v, gen, adminID)
	if err != nil {
		gen.Close()
		cleanup()
		return nil, err
	}
	err = inTx(ctx, gen, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingPractice, practice); err != nil {
			return err
		}
		if err := setSetting(ctx, tx, settingIdleLock, DefaultIdleLock.String()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, role, created_at, last_totp_step, sign_pub) VALUES (?, ?, ?, ?, ?, ?)`,
			adminID, admin, string(Admin), now.Unix(), enr.confirmed, signPub(secrets.SigningSeed)); err != nil {
			return err
		}
		if err := w.record(ctx, tx, "users", adminID, map[string]any{"name": admin, "role": string(Admin), "created_at": now.Unix(),
			"sign_pub": signPub(secrets.SigningSeed)}); err != nil {
			return err
		}
		if err := w.mirrorSlot(ctx, tx, slot); err != nil {
			return err
		}
		if err := w.mirrorSlot(ctx, tx, kr.Recovery); err != nil {
			return err
		}
		devPub := ed25519.NewKeyFromSeed(dev.ed25519).Public().(ed25519.PublicKey)
		if err := w.addDeviceToRoster(ctx, tx, dev.id, hostName(), dev.publicX25519(), devPub, now.Unix()); err != nil {
			return err
		}
		actor := actor{id: adminID, name: admin}
		if err := audit(ctx, tx, now, actor, "vault-created", practice, "recovery key issued"); err != nil {
			return err
		}
		return audit(ctx, tx, now, actor, "user-added", admin, "role admin")
	})
	if err != nil {
		gen.Close()
		cleanup()
		return nil, err
	}
	if err := store.SaveKeyring(v.Dir, kr); err != nil {
		gen.Close()
		cleanup()
		return nil, err
	}
	return &Created{RecoveryKey: recoveryKey}, nil
}

// newSlot derives a KEK from the passphrase and wraps fresh secrets.
func (v *Vault) newSlot(vaultID, userID, name string, role Role, version int, passphrase string, totpSecret []byte) (*store.Slot, *store.SlotSecrets, error) {
	params := v.kdfParams()
	kek, err := store.DeriveKEK(passphrase, params)
	if err != nil {
		return nil, nil, err
	}
	defer store.Zero(kek)
	secrets := store.NewSlotSecrets(append([]byte(nil), totpSecret...))
	slot := &store.Slot{
		UserID: userID, Name: name, Role: string(role), Version: version, KDF: &params,
		PublicKey: secrets.PublicKey(),
		Wrapped:   store.WrapSlot(kek, vaultID, userID, version, secrets),
	}
	return slot, secrets, nil
}

// grant seals kGen to the slot's owner, and kClin when the role is clinical.
func grant(vaultID string, slot *store.Slot, kGen, kClin []byte) error {
	slot.Grants = map[store.Kind][]byte{}
	g, err := store.SealGrant(slot.PublicKey, vaultID, slot.UserID, slot.Role, store.General, kGen)
	if err != nil {
		return err
	}
	slot.Grants[store.General] = g
	slot.GeneralKeyID = generalLine.id(kGen)
	slot.ClinicalKeyID = ""
	if Role(slot.Role).Clinical() {
		c, err := store.SealGrant(slot.PublicKey, vaultID, slot.UserID, slot.Role, store.Clinical, kClin)
		if err != nil {
			return err
		}
		slot.Grants[store.Clinical] = c
		slot.ClinicalKeyID = clinicalKeyID(kClin)
	}
	return nil
}

// grantOne seals key (of kind) to the slot's owner in place of the grant
// of that kind the slot had, leaving the other.
func grantOne(vaultID string, slot *store.Slot, kind store.Kind, key []byte) error {
	g, err := store.SealGrant(slot.PublicKey, vaultID, slot.UserID, slot.Role, kind, key)
	if err != nil {
		return err
	}
	if slot.Grants == nil {
		slot.Grants = map[store.Kind][]byte{}
	}
	slot.Grants[kind] = g
	if kind == store.General {
		slot.GeneralKeyID = generalLine.id(key)
	} else {
		slot.ClinicalKeyID = clinicalLine.id(key)
	}
	return nil
}

// recoveryUserID is the slot id of the recovery key.
const recoveryUserID = "recovery"

func newRecoverySlot(vaultID string, raw, kGen, kClin []byte) (*store.Slot, error) {
	kek, err := store.RecoveryKEK(raw, vaultID)
	if err != nil {
		return nil, err
	}
	defer store.Zero(kek)
	secrets := store.NewSlotSecrets(nil)
	defer secrets.Wipe()
	slot := &store.Slot{
		UserID: recoveryUserID, Name: "recovery key", Role: string(Admin), Version: 1,
		PublicKey: secrets.PublicKey(),
		Wrapped:   store.WrapSlot(kek, vaultID, recoveryUserID, 1, secrets),
	}
	return slot, grant(vaultID, slot, kGen, kClin)
}

// recoveryIdentity opens the recovery slot's X25519 identity with a typed
// recovery key.
func recoveryIdentity(kr *store.Keyring, recoveryKey string) ([]byte, error) {
	raw, err := ParseRecoveryKey(recoveryKey)
	if err != nil {
		return nil, err
	}
	defer store.Zero(raw)
	rs := kr.Recovery
	if rs == nil {
		return nil, fmt.Errorf("this vault has no recovery slot: %w", ErrBadRecoveryKey)
	}
	kek, err := store.RecoveryKEK(raw, kr.VaultID)
	if err != nil {
		return nil, err
	}
	defer store.Zero(kek)
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, rs.UserID, rs.Version, rs.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("the recovery key does not open this vault: %w", ErrBadRecoveryKey)
	}
	id := append([]byte(nil), secrets.Identity...)
	secrets.Wipe()
	return id, nil
}

// openRecoverySlot opens the keyring's recovery slot with a typed
// recovery key and returns the general and clinical database keys.
func openRecoverySlot(kr *store.Keyring, recoveryKey string) (kGen, kClin []byte, err error) {
	raw, err := ParseRecoveryKey(recoveryKey)
	if err != nil {
		return nil, nil, err
	}
	defer store.Zero(raw)
	rs := kr.Recovery
	if rs == nil {
		return nil, nil, fmt.Errorf("this vault has no recovery slot: %w", ErrBadRecoveryKey)
	}
	kek, err := store.RecoveryKEK(raw, kr.VaultID)
	if err != nil {
		return nil, nil, err
	}
	defer store.Zero(kek)
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, rs.UserID, rs.Version, rs.Wrapped)
	if err != nil {
		return nil, nil, fmt.Errorf("the recovery key does not open this vault: %w", ErrBadRecoveryKey)
	}
	defer secrets.Wipe()
	if kGen, err = store.OpenGrant(secrets.Identity, kr.VaultID, rs.UserID, rs.Role, store.General, rs.Grants[store.General]); err != nil {
		return nil, nil, fmt.Errorf("the recovery slot is damaged: %w", err)
	}
	if kClin, err = store.OpenGrant(secrets.Identity, kr.VaultID, rs.UserID, rs.Role, store.Clinical, rs.Grants[store.Clinical]); err != nil {
		store.Zero(kGen)
		return nil, nil, fmt.Errorf("the recovery slot is damaged: %w", err)
	}
	return kGen, kClin, nil
}

// The recovery key is 160 random bits in Crockford base32 (no I, L, O, U),
// then a 4-character check, in groups of four: typeable, and a typo is
// caught before any key is tried.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func recoveryCheck(raw []byte) string {
	sum := sha256.Sum256(append([]byte(store.LabelRecoveryCheck), raw...))
	return crockford.EncodeToString(sum[:5])[:4]
}

func newRecoveryKey() ([]byte, string) {
	raw := store.NewKey()[:20]
	s := crockford.EncodeToString(raw) + recoveryCheck(raw)
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return raw, strings.Join(groups, "-")
}

// ParseRecoveryKey reads a typed recovery key, forgiving case, spaces,
// dashes and the letters I, L, O for 1, 1, 0.
func ParseRecoveryKey(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t', '\n', '\r':
			return -1
		case 'o', 'O':
			return '0'
		case 'i', 'I', 'l', 'L':
			return '1'
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
	if len(s) != 36 {
		return nil, fmt.Errorf("a recovery key has 36 characters (9 groups of 4), this has %d: %w", len(s), ErrBadRecoveryKey)
	}
	raw, err := crockford.DecodeString(s[:32])
	if err != nil {
		return nil, fmt.Errorf("the recovery key has a character that is not in it: %w", ErrBadRecoveryKey)
	}
	if recoveryCheck(raw) != s[32:] {
		return nil, fmt.Errorf("the recovery key has a typo (its check group does not match): %w", ErrBadRecoveryKey)
	}
	return raw, nil
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// hostName names this machine in the device roster.
func hostName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "this computer"
}
