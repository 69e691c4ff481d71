package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// A .cvbackup file is:
//
//	"CVBACKUP" | version (1 byte) | header length (4 bytes, big endian) | header (JSON)
//	then chunks: ciphertext length (4 bytes) | XChaCha20-Poly1305 ciphertext
//
// The header is readable without a key: vault id, practice, time, what is
// inside, the chunk nonce prefix, and a copy of the keyring (which holds
// no plaintext secret), so a restore can find a slot to open. Every chunk
// is sealed under the backup's key with the SHA-256 of everything before
// the first chunk as associated data, so
// an edited header fails at the first chunk. A chunk's nonce is the 16-byte
// prefix, a 7-byte counter and a last-chunk flag: reordered, dropped or
// truncated chunks are detected (STREAM construction). Inside is a tar of
// the SQLCipher snapshots, which are themselves encrypted page by page.
//
// The backup's key is random, one per backup, and sealed in the header to
// each member of staff of the time (and the recovery slot) as their
// database grants are (key_boxes): someone who left before the backup was
// made is not among them, whatever old keys they kept. Backups of earlier
// versions, without key_boxes, were sealed under HKDF(K_gen, vault id,
// "clinicvault.org/v1/backup"), and still open so.
const (
	backupMagic   = "CVBACKUP"
	backupVersion = 1
	chunkSize     = 1 << 20
	maxHeader     = 16 << 20
)

var (
	// ErrNotBackup means the file is not a ClinicVault backup.
	ErrNotBackup = errors.New("store: not a ClinicVault backup file")
	// ErrBackupDamaged means the backup was altered, truncated or
	// opened with the wrong vault's key.
	ErrBackupDamaged = errors.New("store: the backup is damaged, truncated or belongs to another vault")
)

// BackupHeader is the readable part of a backup.
type BackupHeader struct {
	Format         string    `json:"format"`
	VaultID        string    `json:"vault_id"`
	Practice       string    `json:"practice"`
	Created        time.Time `json:"created"`
	MadeBy         string    `json:"made_by"`
	Contents       []string  `json:"contents"`
	ClinicalSealed bool      `json:"clinical_sealed"` // clinical.db copied as ciphertext by a non-clinician
	NoncePrefix    []byte    `json:"nonce_prefix"`
	Keyring        []byte    `json:"keyring"`
	// KeyBoxes holds the backup's key sealed to each user id's slot.
	KeyBoxes map[string][]byte `json:"key_boxes,omitempty"`

	prefix []byte // the bytes before the first chunk
}

const backupFormat = "clinicvault.org/v1/backup"

// SealBackupKey seals a backup's key to a slot's X25519 public key, bound
// to the vault and the user.
func SealBackupKey(pub []byte, vaultID, userID string, key []byte) ([]byte, error) {
	return SealTo(pub, LabelBackupKey, ad(LabelBackupKey, vaultID, userID), key)
}

// OpenBackupKey opens what SealBackupKey sealed, with the slot's identity.
func OpenBackupKey(identity []byte, vaultID, userID string, box []byte) ([]byte, error) {
	return OpenWith(identity, LabelBackupKey, ad(LabelBackupKey, vaultID, userID), box)
}

// BackupKey derives the key that sealed a vault's backups before each
// backup had a key of its own (headers without key_boxes).
func BackupKey(kGen []byte, vaultID string) []byte {
	k, err := DeriveKey(kGen, []byte(vaultID), LabelBackup, 32)
	if err != nil {
		panic(err)
	}
	return k
}

type chunkWriter struct {
	w       io.Writer
	key     []byte
	ad      []byte
	prefix  []byte
	counter uint64
	buf     []byte
	closed  bool
}

// NewBackupWriter writes h and returns a writer that seals what is written
// to it. Close writes the final chunk; without it the file reads as truncated.
func NewBackupWriter(w io.Writer, key []byte, h *BackupHeader) (io.WriteCloser, error) {
	h.Format = backupFormat
	h.NoncePrefix = randomBytes(16)
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	prefix := []byte(backupMagic)
	prefix = append(prefix, backupVersion)
	prefix = binary.BigEndian.AppendUint32(prefix, uint32(len(hb)))
	prefix = append(prefix, hb...)
	if _, err := w.Write(prefix); err != nil {
		return nil, err
	}
	ad := sha256.Sum256(prefix)
	return &chunkWriter{w: w, key: key, ad: ad[:], prefix: h.NoncePrefix, buf: make([]byte, 0, chunkSize)}, nil
}

func (c *chunkWriter) nonce(last bool) []byte {
	n := make([]byte, 24)
	copy(n, c.prefix)
	var ctr [8]byte
	binary.BigEndian.PutUint64(ctr[:], c.counter)
	copy(n[16:23], ctr[1:])
	if last {
		n[23] = 1
	}
	return n
}

