package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestValues(t *testing.T) {
	if got, want := Values("(?1, ?, 0)", 3), "(?1, ?, 0), (?1, ?, 0), (?1, ?, 0)"; got != want {
		t.Errorf("Values = %q, want %q", got, want)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a shared parameter after a bare ? was accepted")
			}
		}()
		Values("(?, ?1)", 2)
	}()
	// And SQLite binds them as described: shared first, then row by row.
	db, err := OpenUnencrypted(context.Background(), filepath.Join(t.TempDir(), "v.db"), General)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (a, b, c, d)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t (d, b, a, c) VALUES `+Values("(?1, ?2, ?, ?)", 2), "s1", "s2", "a1", "c1", "a2", "c2"); err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, _ := db.Query(`SELECT a || b || c || d FROM t ORDER BY rowid`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		got = append(got, s)
	}
	rows.Close()
	if len(got) != 2 || got[0] != "a1s2c1s1" || got[1] != "a2s2c2s1" {
		t.Fatalf("rows %q", got)
	}
}
