package sync

import (
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/clinicvault/clinicvault/store"
	"golang.org/x/crypto/chacha20poly1305"
)

// Class is which key seals a batch: general data, or clinical data that
// only clinicians' keys open.
type Class uint8

// The two classes.
const (
	General  Class = 1
	Clinical Class = 2
)

func (c Class) String() string {
	switch c {
	case General:
		return "general"
	case Clinical:
		return "clinical"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Record is one change record as it travels: columns of one row set to
// values at one hybrid-logical-clock time, by an author on a device. A
// value of nil is SQL NULL.
//
// Version 2 envelopes carry the columns as a map ("m"); version 1 carried
// one column per record ("c", "v"). Open turns both into Columns.
type Record struct {
	HLC     string             `json:"h"`
	Table   string             `json:"t"`
	RowID   string             `json:"r"`
	Columns map[string]*string `json:"m,omitempty"`
	Column  string             `json:"c,omitempty"` // version 1 only
	Value   *string            `json:"v,omitempty"` // version 1 only
	Device  string             `json:"d"`
	Author  string             `json:"a"`
}

// Fields is the number of column values the record carries.
func (r Record) Fields() int { return len(r.Columns) }

// Header is the clear part of a batch, authenticated as associated data.
type Header struct {
	VaultID  string // UUID
	Epoch    uint32
	Class    Class
	Device   string // UUID of the device whose log this is
	Seq      uint64 // 1, 2, 3… per (device, class)
	PrevHash [32]byte
	Signer   string // UUID of the user whose Ed25519 key signed the records
	Nonce    [24]byte
	// Version is the format version read from the envelope (written:
	// the newest).
	Version byte `json:"-"`
}

// Batch is a decoded, verified batch.
type Batch struct {
	Header  Header
	Records []Record
	Hash    [32]byte // SHA-256 of the whole envelope: the next batch's PrevHash
}

// Envelope layout (all integers big-endian):
//
//	magic "CVSB" | version 3 | vault id 16 | epoch 4 | class 1 | device 16 |
//	seq 8 | prev hash 32 | signer 16 | nonce 24 | ciphertext… | device signature 64
//
// The ciphertext is XChaCha20-Poly1305 under the class's sync key for the
// epoch, with the header as associated data. Its plaintext is the Ed25519
// signature (64 bytes) by the signer over "clinicvault.org/v1/sync-batch"
// | header | body, then the body: the records as JSON, deflated. Version 3
// ends with the Ed25519 signature of the device whose log this is over
// "clinicvault.org/v1/sync-batch-device" | header | ciphertext: it binds
// the batch to that device's log and can be checked without the sync key
// (a computer that keeps clinical batches sealed checks it too). Versions
// 1 and 2 had no device signature.
const (
	magic        = "CVSB"
	version      = 3 // written; 1, 2 and 3 are read
	headerSize   = 4 + 1 + 16 + 4 + 1 + 16 + 8 + 32 + 16 + 24
	maxEnvelope  = 64 << 20
	maxPlaintext = 256 << 20
)

var (
	// ErrMalformed means the bytes are not a batch of this format.
	ErrMalformed = errors.New("sync: not a well-formed batch")
	// ErrNewerFormat means the batch was written by a newer version of
	// ClinicVault: not refused, but left until this computer is updated.
	ErrNewerFormat = errors.New("sync: batch written by a newer version of ClinicVault")
	// ErrWrongVault means the batch belongs to another vault.
	ErrWrongVault = errors.New("sync: batch of another vault")
	// ErrDecrypt means the batch does not open under the expected key:
	// altered, truncated, or sealed under another key or epoch.
	ErrDecrypt = errors.New("sync: batch does not authenticate")
	// ErrBadSignature means the records were not signed by the named user.
	ErrBadSignature = errors.New("sync: batch signature does not verify")
	// ErrBadDeviceSignature means the batch was not signed by the device
	// whose log it is in.
	ErrBadDeviceSignature = errors.New("sync: batch is not signed by the device whose log it is in")
	// ErrNoDeviceSignature means the batch is of a format (1 or 2) that
	// had no device signature.
	ErrNoDeviceSignature = errors.New("sync: batch of a format without a device signature")
)

func putUUID(b []byte, id string) error {
	raw, err := parseUUID(id)
	if err != nil {
		return err
	}
	copy(b, raw[:])
	return nil
}

func parseUUID(s string) ([16]byte, error) {
	var out [16]byte
	h := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			h = append(h, s[i])
		}
	}
	if len(h) != 32 {
		return out, fmt.Errorf("sync: %q is not a UUID: %w", s, ErrMalformed)
	}
	for i := 0; i < 16; i++ {
		var v byte
		for j := 0; j < 2; j++ {
			c := h[2*i+j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'a' && c <= 'f':
				v = v<<4 | (c - 'a' + 10)
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return out, fmt.Errorf("sync: %q is not a UUID: %w", s, ErrMalformed)
			}
		}
		out[i] = v
	}
	return out, nil
}