func (c *chunkWriter) flush(last bool) error {
	aead, err := chacha20poly1305.NewX(c.key)
	if err != nil {
		return err
	}
	if c.counter >= 1<<56 {
		return errors.New("store: backup too large")
	}
	ct := aead.Seal(nil, c.nonce(last), c.buf, c.ad)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(ct)))
	if _, err := c.w.Write(n[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(ct); err != nil {
		return err
	}
	c.counter++
	c.buf = c.buf[:0]
	return nil
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("store: write after close")
	}
	total := len(p)
	for len(p) > 0 {
		room := chunkSize - len(c.buf)
		n := min(room, len(p))
		c.buf = append(c.buf, p[:n]...)
		p = p[n:]
		if len(c.buf) == chunkSize && len(p) > 0 {
			if err := c.flush(false); err != nil {
				return total - len(p) - n, err
			}
		}
	}
	return total, nil
}

func (c *chunkWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.flush(true)
}

// ReadBackupHeader reads and parses the header; r is left at the first chunk.
func ReadBackupHeader(r *bufio.Reader) (*BackupHeader, error) {
	prefix := make([]byte, len(backupMagic)+5)
	if _, err := io.ReadFull(r, prefix); err != nil || string(prefix[:len(backupMagic)]) != backupMagic {
		return nil, ErrNotBackup
	}
	if prefix[len(backupMagic)] != backupVersion {
		return nil, fmt.Errorf("backup format version %d is not known to this ClinicVault: %w", prefix[len(backupMagic)], ErrNotBackup)
	}
	n := binary.BigEndian.Uint32(prefix[len(backupMagic)+1:])
	if n > maxHeader {
		return nil, fmt.Errorf("header of %d bytes: %w", n, ErrBackupDamaged)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("header cut short: %w", ErrBackupDamaged)
	}
	var h BackupHeader
	if err := json.Unmarshal(hb, &h); err != nil || h.Format != backupFormat || len(h.NoncePrefix) != 16 {
		return nil, fmt.Errorf("unreadable header: %w", ErrBackupDamaged)
	}
	h.prefix = append(prefix, hb...)
	return &h, nil
}

// KeyringCopy returns the keyring stored in the header.
func (h *BackupHeader) KeyringCopy() (*Keyring, error) {
	var k Keyring
	if err := json.Unmarshal(h.Keyring, &k); err != nil || k.Format != keyringFormat {
		return nil, fmt.Errorf("keyring in backup: %w", ErrBackupDamaged)
	}
	if k.VaultID != h.VaultID {
		return nil, fmt.Errorf("keyring of another vault: %w", ErrBackupDamaged)
	}
	return &k, nil
}

type chunkReader struct {
	r    *bufio.Reader
	aead interface {
		Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
	}
	cw   chunkWriter // reuses nonce()
	buf  []byte
	done bool
	err  error
}

// Body returns a reader of the plaintext inside, checking each chunk.
// Errors wrap ErrBackupDamaged.
func (h *BackupHeader) Body(r *bufio.Reader, key []byte) (io.Reader, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	ad := sha256.Sum256(h.prefix)
	return &chunkReader{r: r, aead: aead, cw: chunkWriter{ad: ad[:], prefix: h.NoncePrefix}}, nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			// Nothing may follow the last chunk.
			if _, err := c.r.ReadByte(); err == nil {
				c.err = fmt.Errorf("data after the last chunk: %w", ErrBackupDamaged)
				return 0, c.err
			}
			return 0, io.EOF
		}
		var n [4]byte
		if _, err := io.ReadFull(c.r, n[:]); err != nil {
			c.err = fmt.Errorf("the file ends before its last chunk (truncated): %w", ErrBackupDamaged)
			return 0, c.err
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > chunkSize+chacha20poly1305.Overhead {
			c.err = fmt.Errorf("chunk %d has an impossible size: %w", c.cw.counter, ErrBackupDamaged)
			return 0, c.err
		}
		ct := make([]byte, size)
		if _, err := io.ReadFull(c.r, ct); err != nil {
			c.err = fmt.Errorf("the file ends inside chunk %d (truncated): %w", c.cw.counter, ErrBackupDamaged)
			return 0, c.err
		}
		pt, err := c.aead.Open(nil, c.cw.nonce(false), ct, c.cw.ad)
		if err != nil {
			pt, err = c.aead.Open(nil, c.cw.nonce(true), ct, c.cw.ad)
			if err != nil {
				c.err = fmt.Errorf("chunk %d does not authenticate: %w", c.cw.counter, ErrBackupDamaged)
				return 0, c.err
			}
			c.done = true
		}
		c.cw.counter++
		c.buf = pt
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}
