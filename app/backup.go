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
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// BackupExt is the file extension of ClinicVault backups.
const BackupExt = ".cvbackup"

// Settings and schedule of backups.
const (
	settingBackupFolder = "backup_folder"
	backupEvery         = 24 * time.Hour
	backupWarnAfter     = 3 * 24 * time.Hour
	keepDaily           = 7
	keepWeekly          = 4
	keepMonthly         = 12
)

// ErrBackupTarget refuses to restore into a folder that holds a vault.
var ErrBackupTarget = errors.New("the restore folder must be new or empty; ClinicVault never restores over a vault")

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
	// VerifyOK and VerifyDetail say how that went.
	Verified     time.Time
	VerifyOK     bool
	VerifyDetail string
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
		var detail string
		abs, _ := filepath.Abs(list[i].Path)
		err := s.general.QueryRowContext(ctx, `SELECT verified_at, ok, detail FROM backups WHERE file = ?`, abs).
			Scan(&verified, &ok, &detail)
		if err == nil && verified.Valid {
			list[i].Verified, list[i].VerifyOK, list[i].VerifyDetail = time.Unix(verified.Int64, 0), ok, detail
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
	work, err := os.MkdirTemp(dir, ".clinicvault-snapshot-")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup folder: %w", err)
	}
	defer os.RemoveAll(work) // holds only SQLCipher-encrypted snapshots
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

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
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

// unpackBackup decrypts the backup at path, with the key keyFor finds from
// its header, into dir (which must exist) and returns its header and
// manifest. The files it writes are the SQLCipher databases: ciphertext.
func unpackBackup(path string, keyFor func(*store.BackupHeader) ([]byte, error), dir string, progress func(BackupProgress)) (*store.BackupHeader, *manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, _ := f.Stat()
	r := bufio.NewReaderSize(f, 1<<20)
	h, err := store.ReadBackupHeader(r)
	if err != nil {
		return nil, nil, err
	}
	bkey, err := keyFor(h)
	if err != nil {
		return nil, nil, err
	}
	defer store.Zero(bkey)
	body, err := h.Body(r, bkey)
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(body)
	var m *manifest
	var done int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, store.ErrBackupDamaged) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("backup contents: %v: %w", err, store.ErrBackupDamaged)
		}
		if !allowedBackupFiles[hdr.Name] || hdr.Typeflag != tar.TypeReg {
			return nil, nil, fmt.Errorf("unexpected entry %q: %w", hdr.Name, store.ErrBackupDamaged)
		}
		if hdr.Name == "manifest.json" {
			var mm manifest
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&mm); err != nil {
				return nil, nil, fmt.Errorf("manifest: %w", store.ErrBackupDamaged)
			}
			m = &mm
			continue
		}
		out, err := os.OpenFile(filepath.Join(dir, hdr.Name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, err
		}
		_, err = io.Copy(progressWriter{out, func(n int64) {
			done += n
			if progress != nil {
				progress(BackupProgress{Stage: "Decrypting " + hdr.Name, Done: done, Total: st.Size()})
			}
		}}, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, nil, err
		}
	}
	// Read to the end so that truncation after the tar is noticed.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, fmt.Errorf("no manifest: %w", store.ErrBackupDamaged)
	}
	return h, m, nil
}