func formatUUID(b []byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[x>>4], hexd[x&15])
	}
	return string(out)
}

func (h *Header) marshal() ([]byte, error) {
	b := make([]byte, headerSize)
	copy(b, magic)
	b[4] = version
	o := 5
	if err := putUUID(b[o:], h.VaultID); err != nil {
		return nil, err
	}
	o += 16
	binary.BigEndian.PutUint32(b[o:], h.Epoch)
	o += 4
	b[o] = byte(h.Class)
	o++
	if err := putUUID(b[o:], h.Device); err != nil {
		return nil, err
	}
	o += 16
	binary.BigEndian.PutUint64(b[o:], h.Seq)
	o += 8
	copy(b[o:], h.PrevHash[:])
	o += 32
	if err := putUUID(b[o:], h.Signer); err != nil {
		return nil, err
	}
	o += 16
	copy(b[o:], h.Nonce[:])
	return b, nil
}

// ParseHeader reads the clear header of an envelope without any key.
func ParseHeader(env []byte) (Header, error) {
	var h Header
	if len(env) < headerSize+chacha20poly1305.Overhead || len(env) > maxEnvelope || string(env[:4]) != magic {
		return h, ErrMalformed
	}
	if env[4] > version {
		return h, fmt.Errorf("sync: batch format version %d (this build reads up to %d): %w", env[4], version, ErrNewerFormat)
	}
	if env[4] < 1 {
		return h, fmt.Errorf("sync: batch format version %d: %w", env[4], ErrMalformed)
	}
	if env[4] >= 3 && len(env) < headerSize+chacha20poly1305.Overhead+ed25519.SignatureSize {
		return h, ErrMalformed
	}
	h.Version = env[4]
	o := 5
	h.VaultID = formatUUID(env[o : o+16])
	o += 16
	h.Epoch = binary.BigEndian.Uint32(env[o:])
	o += 4
	h.Class = Class(env[o])
	o++
	if h.Class != General && h.Class != Clinical {
		return h, fmt.Errorf("sync: unknown class %d: %w", env[o-1], ErrMalformed)
	}
	h.Device = formatUUID(env[o : o+16])
	o += 16
	h.Seq = binary.BigEndian.Uint64(env[o:])
	o += 8
	copy(h.PrevHash[:], env[o:o+32])
	o += 32
	h.Signer = formatUUID(env[o : o+16])
	o += 16
	copy(h.Nonce[:], env[o:o+24])
	if h.Seq == 0 {
		return h, fmt.Errorf("sync: sequence 0: %w", ErrMalformed)
	}
	return h, nil
}

// Seal builds an envelope: records deflated and signed by signer, sealed
// under key with the header as associated data, then signed by device (the
// key of the device whose log it goes into). h.Nonce is filled in.
func Seal(h Header, records []Record, key []byte, signer, device ed25519.PrivateKey) ([]byte, [32]byte, error) {
	if _, err := rand.Read(h.Nonce[:]); err != nil {
		return nil, [32]byte{}, err
	}
	for i, r := range records {
		if len(r.Columns) == 0 || r.Column != "" || r.Value != nil {
			return nil, [32]byte{}, fmt.Errorf("sync: record %d carries no columns", i+1)
		}
	}
	return seal(h, records, key, signer, device)
}

// seal is Seal with the header's nonce as given (test vectors need it fixed).
func seal(h Header, records []Record, key []byte, signer, device ed25519.PrivateKey) ([]byte, [32]byte, error) {
	return sealAs(version, h, records, key, signer, device)
}

