package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	sqlite3 "github.com/mutecomm/go-sqlcipher/v4"
)

// Snapshot copies the live database db into a new file at dest, encrypted
// with the same key, using SQLite's online backup API: a consistent copy
// while the app keeps working, and never a plaintext intermediate. progress,
// if not nil, is called with pages done and pages in all.
func Snapshot(ctx context.Context, db *DB, key []byte, dest string, progress func(done, total int)) (err error) {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("store: snapshot target %s already exists", dest)
	}
	ddb, err := sql.Open(driverName, dsn(dest, key, db.PageSize))
	if err != nil {
		return err
	}
	defer func() {
		ddb.Close()
		if err != nil {
			removeDB(dest)
		}
	}()
	dconn, err := ddb.Conn(ctx)
	if err != nil {
		return err
	}
	defer dconn.Close()
	sconn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer sconn.Close()
	return dconn.Raw(func(d any) error {
		return sconn.Raw(func(s any) error {
			dc, ok1 := d.(*sqlite3.SQLiteConn)
			sc, ok2 := s.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return errors.New("store: unexpected driver connection")
			}
			b, err := dc.Backup("main", sc, "main")
			if err != nil {
				return fmt.Errorf("store: start snapshot: %w", err)
			}
			for {
				if err := ctx.Err(); err != nil {
					b.Close()
					return err
				}
				done, err := b.Step(256)
				if progress != nil {
					progress(b.PageCount()-b.Remaining(), b.PageCount())
				}
				if err != nil {
					b.Close()
					return fmt.Errorf("store: snapshot: %w", err)
				}
				if done {
					break
				}
			}
			return b.Finish()
		})
	})
}

// removeDB deletes a database file and its WAL and shared-memory files.
func removeDB(p string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(p + suffix)
	}
}

// Checkpoint folds the WAL into the main file and truncates it, so that the
// database is one self-contained file.
func (db *DB) Checkpoint(ctx context.Context) error {
	_, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// TableCounts returns the row count of every table, by name.
func TableCounts(ctx context.Context, db *DB) (map[string]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	counts := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(n, `"`, `""`)+`"`).Scan(&c); err != nil {
			return nil, err
		}
		counts[n] = c
	}
	return counts, nil
}

// IntegrityCheck runs SQLCipher's page authentication check and SQLite's
// structural check, returning the first problem found.
func IntegrityCheck(ctx context.Context, db *DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA cipher_integrity_check")
	if err != nil {
		return fmt.Errorf("store: cipher_integrity_check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		problems = append(problems, s)
	}
	rows.Close()
	if len(problems) > 0 {
		return fmt.Errorf("store: %s fails cipher_integrity_check: %s", db.Kind.FileName(), strings.Join(problems, "; "))
	}
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("store: integrity_check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("store: %s fails integrity_check: %s", db.Kind.FileName(), res)
	}
	return nil
}
