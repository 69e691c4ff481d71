package sync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Pairing, version 2. The one-time code has two parts: a public locator
// (the first group, 25 random bits) that names the invitation's place,
// pairing/<locator>/, and reveals nothing of the rest; and a secret (the
// other two groups, 50 random bits) that is stretched with Argon2id under a
// random salt the offer publishes, before anything derived from it is
// written. Every pairing file is sealed under a key derived from the
// stretched secret, so trying a guess of the secret against the files
// costs one Argon2id run, and no work carries over from one invitation to
// the next. See pairing_proto.go for the messages.

// PairingExpiry is how long a code works.
const PairingExpiry = 10 * time.Minute

// PairingKDF is the Argon2id cost of stretching a code's secret: RFC
// 9106's second recommended option (t=3, 64 MiB, 4 lanes), the floor of
// every passphrase slot too. On a 2-core test machine it takes 0.1 to 0.25
// s; guessing the 50-bit secret within the code's 10 minutes would need
// about 10^11 such runs a second.
var PairingKDF = store.MinKDF

// maxPairingPasses caps the passes an offer may ask of a joining computer,
// below a sign-in's own bound (store.KDFParams.Check, which an offer
// meets too): an offer swapped by whoever holds the folder must not make
// it run out of memory or spin for minutes before the box fails to open.
const maxPairingPasses = 12

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

const (
	locatorLen = 5  // 25 bits, public
	secretLen  = 10 // 50 bits, stretched
)

var (
	// ErrPairing means a pairing file did not authenticate with the code
	// (a mistyped code, or a forged file).
	ErrPairing = errors.New("sync: the pairing code does not match")
	// ErrPairingExpired means the invitation's 10 minutes are over.
	ErrPairingExpired = errors.New("sync: the pairing code has expired; ask for a new one")
	// ErrNoInvitation means no invitation opens with the code: none at its
	// place, a mistyped code, or a code of the wrong shape.
	ErrNoInvitation = fmt.Errorf("sync: no invitation for that code: %w", ErrPairing)
	// ErrPairingAnswered means another computer answered the invitation
	// first; the joining computer does not answer too.
	ErrPairingAnswered = fmt.Errorf("another computer already answered this code; ask for a new one: %w", ErrPairing)
	// ErrPairingContested means more than one computer answered one
	// invitation: someone else had the code, so the invitation is void.
	ErrPairingContested = errors.New("sync: more than one computer answered this code, so it is void; make a new code")
	// ErrPairingBroken means an answer's reveal does not match what it
	// committed to (or is malformed); the invitation is void.
	ErrPairingBroken = fmt.Errorf("sync: the answer does not match what the other computer committed to: %w", ErrPairing)
	// ErrPairingClosed means the invitation was withdrawn (cancelled, timed
	// out) while this computer waited.
	ErrPairingClosed = errors.New("sync: the invitation was withdrawn; ask for a new code")
)

// NewPairingCode returns a one-time code of 75 random bits, typed as three
// groups of five Crockford base-32 characters: the first group is the
// public locator, the other two the 50-bit secret.
func NewPairingCode() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := crockford.EncodeToString(b)[:locatorLen+secretLen]
	return s[:5] + "-" + s[5:10] + "-" + s[10:]
}

// ParsePairingCode splits a typed code into its locator and its secret,
// forgiving case, spaces, dashes and the letters Crockford reads as
// digits. A code of the wrong shape is ErrNoInvitation.
func ParsePairingCode(code string) (locator, secret string, err error) {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	c = strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(c)
	if len(c) != locatorLen+secretLen {
		return "", "", ErrNoInvitation
	}
	for _, r := range c {
		if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZ", r) {
			return "", "", ErrNoInvitation
		}
	}
	return c[:locatorLen], c[locatorLen:], nil
}

// PairingDir is where an invitation's files live.
func PairingDir(locator string) string { return "pairing/" + locator }

func checkPairingKDF(p store.KDFParams) error {
	err := p.Check()
	if err == nil && p.Time > maxPairingPasses {
		err = fmt.Errorf("%d passes, more than the %d a pairing asks", p.Time, maxPairingPasses)
	}
	if err != nil {
		return fmt.Errorf("sync: the invitation's key-derivation parameters are out of bounds (%v): %w", err, ErrPairing)
	}
	return nil
}