// VerifyBackup decrypts a backup of this vault to a scratch folder, runs
// cipher_integrity_check and integrity_check on each database it can open,
// recounts every table against the manifest written at backup time, and
// compares with the live vault. The result is logged and audited.
func (s *Session) VerifyBackup(ctx context.Context, path string, progress func(BackupProgress)) (*VerifyReport, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	// Keys are copied under the session lock; the slow part (decrypting
	// and checking the copy) runs without it; the live counts and the log
	// take it again.
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return nil, ErrLocked
	}
	kGen := append([]byte(nil), s.kGen...)
	// A backup made before the general key changed is under an older one.
	kGens := append([][]byte{kGen}, s.olderGeneralKeys(ctx)...)
	var clinKeys [][]byte
	if s.kClin != nil {
		// A backup made before the clinical key changed is under an
		// older one.
		clinKeys = append([][]byte{append([]byte(nil), s.kClin...)}, s.olderClinicalKeys(ctx)...)
	}
	identity := append([]byte(nil), s.secrets.Identity...)
	keyFor := backupKeyFor(identity, s.user.ID, kGen)
	vaultID := s.kr.VaultID
	s.mu.Unlock()
	defer zeroAll(kGens)
	defer store.Zero(identity)
	defer func() {
		for _, k := range clinKeys {
			store.Zero(k)
		}
	}()
	report, verr := verifyBackupFile(ctx, path, vaultID, keyFor, kGens, clinKeys, progress)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return report, verr
	}
	if report != nil {
		live := map[string]map[string]int64{}
		live[store.General.FileName()], _ = store.TableCounts(ctx, s.general)
		if s.clinical != nil {
			live[store.Clinical.FileName()], _ = store.TableCounts(ctx, s.clinical)
		}
		for i, t := range report.Tables {
			if n, ok := live[t.Database][t.Table]; ok {
				report.Tables[i].Live = n
			}
		}
	}
	now := s.v.now()
	detail := "intact"
	if verr != nil {
		detail = verr.Error()
	}
	abs := absPath(path)
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	_ = inTx(ctx, s.general, func(tx *sql.Tx) error {
		created := now.Unix()
		if report != nil {
			created = report.Info.Created.Unix()
		}
		if verr == nil || !errors.Is(verr, store.ErrNotBackup) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO backups (file, created_at, size, verified_at, ok, detail) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT(file) DO UPDATE SET verified_at = excluded.verified_at, ok = excluded.ok, detail = excluded.detail`,
				abs, created, size, now.Unix(), verr == nil, detail); err != nil {
				return err
			}
		}
		return audit(ctx, tx, now, s.actor(), "backup-verified", filepath.Base(path), detail)
	})
	return report, verr
}

// verifyBackupFile checks a backup with the vault's keys, without the
// session; live counts are left at -1.
func verifyBackupFile(ctx context.Context, path, vaultID string, keyFor func(*store.BackupHeader) ([]byte, error), kGens, clinKeys [][]byte, progress func(BackupProgress)) (*VerifyReport, error) {
	info, err := ReadBackupInfo(path)
	if err != nil {
		return nil, err
	}
	if info.VaultID != vaultID {
		return nil, fmt.Errorf("this backup belongs to another vault (%s): %w", info.Practice, store.ErrBackupDamaged)
	}
	work, err := os.MkdirTemp(filepath.Dir(path), ".clinicvault-verify-")
	if err != nil {
		work, err = os.MkdirTemp("", "clinicvault-verify-")
		if err != nil {
			return nil, err
		}
	}
	defer os.RemoveAll(work)
	_, m, err := unpackBackup(path, keyFor, work, progress)
	if err != nil {
		return nil, err
	}
	report := &VerifyReport{Info: info}
	check := func(kind store.Kind, key []byte) error {
		db, err := store.Open(ctx, filepath.Join(work, kind.FileName()), kind, key)
		if err != nil {
			return fmt.Errorf("%s in the backup: %w", kind.FileName(), err)
		}
		defer db.Close()
		if progress != nil {
			progress(BackupProgress{Stage: "Checking " + kind.FileName()})
		}
		if err := store.IntegrityCheck(ctx, db); err != nil {
			return err
		}
		counts, err := store.TableCounts(ctx, db)
		if err != nil {
			return err
		}
		want := m.Counts[string(kind)]
		var names []string
		for t := range counts {
			names = append(names, t)
		}
		sort.Strings(names)
		for _, t := range names {
			report.Tables = append(report.Tables, TableCheck{Database: kind.FileName(), Table: t, Backup: counts[t], Manifest: want[t], Live: -1})
			if counts[t] != want[t] {
				return fmt.Errorf("%s table %s has %d rows, the backup's manifest says %d: %w", kind.FileName(), t, counts[t], want[t], store.ErrBackupDamaged)
			}
		}
		return nil
	}
	for _, k := range kGens {
		if err = check(store.General, k); !errors.Is(err, store.ErrWrongKey) {
			break
		}
	}
	if err != nil {
		return report, err
	}
	if !info.ClinicalSealed && len(clinKeys) > 0 {
		var err error
		for _, k := range clinKeys {
			if err = check(store.Clinical, k); !errors.Is(err, store.ErrWrongKey) {
				break
			}
		}
		if err != nil {
			return report, err
		}
	}
	return report, nil
}

// restoreTarget checks dir is new or empty, and creates it.
func restoreTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	if err == nil && len(entries) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrBackupTarget)
	}
	return os.MkdirAll(dir, 0o700)
}

// RestoreBackup restores a backup into v.Dir, which must be new or empty,
// for an admin who signs in with passphrase and code against the backup's
// own keyring. Anything but an admin's successful sign-in leaves v.Dir as
// it was.
func (v *Vault) RestoreBackup(ctx context.Context, path, name, passphrase, code string, progress func(BackupProgress)) error {
	h, err := readHeader(path)
	if err != nil {
		return err
	}
	kr, err := h.KeyringCopy()
	if err != nil {
		return err
	}
	slot, err := kr.SlotByName(name)
	if err != nil || slot.KDF == nil {
		return refusal
	}
	kek, err := store.DeriveKEK(passphrase, *slot.KDF)
	if err != nil {
		return err
	}
	defer store.Zero(kek)
	secrets, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	if err != nil {
		return refusal
	}
	defer secrets.Wipe()
	// The backed-up general.db is under the key the person's grant names,
	// or under the computer's own (its escrow) when the key changed
	// elsewhere and that computer had not moved yet.
	kGens := generalKeysOf(kr, secrets.Identity, slot)
	if len(kGens) == 0 {
		return refusal
	}
	defer zeroAll(kGens)
	return v.restore(ctx, path, h, backupKeyFor(secrets.Identity, slot.UserID, kGens[0]), kGens, progress, func([]byte) error {
		s, err := v.SignIn(ctx, name, passphrase, code)
		if err != nil {
			if s != nil {
				s.Lock(ctx)
			}
			return err
		}
		defer s.Lock(ctx)
		if s.User().Role != Admin {
			return fmt.Errorf("restoring a backup takes an admin: %w", ErrNotPermitted)
		}
		return s.write(ctx, func(tx *sql.Tx) error {
			return audit(ctx, tx, v.now(), s.actor(), "backup-restored", filepath.Base(path), "into "+v.Dir)
		})
	})
}

// RestoreBackupWithRecoveryKey restores a backup into v.Dir with the
// vault's recovery key instead of a sign-in.
func (v *Vault) RestoreBackupWithRecoveryKey(ctx context.Context, path, recoveryKey string, progress func(BackupProgress)) error {
	h, err := readHeader(path)
	if err != nil {
		return err
	}
	kr, err := h.KeyringCopy()
	if err != nil {
		return err
	}
	kGen, kClin, err := openRecoverySlot(kr, recoveryKey)
	if err != nil {
		return err
	}
	defer store.Zero(kGen)
	store.Zero(kClin)
	identity, err := recoveryIdentity(kr, recoveryKey)
	if err != nil {
		return err
	}
	defer store.Zero(identity)
	kGens := [][]byte{kGen}
	if k := escrowKey(kr, identity, recoveryUserID); k != nil {
		kGens = append(kGens, k)
		defer store.Zero(k)
	}
	return v.restore(ctx, path, h, backupKeyFor(identity, recoveryUserID, kGen), kGens, progress, func(key []byte) error {
		gen, err := store.Open(ctx, filepath.Join(v.Dir, store.General.FileName()), store.General, key)
		if err != nil {
			return err
		}
		defer gen.Close()
		return inTx(ctx, gen, func(tx *sql.Tx) error {
			return audit(ctx, tx, v.now(), actor{recoveryUserID, "recovery key"}, "backup-restored", filepath.Base(path), "into "+v.Dir)
		})
	})
}

func readHeader(path string) (*store.BackupHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return store.ReadBackupHeader(bufio.NewReader(f))
}

// restore unpacks into v.Dir, writes the keyring last, and runs confirm;
// any failure removes everything it wrote.
func (v *Vault) restore(ctx context.Context, path string, h *store.BackupHeader, keyFor func(*store.BackupHeader) ([]byte, error), kGens [][]byte, progress func(BackupProgress), confirm func(kGen []byte) error) (err error) {
	if err := restoreTarget(v.Dir); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			entries, _ := os.ReadDir(v.Dir)
			for _, e := range entries {
				os.Remove(filepath.Join(v.Dir, e.Name()))
			}
		}
	}()
	if _, _, err = unpackBackup(path, keyFor, v.Dir, progress); err != nil {
		return err
	}
	if err = forgetDevice(ctx, v, kGens); err != nil {
		return err
	}
	gen, kGen, err := openGeneralFile(ctx, v, kGens)
	if err != nil {
		return err
	}
	gen.Close()
	if err = store.WriteFileAtomic(filepath.Join(v.Dir, store.KeyringFile), h.Keyring, 0o600); err != nil {
		return err
	}
	return confirm(kGen)
}

// SetBackupFolder chooses where scheduled backups go (admins only).
func (s *Session) SetBackupFolder(ctx context.Context, dir string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("backup folder: %w", err)
	}
	if rel, err := filepath.Rel(s.v.Dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("the backup folder must not be inside the vault's own folder: %w", ErrUsage)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingBackupFolder, abs); err != nil {
			return err
		}
		return audit(ctx, tx, s.v.now(), s.actor(), "settings-changed", "backup folder", abs)
	})
}

// BackupStatus is what the Backups screen and the sign-in reminder show.
type BackupStatus struct {
	Folder   string
	LastGood time.Time // newest backup that verified; zero if none
	Due      bool      // a scheduled backup should run now
	Warning  string    // non-empty after 3 days without a good backup, or after a failed scheduled backup
	// LastFailure and LastError: the newest scheduled backup that failed
	// since the last one that worked (zero and "" otherwise).
	LastFailure time.Time
	LastError   string
}

// settingBackupFailure holds the last failed scheduled backup, "unix|error",
// until one succeeds.
const settingBackupFailure = "backup_last_failure"

// BackupStatus reports the folder, the last verified backup and whether
// one is due.
func (s *Session) BackupStatus(ctx context.Context) (BackupStatus, error) {
	if err := s.require(); err != nil {
		return BackupStatus{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var st BackupStatus
	var folder string
	if err := s.general.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingBackupFolder).Scan(&folder); err == nil {
		st.Folder = folder
	}
	// The newest verified backup whose file is still there.
	rows, err := s.general.QueryContext(ctx, `SELECT file, created_at FROM backups WHERE ok = 1 ORDER BY created_at DESC LIMIT 50`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var file string
		var at int64
		rows.Scan(&file, &at)
		if _, err := os.Stat(file); err == nil {
			st.LastGood = time.Unix(at, 0)
			break
		}
	}
	rows.Close()
	if v := s.settingLocked(ctx, s.general, settingBackupFailure); v != "" {
		at, msg, _ := strings.Cut(v, "|")
		if n, err := strconv.ParseInt(at, 10, 64); err == nil && time.Unix(n, 0).After(st.LastGood) {
			st.LastFailure, st.LastError = time.Unix(n, 0), msg
		}
	}
	now := s.v.now()
	st.Due = st.Folder != "" && now.Sub(st.LastGood) >= backupEvery
	switch {
	case st.Folder == "":
		st.Warning = "No backup folder is set: choose one (a second disk, a USB drive or a network share) so that backups happen every day."
	case !st.LastFailure.IsZero():
		st.Warning = fmt.Sprintf("The scheduled backup of %s failed: %s", st.LastFailure.Local().Format("2 Jan 15:04"), st.LastError)
	case st.LastGood.IsZero():
		st.Warning = "There is no verified backup yet."
	case now.Sub(st.LastGood) > backupWarnAfter:
		st.Warning = fmt.Sprintf("The last good backup is %d days old.", int(now.Sub(st.LastGood).Hours()/24))
	}
	return st, nil
}

// RunScheduledBackup backs up to the chosen folder when one is due,
// verifies the new file, and prunes old copies (7 daily, 4 weekly, 12
// monthly). It reports whether it ran.
func (s *Session) RunScheduledBackup(ctx context.Context, progress func(BackupProgress)) (bool, error) {
	st, err := s.BackupStatus(ctx)
	if err != nil || !st.Due {
		return false, err
	}
	err = s.BackupNow(ctx, st.Folder, progress)
	if ctx.Err() != nil {
		return true, err // stopped (a lock, a sign-out): not a failure to report
	}
	// The outcome stays for the Backups screen and the Security Center:
	// a failure until a later backup works.
	value := ""
	if err != nil {
		value = strconv.FormatInt(s.v.now().Unix(), 10) + "|" + strings.ReplaceAll(err.Error(), "|", "/")
	}
	s.mu.Lock()
	werr := inTx(ctx, s.general, func(tx *sql.Tx) error {
		if value == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE name = ?`, settingBackupFailure)
			return err
		}
		return setSetting(ctx, tx, settingBackupFailure, value)
	})
	s.mu.Unlock()
	return true, errors.Join(err, werr)
}