// sealAs writes the given format version byte (tests make version-1 and
// -2 and malformed envelopes with it); below version 3 device is unused.
func sealAs(ver byte, h Header, records []Record, key []byte, signer, device ed25519.PrivateKey) ([]byte, [32]byte, error) {
	var zero [32]byte
	hb, err := h.marshal()
	if err != nil {
		return nil, zero, err
	}
	hb[4] = ver
	js, err := json.Marshal(records)
	if err != nil {
		return nil, zero, err
	}
	var body bytes.Buffer
	fw, _ := flate.NewWriter(&body, flate.BestSpeed)
	fw.Write(js)
	fw.Close()
	sig := ed25519.Sign(signer, signedBytes(hb, body.Bytes()))
	pt := append(sig, body.Bytes()...)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, zero, err
	}
	env := aead.Seal(hb, h.Nonce[:], pt, hb)
	if ver >= 3 {
		if len(device) != ed25519.PrivateKeySize {
			return nil, zero, errors.New("sync: no device key to sign the batch")
		}
		env = append(env, ed25519.Sign(device, deviceSigned(env))...)
	}
	return env, sha256.Sum256(env), nil
}

func deviceSigned(headerAndCiphertext []byte) []byte {
	out := make([]byte, 0, len(store.LabelSyncBatchDevice)+len(headerAndCiphertext))
	out = append(out, store.LabelSyncBatchDevice...)
	return append(out, headerAndCiphertext...)
}

// VerifyDevice checks, without any sync key, that env is signed by the
// device key pub: ErrNoDeviceSignature for formats 1 and 2,
// ErrBadDeviceSignature when the signature does not verify.
func VerifyDevice(env []byte, pub ed25519.PublicKey) error {
	h, err := ParseHeader(env)
	if err != nil {
		return err
	}
	if h.Version < 3 {
		return ErrNoDeviceSignature
	}
	if len(pub) != ed25519.PublicKeySize {
		return ErrBadDeviceSignature
	}
	n := len(env) - ed25519.SignatureSize
	if !ed25519.Verify(pub, deviceSigned(env[:n]), env[n:]) {
		return fmt.Errorf("batch %d of device %s: %w", h.Seq, h.Device, ErrBadDeviceSignature)
	}
	return nil
}

func signedBytes(header, body []byte) []byte {
	out := make([]byte, 0, len(store.LabelSyncBatch)+len(header)+len(body))
	out = append(out, store.LabelSyncBatch...)
	out = append(out, header...)
	return append(out, body...)
}

// Open decrypts an envelope with key and checks the signature with the
// signer's public key (looked up by the caller from the header's Signer).
func Open(env []byte, key []byte, signerKey func(userID string) (ed25519.PublicKey, error)) (*Batch, error) {
	h, err := ParseHeader(env)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	end := len(env)
	if h.Version >= 3 {
		end -= ed25519.SignatureSize
	}
	pt, err := aead.Open(nil, h.Nonce[:], env[headerSize:end], env[:headerSize])
	if err != nil {
		return nil, fmt.Errorf("batch %d of device %s: %w", h.Seq, h.Device, ErrDecrypt)
	}
	if len(pt) < ed25519.SignatureSize {
		return nil, ErrMalformed
	}
	pub, err := signerKey(h.Signer)
	if err != nil {
		return nil, err
	}
	sig, body := pt[:ed25519.SignatureSize], pt[ed25519.SignatureSize:]
	if !ed25519.Verify(pub, signedBytes(env[:headerSize], body), sig) {
		return nil, fmt.Errorf("batch %d of device %s: %w", h.Seq, h.Device, ErrBadSignature)
	}
	js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(body)), maxPlaintext))
	if err != nil {
		return nil, fmt.Errorf("batch body: %v: %w", err, ErrMalformed)
	}
	var recs []Record
	if err := json.Unmarshal(js, &recs); err != nil {
		return nil, fmt.Errorf("batch records: %v: %w", err, ErrMalformed)
	}
	v1 := env[4] == 1
	for i := range recs {
		r := &recs[i]
		switch {
		case v1 && r.Column != "" && r.Columns == nil:
			r.Columns = map[string]*string{r.Column: r.Value}
			r.Column, r.Value = "", nil
		case !v1 && r.Column == "" && r.Value == nil && len(r.Columns) > 0:
		default:
			return nil, fmt.Errorf("record %d: its columns are not in the form of version %d: %w", i+1, env[4], ErrMalformed)
		}
		if r.Device != h.Device {
			return nil, fmt.Errorf("record from device %s in the log of %s: %w", r.Device, h.Device, ErrMalformed)
		}
		if _, err := ParseTimestamp(r.HLC); err != nil {
			return nil, err
		}
	}
	return &Batch{Header: h, Records: recs, Hash: sha256.Sum256(env)}, nil
}
