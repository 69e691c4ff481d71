package app

import (
	"context"
	"database/sql"
)

// querier is what the write paths need of a transaction. *sql.Tx has it;
// cachedTx adds prepared-statement reuse for bulk work, where preparing
// and finalizing a statement for every row costs more than running it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// cachedTx prepares each distinct query once per transaction. The
// statements close with the transaction.
type cachedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	// once remembers per-transaction work already done (the change
	// writer's clock check).
	once map[string]bool
}

func newCachedTx(tx *sql.Tx) cachedTx {
	return cachedTx{tx, map[string]*sql.Stmt{}, map[string]bool{}}
}

func (c cachedTx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	st, err := c.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.stmts[q] = st
	return st, nil
}

func (c cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (c cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, q)
	if err != nil {
		// Let the error surface at Scan, as database/sql does.
		return c.tx.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
