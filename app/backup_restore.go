package app

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clinicvault/clinicvault/store"
)

// Restoring a backup into a new folder, with a member of staff's
// passphrase or the recovery key; the restored vault is a new computer.

// ErrBackupTarget refuses to restore into a folder that holds a vault.
var ErrBackupTarget = errors.New("the restore folder must be new or empty; ClinicVault never restores over a vault")

// restoreTarget checks dir is new or empty (but for the window's own
// files), and creates it.
func restoreTarget(dir string) error {
	if folderHasFiles(dir) {
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
				if !desktopFile(e.Name()) {
					os.Remove(filepath.Join(v.Dir, e.Name()))
				}
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