// BackupNow creates a backup in dir, verifies it, and prunes old copies.
func (s *Session) BackupNow(ctx context.Context, dir string, progress func(BackupProgress)) error {
	info, err := s.CreateBackup(ctx, dir, progress)
	if err != nil {
		return err
	}
	if _, err := s.VerifyBackup(ctx, info.Path, progress); err != nil {
		return fmt.Errorf("the new backup did not verify: %w", err)
	}
	s.mu.Lock()
	vaultID := s.kr.VaultID
	s.mu.Unlock()
	_, err = PruneBackups(dir, vaultID, s.v.now())
	return err
}

// PruneBackups deletes this vault's backups in dir that the retention
// rule does not keep: the newest of each of the last 7 days, 4 weeks and
// 12 months that have backups. Other vaults' files are never touched.
func PruneBackups(dir, vaultID string, now time.Time) ([]string, error) {
	list, err := ListBackups(dir)
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	mark := func(key func(time.Time) string, n int) {
		seen := map[string]bool{}
		for _, b := range list { // newest first
			if b.VaultID != vaultID {
				continue
			}
			k := key(b.Created.Local())
			if seen[k] {
				continue
			}
			if len(seen) == n {
				break
			}
			seen[k] = true
			keep[b.Path] = true
		}
	}
	mark(func(t time.Time) string { return t.Format("2006-01-02") }, keepDaily)
	mark(func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }, keepWeekly)
	mark(func(t time.Time) string { return t.Format("2006-01") }, keepMonthly)
	var removed []string
	for _, b := range list {
		if b.VaultID == vaultID && !keep[b.Path] && b.Created.Before(now) {
			if err := os.Remove(b.Path); err != nil {
				return removed, err
			}
			removed = append(removed, b.Path)
		}
	}
	return removed, nil
}

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

// forgetDevice makes a restored vault a new machine: the backed-up
// machine's device keys and sync state are dropped, so the restored copy
// neither impersonates it nor resends its log. It gets a new identity at
// its first sign-in and joins sync through pairing, then catches up; the
// change log it carries keeps it from resurrecting archived records or
// losing newer changes (last writer wins per field).
func forgetDevice(ctx context.Context, v *Vault, kGens [][]byte) error {
	gen, _, err := openGeneralFile(ctx, v, kGens)
	if err != nil {
		return err
	}
	defer gen.Close()
	return inTx(ctx, gen, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM device_keys`, `DELETE FROM sync_sent`, `DELETE FROM sync_received`, `DELETE FROM sync_peers`,
			`DELETE FROM settings WHERE name IN ('device_id', 'sync_folder')`} {
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
