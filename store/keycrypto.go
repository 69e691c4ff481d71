package store

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/text/unicode/norm"
)

// Domain-separation labels: every one ClinicVault uses, in one list.
// Each names what the bytes are for and carries a version; a change of
// layout gets a new label rather than a silent reuse. (HKDF infos,
// signature prefixes and associated data all come from here.)
const (
	LabelSlot              = "clinicvault.org/v1/slot"                      // a person's key slot: their secrets sealed under the passphrase's (or recovery key's) KEK
	LabelGrant             = "clinicvault.org/v1/grant"                     // a database key sealed to one person (X25519)
	LabelRecoveryKEK       = "clinicvault.org/v1/recovery-kek"              // the KEK derived from the recovery key
	LabelRecoveryCheck     = "clinicvault.org/v1/recovery-check"            // the check that a recovery key is the vault's
	LabelBackup            = "clinicvault.org/v1/backup"                    // the key a backup file's chunks are sealed under
	LabelBackupKey         = "clinicvault.org/v1/backup-key"                // a backup's key sealed to one person
	LabelAuditChain        = "clinicvault.org/v1/audit-chain"               // the hash chain of the audit log
	LabelAuditFile         = "clinicvault.org/v1/audit-file"                // a published audit file's signatures
	LabelAuditKey          = "clinicvault.org/v1/audit-key"                 // the key published audit files are sealed under
	LabelSyncKey           = "clinicvault.org/v1/sync-key"                  // epoch 0's sync keys, from the database keys
	LabelSyncBatch         = "clinicvault.org/v1/sync-batch"                // a sync batch's signature by its signer
	LabelSyncBatchDevice   = "clinicvault.org/v1/sync-batch-device"         // a sync batch's signature by its computer
	LabelEpochKeys         = "clinicvault.org/v1/epoch-keys"                // a key epoch's files, and the clinical key's wrap per epoch
	LabelEpochFile         = "clinicvault.org/v1/epoch-file"                // an epoch file's admin signature
	LabelEpochUser         = "clinicvault.org/v1/epoch-keys/user"           // an epoch's keys sealed to one person
	LabelEpochUserOnDevice = "clinicvault.org/v1/epoch-keys/user-on-device" // an epoch's keys sealed to one person on one computer
	LabelClinicalKeyChain  = "clinicvault.org/v1/clinical-key-chain"        // an old clinical key sealed under its successor
	LabelClinicalKeyID     = "clinicvault.org/v1/clinical-key-id"           // a clinical key's public id
	LabelGeneralKeyChain   = "clinicvault.org/v1/general-key-chain"         // an old general key sealed under its successor
	LabelGeneralKeyID      = "clinicvault.org/v1/general-key-id"            // a general key's public id
	LabelPairingGrant      = "clinicvault.org/v1/pairing-grant"             // what an admin's computer seals to a computer joining
	LabelPairID            = "clinicvault.org/v1/pair-id"                   // retired (v1 pairing, unstretched code): kept so that no new layout reuses it
	LabelPairBox           = "clinicvault.org/v1/pair-box"                  // retired (v1 pairing, unstretched code): kept so that no new layout reuses it
	LabelPairFingerprint   = "clinicvault.org/v1/pair-fingerprint"          // retired (v1 pairing, no commitment): kept so that no new layout reuses it
	LabelPairBoxV2         = "clinicvault.org/v2/pair-box"                  // the key pairing files are sealed under: HKDF of the Argon2id-stretched code secret
	LabelPairFile          = "clinicvault.org/v2/pair-file"                 // a pairing file's associated data: the invitation's locator and the file's kind
	LabelPairCommit        = "clinicvault.org/v2/pair-commit"               // a joining computer's commitment to its answer, published before it is revealed
	LabelPairFingerprintV2 = "clinicvault.org/v2/pair-fingerprint"          // the fingerprint both computers show: both nonces, both answers
	LabelSealedBox         = "clinicvault.org/v1/sealed-box"                // a box sealed to an X25519 public key
	LabelRelayVault        = "clinicvault.org/v1/relay-vault"               // a vault's opaque name on a relay (its stream and subjects)
	LabelRelayDevice       = "clinicvault.org/v1/relay-device"              // a computer's opaque name on a relay (its subjects)
	LabelRelayAccess       = "clinicvault.org/v1/relay-access"              // a relay's access list, signed by a computer of the practice
)

// KDFParams are the Argon2id parameters of one slot, stored beside it.
type KDFParams struct {
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
	Salt      []byte `json:"salt"`
}

