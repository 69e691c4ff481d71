package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// LabelAuditChain separates the audit chain's hashes from every other hash in
// ClinicVault; the version changes if the hashed layout ever does.

// ErrAuditTampered means the audit chain does not verify.
var ErrAuditTampered = errors.New("store: audit log has been altered")

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	Seq      int64
	At       time.Time
	UserID   string
	UserName string
	Action   string
	Subject  string
	Detail   string
	PrevHash []byte
	Hash     []byte
	// Computer names the computer the entry was made on, for lists that
	// gather every computer's entries ("" for this one). Not hashed.
	Computer string `json:"-"`
}

func auditHash(prev []byte, e *AuditEntry) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(LabelAuditChain))
	field(prev)
	var nums [16]byte
	binary.BigEndian.PutUint64(nums[:8], uint64(e.Seq))
	binary.BigEndian.PutUint64(nums[8:], uint64(e.At.UnixNano()))
	field(nums[:])
	for _, s := range []string{e.UserID, e.UserName, e.Action, e.Subject, e.Detail} {
		field([]byte(s))
	}
	return h.Sum(nil)
}

// Execer is what AppendAudit needs: a *sql.Tx, so the audit row commits or
// rolls back with the change it records.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// AppendAudit appends e to the audit chain inside tx. Seq, PrevHash and Hash
// are filled in.
func AppendAudit(ctx context.Context, tx Execer, e *AuditEntry) error {
	return AppendAudits(ctx, tx, []*AuditEntry{e})
}

// auditBatchRows is how many audit rows one INSERT statement writes.
const auditBatchRows = 200

// AppendAudits appends entries, in order, to the audit chain inside tx:
// the chain's head is read once and the rows go in with multi-row
// INSERTs (bulk imports audit every record they create). Seq, PrevHash
// and Hash are filled in.
func AppendAudits(ctx context.Context, tx Execer, entries []*AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var prev []byte
	var last int64
	err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&last, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		prev = make([]byte, sha256.Size)
		// A fresh chain continues from sqlite_sequence, so an emptied table
		// cannot restart at 1 unnoticed.
		var s sql.NullInt64
		_ = tx.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = 'audit'").Scan(&s)
		last = s.Int64
	} else if err != nil {
		return fmt.Errorf("store: read audit head: %w", err)
	}
	for _, e := range entries {
		last++
		e.Seq = last
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.PrevHash = prev
		e.Hash = auditHash(prev, e)
		prev = e.Hash
	}
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), auditBatchRows)]
		entries = entries[len(chunk):]
		// A bulk's entries share their time, author and action: bound once.
		f := chunk[0]
		shared := true
		for _, e := range chunk {
			if !e.At.Equal(f.At) || e.UserID != f.UserID || e.UserName != f.UserName || e.Action != f.Action {
				shared = false
				break
			}
		}
		q, args := `INSERT INTO audit (seq, at, user_id, user_name, action, subject, detail, prev_hash, hash) VALUES `+Values("(?, ?, ?, ?, ?, ?, ?, ?, ?)", len(chunk)), make([]any, 0, 9*len(chunk))
		if shared {
			q = `INSERT INTO audit (at, user_id, user_name, action, seq, subject, detail, prev_hash, hash) VALUES ` + Values("(?1, ?2, ?3, ?4, ?, ?, ?, ?, ?)", len(chunk))
			args = append(args, f.At.UnixNano(), f.UserID, f.UserName, f.Action)
		}
		for _, e := range chunk {
			if shared {
				args = append(args, e.Seq, e.Subject, e.Detail, e.PrevHash, e.Hash)
			} else {
				args = append(args, e.Seq, e.At.UnixNano(), e.UserID, e.UserName, e.Action, e.Subject, e.Detail, e.PrevHash, e.Hash)
			}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: append audit: %w", err)
		}
	}
	return nil
}

// ListAudit returns the newest limit entries (all when limit <= 0), newest first.
func ListAudit(ctx context.Context, db *DB, limit int) ([]AuditEntry, error) {
	q := "SELECT seq, at, user_id, user_name, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC"
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.UserID, &e.UserName, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyAudit walks the whole chain and reports the first row that was
// edited, inserted or deleted, wrapping ErrAuditTampered. It returns the
// number of rows checked.
func VerifyAudit(ctx context.Context, db *DB) (int, error) {
	rows, err := db.QueryContext(ctx, "SELECT seq, at, user_id, user_name, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	var expect int64 = 1
	n := 0
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.UserID, &e.UserName, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return n, err
		}
		e.At = time.Unix(0, at).UTC()
		if e.Seq != expect {
			return n, fmt.Errorf("audit row %d is missing (next row is %d): %w", expect, e.Seq, ErrAuditTampered)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return n, fmt.Errorf("audit row %d does not follow row %d: %w", e.Seq, e.Seq-1, ErrAuditTampered)
		}
		if !bytes.Equal(auditHash(prev, &e), e.Hash) {
			return n, fmt.Errorf("audit row %d was edited: %w", e.Seq, ErrAuditTampered)
		}
		prev = e.Hash
		expect++
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	var top sql.NullInt64
	_ = db.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = 'audit'").Scan(&top)
	if top.Int64 > expect-1 {
		return n, fmt.Errorf("audit rows %d to %d were deleted: %w", expect, top.Int64, ErrAuditTampered)
	}
	return n, nil
}

// CheckAuditRun checks entries (in order, consecutive) as a stretch of a
// chain whose entry before the first has hash prev (nil: not known, the
// first entry's link is taken as it is). It reports the first entry that
// does not follow, wrapping ErrAuditTampered.
func CheckAuditRun(prev []byte, entries []AuditEntry) error {
	for i := range entries {
		e := &entries[i]
		if i > 0 && e.Seq != entries[i-1].Seq+1 {
			return fmt.Errorf("audit entry %d follows entry %d: %w", e.Seq, entries[i-1].Seq, ErrAuditTampered)
		}
		if prev != nil && !bytes.Equal(e.PrevHash, prev) {
			return fmt.Errorf("audit entry %d does not follow entry %d: %w", e.Seq, e.Seq-1, ErrAuditTampered)
		}
		if !bytes.Equal(auditHash(e.PrevHash, e), e.Hash) {
			return fmt.Errorf("audit entry %d was altered: %w", e.Seq, ErrAuditTampered)
		}
		prev = e.Hash
	}
	return nil
}

// AuditRange returns this database's audit entries with from <= seq <= to,
// in order.
func AuditRange(ctx context.Context, db *DB, from, to int64) ([]AuditEntry, error) {
	rows, err := db.QueryContext(ctx, "SELECT seq, at, user_id, user_name, action, subject, detail, prev_hash, hash FROM audit WHERE seq BETWEEN ? AND ? ORDER BY seq", from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.UserID, &e.UserName, &e.Action, &e.Subject, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
