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

	"github.com/clinicvault/clinicvault/store"
)

// Checking a backup: unpacking it to a scratch folder and opening its
// databases with the keys of their time.

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
	olderGen, err := s.olderGeneralKeys(ctx)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	kGens := append([][]byte{kGen}, olderGen...)
	var clinKeys [][]byte
	if s.kClin != nil {
		// A backup made before the clinical key changed is under an
		// older one.
		olderClin, err := s.olderClinicalKeys(ctx)
		if err != nil {
			s.mu.Unlock()
			zeroAll(kGens)
			return nil, err
		}
		clinKeys = append([][]byte{append([]byte(nil), s.kClin...)}, olderClin...)
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
			kind := ""
			if errors.Is(verr, ErrBackupDamaged) {
				kind = verifyDamaged
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO backups (file, created_at, size, verified_at, ok, detail, verify_kind) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT(file) DO UPDATE SET verified_at = excluded.verified_at, ok = excluded.ok, detail = excluded.detail, verify_kind = excluded.verify_kind`,
				abs, created, size, now.Unix(), verr == nil, detail, kind); err != nil {
				return err
			}
		}
		return audit(ctx, tx, now, s.actor(), "backup-verified", filepath.Base(path), detail)
	})
	return report, verr
}

// verifyDamaged is backups.verify_kind for a file that did not
// authenticate.
const verifyDamaged = "damaged"

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
	sweepBackupScratch(filepath.Dir(path))
	work, release, err := store.MkdirWork(filepath.Dir(path), verifyScratch.Prefix)
	if err != nil {
		sweepTempScratch()
		work, release, err = store.MkdirWork("", tempVerifyScratch.Prefix)
		if err != nil {
			return nil, err
		}
	}
	defer release()
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