// MinKDF is the floor for every passphrase slot: RFC 9106's second
// recommended option (t=3, m=64 MiB, p=4). Slots below it are refused.
var MinKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// maxKDFMemoryKiB caps calibration at 512 MiB: front-desk PCs with 4 GiB of
// memory must still sign in while a browser and the practice system run.
const maxKDFMemoryKiB = 512 * 1024

// ErrWeakKDF means a slot's Argon2id parameters are below MinKDF.
var ErrWeakKDF = errors.New("store: key-derivation parameters below the minimum")

// ErrUnwrap means a slot or grant did not open: wrong passphrase, wrong
// recovery key, or altered bytes. The two are indistinguishable by design.
var ErrUnwrap = errors.New("store: key material did not open")

// MaxKDF bounds every passphrase slot from above, so that a vault.keys
// edited by hand (or by anyone with the folder) cannot make a sign-in run
// out of memory or spin for hours before anything is derived. Each bound
// is twice what CalibrateKDF can produce or more: memory 1 GiB (it stops
// at 512 MiB; 1 GiB is also what a pairing offer may ask), 16 lanes (it
// uses at most 8), 64 passes (it adds passes only once memory is at 512
// MiB, and never beyond MaxKDFWork). The salt is 16 bytes; 64 is allowed.
var MaxKDF = KDFParams{Time: 64, MemoryKiB: 1024 * 1024, Threads: 16}

// MaxKDFWork bounds passes × memory (in KiB): 32 passes over 512 MiB, 16
// over 1 GiB. That is a few seconds on a slow front-desk PC, against the
// half second calibration aims at; calibration itself never goes past it.
const MaxKDFWork = 32 * 512 * 1024

// maxKDFSalt is the longest salt accepted.
const maxKDFSalt = 64

// ErrCostlyKDF means a slot's Argon2id parameters are above MaxKDF: the
// file was edited, or damaged. Nothing is derived.
var ErrCostlyKDF = errors.New("store: key-derivation parameters above the maximum")

// KDFLimitError says which of a slot's Argon2id parameters is out of
// bounds. It wraps ErrWeakKDF (below MinKDF) or ErrCostlyKDF (above
// MaxKDF).
type KDFLimitError struct {
	Param string // "time", "memory", "threads", "salt" or "work (passes × memory)"
	Value uint64
	Limit uint64
	Err   error // ErrWeakKDF or ErrCostlyKDF
}

func (e *KDFLimitError) Error() string {
	unit := ""
	if e.Param == "memory" {
		unit = " KiB"
	}
	word := "at least"
	if errors.Is(e.Err, ErrCostlyKDF) {
		word = "at most"
	}
	return fmt.Sprintf("the key-derivation %s in vault.keys is %d%s, it must be %s %d%s (the file was changed by hand or is damaged; restore it from a backup): %v",
		e.Param, e.Value, unit, word, e.Limit, unit, e.Err)
}

func (e *KDFLimitError) Unwrap() error { return e.Err }

// Check reports whether p is within MinKDF and MaxKDF, as a
// *KDFLimitError; it derives nothing.
func (p KDFParams) Check() error {
	weak := func(param string, v, min uint64) error {
		return &KDFLimitError{Param: param, Value: v, Limit: min, Err: ErrWeakKDF}
	}
	costly := func(param string, v, max uint64) error {
		return &KDFLimitError{Param: param, Value: v, Limit: max, Err: ErrCostlyKDF}
	}
	switch {
	case p.Time < MinKDF.Time:
		return weak("time", uint64(p.Time), uint64(MinKDF.Time))
	case p.MemoryKiB < MinKDF.MemoryKiB:
		return weak("memory", uint64(p.MemoryKiB), uint64(MinKDF.MemoryKiB))
	case p.Threads < MinKDF.Threads:
		return weak("threads", uint64(p.Threads), uint64(MinKDF.Threads))
	case len(p.Salt) < 16:
		return weak("salt", uint64(len(p.Salt)), 16)
	case p.Time > MaxKDF.Time:
		return costly("time", uint64(p.Time), uint64(MaxKDF.Time))
	case p.MemoryKiB > MaxKDF.MemoryKiB:
		return costly("memory", uint64(p.MemoryKiB), uint64(MaxKDF.MemoryKiB))
	case p.Threads > MaxKDF.Threads:
		return costly("threads", uint64(p.Threads), uint64(MaxKDF.Threads))
	case len(p.Salt) > maxKDFSalt:
		return costly("salt", uint64(len(p.Salt)), maxKDFSalt)
	case uint64(p.Time)*uint64(p.MemoryKiB) > MaxKDFWork:
		return costly("work (passes × memory)", uint64(p.Time)*uint64(p.MemoryKiB), MaxKDFWork)
	}
	return nil
}

