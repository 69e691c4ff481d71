package app

import (
	"context"
	"database/sql"
	"errors"
)

// row is what a scan function reads from: a *sql.Row or the current row
// of a *sql.Rows.
type row interface{ Scan(dest ...any) error }

// queryAll runs query and returns one value per row, made by scan. Every
// error is returned: the query's, each row's Scan and the iteration's, so
// a damaged page or a changed column list never passes as a short list.
func queryAll[T any](ctx context.Context, q querier, scan func(row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// collect scans rows to the end and closes them.
func collect[T any](rows *sql.Rows, scan func(row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scalar reads the single column of the single row query returns.
// sql.ErrNoRows is returned as it is; see scalarOr.
func scalar[T any](ctx context.Context, q querier, query string, args ...any) (T, error) {
	var v T
	err := q.QueryRowContext(ctx, query, args...).Scan(&v)
	return v, err
}

// scalarOr is scalar where no row means def, for lookups whose absence is
// an answer (a setting never written, a device never heard from). Other
// errors still come back.
func scalarOr[T any](ctx context.Context, q querier, def T, query string, args ...any) (T, error) {
	v, err := scalar[T](ctx, q, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// scanString scans a one-column text result.
func scanString(r row) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// readSetting is a setting's value, "" when it was never written.
func readSetting(ctx context.Context, q querier, name string) (string, error) {
	return scalarOr(ctx, q, "", `SELECT value FROM settings WHERE name = ?`, name)
}

// stringSet is a one-column text result as a set.
func stringSet(ctx context.Context, q querier, query string, args ...any) (map[string]bool, error) {
	xs, err := queryAll(ctx, q, scanString, query, args...)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(xs))
	for _, x := range xs {
		set[x] = true
	}
	return set, nil
}
