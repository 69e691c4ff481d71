package app

import (
	"archive/tar"
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// BackupExt is the file extension of ClinicVault backups.
const BackupExt = ".cvbackup"

// The errors of a file that is not a backup, or a damaged one, from
// reading, verifying or restoring it.
var (
	ErrNotBackup     = store.ErrNotBackup
	ErrBackupDamaged = store.ErrBackupDamaged
)

// BackupProgress reports a long backup, verify or restore step.
type BackupProgress struct {
	Stage string // what is happening, in words
	Done  int64
	Total int64
}

// BackupInfo describes one backup file.
type BackupInfo struct {
	Path           string
	Practice       string
	VaultID        string
	Created        time.Time
	MadeBy         string
	Size           int64
	Contents       []string
	ClinicalSealed bool
	// Verified is when this vault last verified the file (zero if never);
	// VerifyOK says how that went, and VerifyErr why it failed.
	Verified  time.Time
	VerifyOK  bool
	VerifyErr *VerifyFailure // nil unless the last verification failed
}

// VerifyFailure is a backup's last failed verification as this vault
// recorded it: app's words, and ErrBackupDamaged (errors.Is) when the
// file did not authenticate.
type VerifyFailure struct {
	Detail  string
	Damaged bool
}

func (e *VerifyFailure) Error() string { return e.Detail }

// Unwrap is ErrBackupDamaged for a damaged file.
func (e *VerifyFailure) Unwrap() error {
	if e.Damaged {
		return ErrBackupDamaged
	}
	return nil
}

// manifest is written inside each backup: row counts at snapshot time.
type manifest struct {
	Created time.Time                   `json:"created"`
	Counts  map[string]map[string]int64 `json:"counts"` // database -> table -> rows
}

// TableCheck compares one table's rows in a backup with its manifest and
// with the live vault.
type TableCheck struct {
	Database string
	Table    string
	Backup   int64
	Manifest int64
	Live     int64 // -1 when the live vault could not be read (e.g. clinical for a receptionist)
}

// VerifyReport is the result of verifying a backup.
type VerifyReport struct {
	Info   BackupInfo
	Tables []TableCheck
}

// ReadBackupInfo reads a backup's header (no key needed).
func ReadBackupInfo(path string) (BackupInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupInfo{}, err
	}
	defer f.Close()
	h, err := store.ReadBackupHeader(bufio.NewReader(f))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	st, _ := f.Stat()
	return infoFromHeader(path, h, st.Size()), nil
}

func infoFromHeader(path string, h *store.BackupHeader, size int64) BackupInfo {
	return BackupInfo{Path: path, Practice: h.Practice, VaultID: h.VaultID, Created: h.Created, MadeBy: h.MadeBy,
		Size: size, Contents: h.Contents, ClinicalSealed: h.ClinicalSealed}
}

