package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
)

// TestRekeyCrashLeavesOneKeyOrTheOther: a re-key stopped at each of its
// stages (as a crash would) leaves a database that opens with the old key
// or the new one, never neither, with every row; finished, it opens with
// the new key only.
func TestRekeyCrashLeavesOneKeyOrTheOther(t *testing.T) {
	ctx := context.Background()
	for _, crashAt := range []string{"copied", "closed", "wal-removed", "renamed", ""} {
		t.Run("stop at "+crashAt, func(t *testing.T) {
			oldKey, newKey := NewKey(), NewKey()
			db, p := openTemp(t, Clinical, oldKey)
			if _, err := db.ExecContext(ctx, `CREATE TABLE notes (n INTEGER)`); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 500; i++ {
				db.ExecContext(ctx, `INSERT INTO notes VALUES (?)`, i)
			}
			rekeyCrash = func(stage string) error {
				if stage == crashAt {
					return fmt.Errorf("crash at %s", stage)
				}
				return nil
			}
			defer func() { rekeyCrash = nil }()
			ndb, err := Rekey(ctx, db, newKey, nil)
			if crashAt != "" && err == nil {
				t.Fatal("no crash")
			}
			if ndb != nil {
				ndb.Close()
			}
			if crashAt == "copied" {
				db.Close() // the process died with it open
			}
			rekeyCrash = nil
			var opened *DB
			for _, k := range [][]byte{newKey, oldKey} {
				if d, err := Open(ctx, p, Clinical, k); err == nil {
					opened = d
					break
				} else if !errors.Is(err, ErrWrongKey) {
					t.Fatalf("open: %v", err)
				}
			}
			if opened == nil {
				t.Fatal("the database opens with neither key")
			}
			var n int
			opened.QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n)
			opened.Close()
			if n != 500 {
				t.Fatalf("%d rows after the stop", n)
			}
			if _, err := os.Stat(p + rekeySuffix); err == nil {
				t.Fatal("the interrupted copy is left beside the database")
			}
			if crashAt == "" || crashAt == "renamed" {
				if _, err := Open(ctx, p, Clinical, oldKey); !errors.Is(err, ErrWrongKey) {
					t.Fatalf("the old key still opens the re-keyed database: %v", err)
				}
			}
		})
	}
}
