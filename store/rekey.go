package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// rekeySuffix names the copy under the new key while a re-key is under
// way.
const rekeySuffix = ".rekey"

// rekeyCrash, when set by a test, is called at each stage of Rekey;
// returning an error stops it there, as a crash would.
var rekeyCrash func(stage string) error

// Rekey replaces db's key with newKey and returns the database opened
// under it; db is closed. It never changes the file in place: a copy is
// made under the new key (the online backup API, page by page), synced,
// the old database is checkpointed and closed, and the copy is renamed
// over it. A crash at any point leaves a file that opens with one key or
// the other, never a mix: before the rename the old file is whole (a
// leftover copy is deleted at the next Open), after it the new one is.
// (SQLCipher 4's PRAGMA rekey rewrites pages in place and is not safe in
// WAL mode.)
func Rekey(ctx context.Context, db *DB, newKey []byte, progress func(done, total int)) (*DB, error) {
	if len(newKey) != KeySize {
		return nil, fmt.Errorf("store: key must be %d bytes", KeySize)
	}
	p, kind := db.Path, db.Kind
	tmp := p + rekeySuffix
	removeDB(tmp)
	stage := func(s string) error {
		if rekeyCrash != nil {
			return rekeyCrash(s)
		}
		return nil
	}
	if err := db.Checkpoint(ctx); err != nil {
		return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
	}
	if err := Snapshot(ctx, db, newKey, tmp, progress); err != nil {
		return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
	}
	if err := stage("copied"); err != nil {
		return nil, err
	}
	// The copy must be whole on disk before it replaces anything.
	if f, err := os.OpenFile(tmp, os.O_RDWR, 0); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
		}
	}
	if err := db.Checkpoint(ctx); err != nil {
		return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
	}
	if err := stage("closed"); err != nil {
		return nil, err
	}
	// The old WAL was folded in and truncated; no frame of it may meet
	// the new file.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
		}
	}
	if err := stage("wal-removed"); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, fmt.Errorf("store: re-key %s: %w", filepath.Base(p), err)
	}
	syncDir(filepath.Dir(p))
	if err := stage("renamed"); err != nil {
		return nil, err
	}
	return Open(ctx, p, kind, newKey)
}

// dropUnfinishedRekey deletes the copy of an interrupted re-key: the
// database itself was not touched yet.
func dropUnfinishedRekey(p string) {
	if _, err := os.Stat(p + rekeySuffix); err == nil {
		removeDB(p + rekeySuffix)
	}
}