// ListBackups lists the backups in dir, newest first. Files that are not
// backups are skipped.
func ListBackups(dir string) ([]BackupInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []BackupInfo
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), BackupExt) {
			continue
		}
		info, err := ReadBackupInfo(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// ListBackups lists the backups in dir with this vault's verification log.
func (s *Session) ListBackups(ctx context.Context, dir string) ([]BackupInfo, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	list, err := ListBackups(dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range list {
		var verified sql.NullInt64
		var ok bool
		var detail, kind string
		abs, _ := filepath.Abs(list[i].Path)
		err := s.general.QueryRowContext(ctx, `SELECT verified_at, ok, detail, verify_kind FROM backups WHERE file = ?`, abs).
			Scan(&verified, &ok, &detail, &kind)
		if errors.Is(err, sql.ErrNoRows) {
			continue // not made or verified here
		} else if err != nil {
			return nil, err
		}
		if verified.Valid {
			list[i].Verified, list[i].VerifyOK = time.Unix(verified.Int64, 0), ok
			if !ok {
				list[i].VerifyErr = &VerifyFailure{Detail: detail, Damaged: kind == verifyDamaged}
			}
		}
	}
	return list, nil
}

// createBackupFile opens a new backup file. Tests set Vault.createFile to
// simulate a full disk.
func (v *Vault) createBackupFile(path string) (io.WriteCloser, error) {
	if v.createFile != nil {
		return v.createFile(path)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
}

// CreateBackup writes a consistent, encrypted backup of the vault into dir
// and returns it. Every role may back up: a session without the clinical
// key copies clinical.db as the ciphertext it is. A failure (a full disk)
// removes the partial file and leaves older backups alone.
func (s *Session) CreateBackup(ctx context.Context, dir string, progress func(BackupProgress)) (BackupInfo, error) {
	if err := s.require(); err != nil {
		return BackupInfo{}, err
	}
	if progress == nil {
		progress = func(BackupProgress) {}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return BackupInfo{}, fmt.Errorf("backup folder: %w", err)
	}
	// The session lock is held while the snapshots are taken (they need
	// the open databases), and released while the file is encrypted and
	// written, so the rest of the app stays responsive.
	s.mu.Lock()
	held := true
	defer func() {
		if held {
			s.mu.Unlock()
		}
	}()
	if s.locked {
		return BackupInfo{}, ErrLocked
	}
	now := s.v.now()
	keyring, err := os.ReadFile(filepath.Join(s.v.Dir, store.KeyringFile))
	if err != nil {
		return BackupInfo{}, err
	}
	name := fmt.Sprintf("clinicvault-%s-%s%s", slug(s.kr.Practice), now.UTC().Format("20060102-150405"), BackupExt)
	final := filepath.Join(dir, name)
	if _, err := os.Stat(final); err == nil {
		return BackupInfo{}, fmt.Errorf("%s already exists: wait a second and try again", name)
	}
	partial := filepath.Join(dir, "."+name+".partial")
	sweepBackupScratch(dir)
	work, release, err := store.MkdirWork(dir, snapshotScratch.Prefix)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup folder: %w", err)
	}
	defer release() // holds only SQLCipher-encrypted snapshots
	fail := func(err error) (BackupInfo, error) {
		os.Remove(partial)
		return BackupInfo{}, err
	}

	// Snapshots: keyed copies made with the online backup API.
	m := manifest{Created: now.UTC(), Counts: map[string]map[string]int64{}}
	files := map[string]string{}
	snap := func(db *store.DB, key []byte) error {
		dest := filepath.Join(work, db.Kind.FileName())
		stage := "Copying " + db.Kind.FileName()
		if err := store.Snapshot(ctx, db, key, dest, func(done, total int) {
			progress(BackupProgress{Stage: stage, Done: int64(done), Total: int64(total)})
		}); err != nil {
			return err
		}
		sdb, err := store.Open(ctx, dest, db.Kind, key)
		if err != nil {
			return err
		}
		defer sdb.Close()
		if db.Kind == store.General {
			// A backup carries no key of this computer's: not its device
			// keys (anyone with the general key would sign as this
			// computer, or open what is sealed to it), not the sync keys
			// of key epochs. A restore becomes a new computer, which
			// pairs and receives them again. secure_delete zeroes the
			// deleted rows in the file, so they cannot be carved.
			if err := scrubComputerKeys(ctx, sdb); err != nil {
				return err
			}
		}
		counts, err := store.TableCounts(ctx, sdb)
		if err != nil {
			return err
		}
		if err := sdb.Checkpoint(ctx); err != nil {
			return err
		}
		m.Counts[string(db.Kind)] = counts
		files[db.Kind.FileName()] = dest
		return nil
	}
	if err := snap(s.general, s.kGen); err != nil {
		return fail(err)
	}
	sealed := false
	if s.clinical != nil {
		if err := snap(s.clinical, s.kClin); err != nil {
			return fail(err)
		}
	} else {
		// Without the clinical key this machine can only carry clinical.db
		// as it is: ciphertext, with its WAL.
		for _, suffix := range []string{"", "-wal"} {
			p := filepath.Join(s.v.Dir, store.Clinical.FileName()+suffix)
			if _, err := os.Stat(p); err == nil {
				files[store.Clinical.FileName()+suffix] = p
				sealed = true
			}
		}
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return fail(err)
	}
	var contents []string
	for n := range files {
		contents = append(contents, n)
	}
	sort.Strings(contents)
	h := &store.BackupHeader{VaultID: s.kr.VaultID, Practice: s.kr.Practice, Created: now.UTC(), MadeBy: s.user.Name,
		Contents: contents, ClinicalSealed: sealed, Keyring: keyring, KeyBoxes: map[string][]byte{}}

	// A key of its own, sealed to each member of staff of today: nobody
	// who has left opens it, whatever old keys they kept.
	bkey := store.NewKey()
	defer store.Zero(bkey)
	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		return fail(err)
	}
	recipients, err := activeSlots(ctx, s.general, kr)
	if err != nil {
		return fail(err)
	}
	for _, slot := range recipients {
		box, err := store.SealBackupKey(slot.PublicKey, kr.VaultID, slot.UserID, bkey)
		if err != nil {
			continue // a slot that cannot be sealed to is left out, never the backup
		}
		h.KeyBoxes[slot.UserID] = box
	}
	s.mu.Unlock()
	held = false
	out, err := s.v.createBackupFile(partial)
	if err != nil {
		return fail(fmt.Errorf("create backup file: %w", err))
	}
	err = func() error {
		bw := bufio.NewWriterSize(out, 1<<20)
		cw, err := store.NewBackupWriter(bw, bkey, h)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(cw)
		if err := tarBytes(tw, "manifest.json", mb); err != nil {
			return err
		}
		var total, done int64
		for _, n := range contents {
			if st, err := os.Stat(files[n]); err == nil {
				total += st.Size()
			}
		}
		for _, n := range contents {
			if err := tarFile(tw, n, files[n], func(k int64) {
				done += k
				progress(BackupProgress{Stage: "Encrypting and writing", Done: done, Total: total})
			}); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	}()
	if err == nil {
		if f, ok := out.(*os.File); ok {
			err = f.Sync()
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(fmt.Errorf("write backup %s: %w", name, err))
	}
	if err := os.Rename(partial, final); err != nil {
		return fail(err)
	}
	st, _ := os.Stat(final)
	info := infoFromHeader(final, h, st.Size())
	s.mu.Lock()
	held = true
	if s.locked {
		return info, nil // written; the log entry waits for nobody
	}
	err = inTx(ctx, s.general, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO backups (file, created_at, size) VALUES (?, ?, ?)
			ON CONFLICT(file) DO UPDATE SET created_at = excluded.created_at, size = excluded.size`, absPath(final), now.Unix(), info.Size); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "backup-created", name, fmt.Sprintf("%d bytes in %s", info.Size, dir))
	})
	return info, err
}

// slug is the practice's name as a file name's part: letters spelt in
// ASCII as search spells them ("Cabinet Peña-Ødegård" ->
// "cabinet-pena-odegard"), anything else a single dash.
func slug(s string) string {
	var b strings.Builder
	for _, r := range searchFold(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "practice"
	}
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

func tarBytes(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.fn(int64(n))
	return n, err
}

func tarFile(tw *tar.Writer, name, path string, fn func(int64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.CopyN(progressWriter{tw, fn}, f, st.Size())
	return err
}

// allowedBackupFiles are the only names a backup may contain.
var allowedBackupFiles = map[string]bool{
	"manifest.json": true, "general.db": true, "clinical.db": true, "clinical.db-wal": true,
}

// backupKeyFor finds a backup's key for one person: the box sealed to
// their slot (identity), or, for a backup of an earlier version, the key
// derived from the general key.
func backupKeyFor(identity []byte, userID string, kGen []byte) func(*store.BackupHeader) ([]byte, error) {
	return func(h *store.BackupHeader) ([]byte, error) {
		if len(h.KeyBoxes) == 0 {
			return store.BackupKey(kGen, h.VaultID), nil
		}
		box, ok := h.KeyBoxes[userID]
		if !ok {
			return nil, ErrNotARecipient
		}
		k, err := store.OpenBackupKey(identity, h.VaultID, userID, box)
		if err != nil {
			return nil, ErrNotARecipient
		}
		return k, nil
	}
}

// ErrNotARecipient means a backup was made without the signed-in person
// (or the recovery key) among those who may open it: they joined later.
var ErrNotARecipient = errors.New("this backup was made before you joined the practice: an admin of that time, or the recovery key, opens it")

// scrubComputerKeys deletes, from a snapshot of general.db, the keys that
// belong to the computer rather than the practice: its device keys, the
// sync keys of key epochs and clinical ones waiting wrapped, overwriting
// them in the file.
func scrubComputerKeys(ctx context.Context, db *store.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return err
	}
	return inTx(ctx, conn, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM device_keys`, `DELETE FROM sync_keys`, `DELETE FROM settings WHERE name LIKE 'epoch_clinical_wrapped_%'`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
