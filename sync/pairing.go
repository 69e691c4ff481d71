package sync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Labels for pairing and sealed boxes.
const (
	PairingExpiry = 10 * time.Minute
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

var (
	// ErrPairing means a pairing file did not authenticate with the code
	// (a mistyped code, or a forged file).
	ErrPairing = errors.New("sync: the pairing code does not match")
	// ErrPairingExpired means the invitation's 10 minutes are over.
	ErrPairingExpired = errors.New("sync: the pairing code has expired; ask for a new one")
)

// NewPairingCode returns a one-time code of 50 random bits, typed as two
// groups of five characters.
func NewPairingCode() string {
	b := make([]byte, 7)
	rand.Read(b)
	s := crockford.EncodeToString(b)[:10]
	return s[:5] + "-" + s[5:]
}

func normCode(code string) string {
	code = strings.ToUpper(strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(code))
	return code
}

// PairingID is where in the folder a code's pairing files live; it reveals
// nothing of the code.
func PairingID(code string) string {
	k, _ := store.DeriveKey([]byte(normCode(code)), nil, store.LabelPairID, 16)
	return hex.EncodeToString(k)
}

// pairKey is the key that seals pairing files: derived from the one-time
// code, so only who holds the code reads or writes them.
func pairKey(code string) []byte {
	k, _ := store.DeriveKey([]byte(normCode(code)), nil, store.LabelPairBox, 32)
	return k
}

// MarshalPairing seals v under a key derived from the code
// (XChaCha20-Poly1305): a pairing file shows nothing of the practice or the
// computer, and a file made without the code does not open.
func MarshalPairing(code string, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return store.SealBox(pairKey(code), body, []byte(store.LabelPairBox)), nil
}

// UnmarshalPairing opens a pairing file with the code and decodes it into v.
func UnmarshalPairing(code string, data []byte, v any) error {
	body, err := store.OpenBox(pairKey(code), data, []byte(store.LabelPairBox))
	if err != nil {
		return ErrPairing
	}
	return json.Unmarshal(body, v)
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

// Fingerprint is the short number both screens show: the admin confirms
// only if they match, which defeats anyone who guessed or overheard the
// code and answered first.
func Fingerprint(offer Offer, req Request) string {
	h := sha256.New()
	h.Write([]byte(store.LabelPairFingerprint))
	h.Write(offer.PublicKey)
	h.Write(req.PublicKey)
	h.Write(req.SigningKey)
	h.Write([]byte(offer.VaultID + req.DeviceID))
	sum := h.Sum(nil)
	n := uint64(0)
	for _, b := range sum[:8] {
		n = n<<8 | uint64(b)
	}
	d := fmt.Sprintf("%010d", n%10_000_000_000)
	return d[:3] + " " + d[3:6] + " " + d[6:]
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
