package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The daily backup: the chosen folder, whether one is due, the scheduled
// run and what it reports, and pruning old copies.

// Settings and schedule of backups.
const (
	settingBackupFolder = "backup_folder"
	backupEvery         = 24 * time.Hour
	backupWarnAfter     = 3 * 24 * time.Hour
	keepDaily           = 7
	keepWeekly          = 4
	keepMonthly         = 12
)

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
	var err error
	if st.Folder, err = readSetting(ctx, s.general, settingBackupFolder); err != nil {
		return st, err
	}
	// The newest verified backup whose file is still there.
	type made struct {
		file string
		at   int64
	}
	good, err := queryAll(ctx, s.general, func(r row) (m made, err error) {
		err = r.Scan(&m.file, &m.at)
		return m, err
	}, `SELECT file, created_at FROM backups WHERE ok = 1 ORDER BY created_at DESC LIMIT 50`)
	if err != nil {
		return st, err
	}
	for _, m := range good {
		if _, err := os.Stat(m.file); err == nil {
			st.LastGood = time.Unix(m.at, 0)
			break
		}
	}
	failure, err := readSetting(ctx, s.general, settingBackupFailure)
	if err != nil {
		return st, err
	}
	if failure != "" {
		at, msg, _ := strings.Cut(failure, "|")
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
