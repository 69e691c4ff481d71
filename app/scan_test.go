package app

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

// queryAll must not pass a row it could not scan as a shorter list: that
// is how a changed column list or a damaged page went unnoticed.
func TestQueryAllReturnsAScanError(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	scanInt := func(r row) (int, error) {
		var n int
		err := r.Scan(&n)
		return n, err
	}
	got, err := queryAll(ctx, s.general, scanInt, `SELECT 1 UNION ALL SELECT 2`)
	if err != nil || len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("queryAll = %v, %v; want [1 2]", got, err)
	}
	if got, err := queryAll(ctx, s.general, scanInt, `SELECT 1 UNION ALL SELECT 'not a number'`); err == nil {
		t.Fatalf("a row that does not scan gave %v and no error", got)
	}
	if _, err := queryAll(ctx, s.general, scanInt, `SELECT nothing FROM nowhere`); err == nil {
		t.Fatal("a query that fails gave no error")
	}
	if _, err := scalar[int](ctx, s.general, `SELECT 1 WHERE 0`); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("scalar of no row: %v, want sql.ErrNoRows", err)
	}
	if n, err := scalarOr(ctx, s.general, 7, `SELECT 1 WHERE 0`); err != nil || n != 7 {
		t.Fatalf("scalarOr of no row = %v, %v; want 7", n, err)
	}
	if _, err := scalarOr(ctx, s.general, 7, `SELECT 'x' FROM nowhere`); err == nil {
		t.Fatal("scalarOr hid a failing query")
	}
}