// PairingKey is the key an invitation's files are sealed under:
// Argon2id(secret, the offer's salt, kdf), then HKDF bound to the locator.
// Both computers run it once.
func PairingKey(secret, locator string, kdf store.KDFParams) ([]byte, error) {
	if err := checkPairingKDF(kdf); err != nil {
		return nil, err
	}
	stretched, err := store.DeriveKEK(secret, kdf)
	if err != nil {
		return nil, err
	}
	defer store.Zero(stretched)
	return store.DeriveKey(stretched, []byte(locator), store.LabelPairBoxV2, 32)
}

func pairingAD(locator, kind string) []byte {
	return []byte(store.LabelPairFile + "\x00" + locator + "\x00" + kind)
}

// SealPairing seals a pairing file's body (XChaCha20-Poly1305) under key,
// bound to the invitation's locator and the file's kind ("offer",
// "commit", "nonce", "reveal", "void"), so no file can stand in for
// another.
func SealPairing(key []byte, locator, kind string, body []byte) []byte {
	return store.SealBox(key, body, pairingAD(locator, kind))
}

// OpenPairing opens what SealPairing sealed; ErrPairing when it does not
// authenticate.
func OpenPairing(key []byte, locator, kind string, box []byte) ([]byte, error) {
	body, err := store.OpenBox(key, box, pairingAD(locator, kind))
	if err != nil {
		return nil, ErrPairing
	}
	return body, nil
}

// OfferFile is the offer as published: the Argon2id parameters and salt in
// the clear (the joining computer needs them to stretch the code), and the
// sealed offer.
type OfferFile struct {
	Version int             `json:"v"`
	KDF     store.KDFParams `json:"kdf"`
	Box     []byte          `json:"box"`
}

// Offer is what the inviting device publishes.
type Offer struct {
	VaultID   string    `json:"vault_id"`
	DeviceID  string    `json:"device_id"`
	PublicKey []byte    `json:"public_key"` // X25519
	Expires   time.Time `json:"expires"`
}

// Request is what the joining device answers.
type Request struct {
	DeviceID   string `json:"device_id"`
	Name       string `json:"name"`
	PublicKey  []byte `json:"public_key"`  // X25519
	SigningKey []byte `json:"signing_key"` // Ed25519
}

// PairingReveal is the joining computer's contribution: its answer and a
// random 256-bit nonce. It is committed to first and revealed only after
// the inviting computer has published its own nonce.
type PairingReveal struct {
	Request
	Nonce []byte `json:"nonce"`
}

// PairingCommitNote is the body of a commit file.
type PairingCommitNote struct {
	Commit []byte `json:"commit"`
}

// PairingNonceNote is the body of the inviting computer's nonce file: its
// nonce, and the commitment it answers.
type PairingNonceNote struct {
	Nonce  []byte `json:"nonce"`
	Commit []byte `json:"commit"`
}

func lengthPrefixed(h interface{ Write([]byte) (int, error) }, parts ...[]byte) {
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
}

// PairingCommitment is the commitment to a reveal: SHA-256 over the label,
// the locator and the reveal's exact bytes.
func PairingCommitment(locator string, reveal []byte) []byte {
	h := sha256.New()
	lengthPrefixed(h, []byte(store.LabelPairCommit), []byte(locator), reveal)
	return h.Sum(nil)
}

// FingerprintDigits is how many digits the fingerprint shows: 12, about
// 39.9 bits. The commitment leaves an attacker one blind try per
// invitation (a second answer voids it), so the chance that a forged
// answer shows the admin's number is one in 10^12.
const FingerprintDigits = 12

// PairingFingerprint is the number both screens show, from the offer the
// joining computer opened, the inviting computer's nonce and the joining
// computer's reveal (its nonce, keys, device id and name): neither side
// can steer it once the other's part is fixed.
func PairingFingerprint(locator string, offer, nonce, reveal []byte) string {
	h := sha256.New()
	lengthPrefixed(h, []byte(store.LabelPairFingerprintV2), []byte(locator), offer, nonce, reveal)
	sum := h.Sum(nil)
	n := binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000_000
	d := fmt.Sprintf("%012d", n)
	return d[:3] + " " + d[3:6] + " " + d[6:9] + " " + d[9:]
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return b
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// SealTo encrypts plaintext to an X25519 public key (store.SealTo under
// the sealed-box label), binding purpose as associated data.
func SealTo(recipient []byte, purpose string, plaintext []byte) ([]byte, error) {
	return store.SealTo(recipient, store.LabelSealedBox, []byte(purpose), plaintext)
}

// OpenFrom decrypts what SealTo sealed to the key pair of priv.
func OpenFrom(priv []byte, purpose string, box []byte) ([]byte, error) {
	pt, err := store.OpenWith(priv, store.LabelSealedBox, []byte(purpose), box)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