// WithNewSalt returns p with a fresh random 16-byte salt.
func (p KDFParams) WithNewSalt() KDFParams {
	p.Salt = randomBytes(16)
	return p
}

// NormalizePassphrase returns the NFKC form of a passphrase, so that the
// same words typed on a Mac and a Windows keyboard derive the same key.
func NormalizePassphrase(s string) string { return norm.NFKC.String(s) }

// DeriveKEK derives a slot's key-encryption key from a passphrase with
// Argon2id. Parameters below MinKDF or above MaxKDF are refused (a
// *KDFLimitError) before anything is derived.
func DeriveKEK(passphrase string, p KDFParams) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return argon2.IDKey([]byte(NormalizePassphrase(passphrase)), p.Salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
}

// CalibrateKDF picks Argon2id parameters at or above MinKDF that take about
// target on this machine: memory grows first (up to 512 MiB), then passes.
func CalibrateKDF(target time.Duration) KDFParams {
	p := MinKDF.WithNewSalt()
	if n := runtime.NumCPU(); n > int(p.Threads) && n <= 8 {
		p.Threads = uint8(n)
	}
	measure := func() time.Duration {
		start := time.Now()
		argon2.IDKey([]byte("calibration"), p.Salt, p.Time, p.MemoryKiB, p.Threads, 32)
		return time.Since(start)
	}
	d := measure()
	for d < target/2 && p.MemoryKiB*2 <= maxKDFMemoryKiB {
		p.MemoryKiB *= 2
		d = measure()
	}
	if d > 0 && d < target {
		t := float64(p.Time)*float64(target)/float64(d) + 0.5
		// Never past what a sign-in accepts (MaxKDF, MaxKDFWork).
		t = min(t, float64(MaxKDF.Time), float64(MaxKDFWork/uint64(p.MemoryKiB)))
		if uint32(t) > p.Time {
			p.Time = uint32(t)
		}
	}
	return p
}

// RecoveryKEK derives the recovery slot's key-encryption key from the
// recovery key's 160 random bits. The input is already uniformly random,
// so HKDF is enough; no passphrase stretching is needed.
func RecoveryKEK(recovery []byte, vaultID string) ([]byte, error) {
	return hkdf.Key(sha256.New, recovery, []byte(vaultID), LabelRecoveryKEK, 32)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

// NewKey returns a fresh random 256-bit key.
func NewKey() []byte { return randomBytes(KeySize) }

// Zero overwrites b. Go may have copied the bytes elsewhere; this is the
// best effort the language allows.
func Zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// ad builds associated data from length-prefixed fields, so that no two
// different field lists give the same bytes.
func ad(fields ...string) []byte {
	var buf bytes.Buffer
	for _, f := range fields {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		buf.Write(n[:])
		buf.WriteString(f)
	}
	return buf.Bytes()
}

// DeriveKey derives n bytes from secret for the purpose label names
// (HKDF-SHA256, salt as given): every key ClinicVault derives from another
// comes from here.
func DeriveKey(secret, salt []byte, label string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, salt, label, n)
}

// SealBox encrypts plaintext under a 32-byte key with XChaCha20-Poly1305 and
// a random nonce, binding assoc (nil for none): nonce || ciphertext.
// Every box ClinicVault seals with a shared key comes from here (backups'
// chunked stream aside, in backupfile.go).
func SealBox(key, plaintext, assoc []byte) []byte { return seal(key, plaintext, assoc) }

// OpenBox opens a box made by SealBox with the same assoc; ErrUnwrap when it
// does not authenticate.
func OpenBox(key, box, assoc []byte) ([]byte, error) { return open(key, box, assoc) }

func seal(key, plaintext, assoc []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err)
	}
	nonce := randomBytes(aead.NonceSize())
	return aead.Seal(nonce, nonce, plaintext, assoc)
}

func open(key, box, assoc []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(box) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrUnwrap
	}
	pt, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], assoc)
	if err != nil {
		return nil, ErrUnwrap
	}
	return pt, nil
}

// SlotSecrets is what a passphrase (or the recovery key) unwraps: the user's
// X25519 identity, which opens their key grants, their Ed25519 signing seed
// for sync, and their TOTP secret.
type SlotSecrets struct {
	Identity    []byte // X25519 private key, 32 bytes
	SigningSeed []byte // Ed25519 seed, 32 bytes
	TOTPSecret  []byte // 20 bytes (160 bits); empty for the recovery slot
}

const secretsVersion = 1

// NewSlotSecrets returns fresh identity and signing keys and the given TOTP secret.
func NewSlotSecrets(totpSecret []byte) *SlotSecrets {
	return &SlotSecrets{Identity: randomBytes(32), SigningSeed: randomBytes(32), TOTPSecret: totpSecret}
}

// PublicKey returns the X25519 public key of the identity.
func (s *SlotSecrets) PublicKey() []byte {
	k, err := ecdh.X25519().NewPrivateKey(s.Identity)
	if err != nil {
		panic(err)
	}
	return k.PublicKey().Bytes()
}

// Wipe zeroes the secrets.
func (s *SlotSecrets) Wipe() {
	if s == nil {
		return
	}
	Zero(s.Identity)
	Zero(s.SigningSeed)
	Zero(s.TOTPSecret)
}

func (s *SlotSecrets) marshal() []byte {
	b := []byte{secretsVersion}
	b = append(b, s.Identity...)
	b = append(b, s.SigningSeed...)
	return append(b, s.TOTPSecret...)
}

func unmarshalSecrets(b []byte) (*SlotSecrets, error) {
	if len(b) < 65 || b[0] != secretsVersion {
		return nil, ErrUnwrap
	}
	s := &SlotSecrets{
		Identity:    append([]byte(nil), b[1:33]...),
		SigningSeed: append([]byte(nil), b[33:65]...),
		TOTPSecret:  append([]byte(nil), b[65:]...),
	}
	Zero(b)
	return s, nil
}

// WrapSlot encrypts secrets under kek with XChaCha20-Poly1305, binding the
// vault, the user and the slot version as associated data.
func WrapSlot(kek []byte, vaultID, userID string, version int, s *SlotSecrets) []byte {
	pt := s.marshal()
	defer Zero(pt)
	return seal(kek, pt, ad(LabelSlot, vaultID, userID, fmt.Sprint(version)))
}

// UnwrapSlot opens a slot; any mismatch is ErrUnwrap.
func UnwrapSlot(kek []byte, vaultID, userID string, version int, box []byte) (*SlotSecrets, error) {
	pt, err := open(kek, box, ad(LabelSlot, vaultID, userID, fmt.Sprint(version)))
	if err != nil {
		return nil, err
	}
	return unmarshalSecrets(pt)
}

// SealTo encrypts plaintext to an X25519 public key: an ephemeral key,
// ECDH, HKDF-SHA256 (salt: both public keys, info: label), then
// XChaCha20-Poly1305 with assoc as associated data. The box is the 32-byte
// ephemeral public key, the nonce and the ciphertext.
func SealTo(recipient []byte, label string, assoc, plaintext []byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(recipient)
	if err != nil {
		return nil, fmt.Errorf("store: bad recipient key: %w", err)
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return nil, err
	}
	epub := eph.PublicKey().Bytes()
	wk, err := hkdf.Key(sha256.New, shared, append(append([]byte{}, epub...), recipient...), label, 32)
	Zero(shared)
	if err != nil {
		return nil, err
	}
	defer Zero(wk)
	return append(epub, seal(wk, plaintext, assoc)...), nil
}

// OpenWith opens what SealTo sealed to identity's public key; any mismatch
// is ErrUnwrap.
func OpenWith(identity []byte, label string, assoc, box []byte) ([]byte, error) {
	if len(box) < 32 {
		return nil, ErrUnwrap
	}
	priv, err := ecdh.X25519().NewPrivateKey(identity)
	if err != nil {
		return nil, ErrUnwrap
	}
	epub, err := ecdh.X25519().NewPublicKey(box[:32])
	if err != nil {
		return nil, ErrUnwrap
	}
	shared, err := priv.ECDH(epub)
	if err != nil {
		return nil, ErrUnwrap
	}
	wk, err := hkdf.Key(sha256.New, shared, append(append([]byte{}, box[:32]...), priv.PublicKey().Bytes()...), label, 32)
	Zero(shared)
	if err != nil {
		return nil, err
	}
	defer Zero(wk)
	return open(wk, box[32:], assoc)
}

// SealGrant seals a database key to a user's X25519 public key. The
// associated data binds the vault, the user, the user's role and the key's
// class, so a grant neither moves to another user nor survives an edited
// role.
func SealGrant(recipient []byte, vaultID, userID, role string, class Kind, key []byte) ([]byte, error) {
	return SealTo(recipient, LabelGrant, ad(LabelGrant, vaultID, userID, role, string(class)), key)
}

// OpenGrant opens a grant with the user's X25519 identity.
func OpenGrant(identity []byte, vaultID, userID, role string, class Kind, box []byte) ([]byte, error) {
	return OpenWith(identity, LabelGrant, ad(LabelGrant, vaultID, userID, role, string(class)), box)
}
