package app

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// settingDevice is this machine's device id, made on first sign-in. The
// settings table is local to the machine: it is not replicated.
const settingDevice = "device_id"

// Change is one column of a change record: a column of a row set to a
// value at a hybrid-logical-clock time by an author on a device. The log
// stores one record per row write (all its columns share the time and
// Seq); History lists them a column at a time.
type Change struct {
	Seq    int64
	HLC    cvsync.Timestamp
	Table  string
	RowID  string
	Column string
	Value  *string // nil is SQL NULL
	Device string
	Author string
}

// startClock loads (or makes) this machine's device keys and starts the
// hybrid logical clock after the newest change its databases hold.
func (s *Session) startClock(ctx context.Context) error {
	dev, err := ensureDevice(ctx, s.general)
	if err != nil {
		return err
	}
	s.device = dev.id
	s.devKeys = dev
	last, err := lastHLC(ctx, s.general, s.clinical)
	if err != nil {
		return err
	}
	s.clock = cvsync.NewClock(dev.id, s.v.now, last)
	return nil
}

// lastHLC is the newest change-record time in the given databases.
func lastHLC(ctx context.Context, dbs ...*store.DB) (cvsync.Timestamp, error) {
	last := cvsync.Timestamp{}
	for _, db := range dbs {
		if db == nil {
			continue
		}
		h, err := scalar[sql.NullString](ctx, db, `SELECT max(hlc) FROM changes`)
		if err != nil {
			return last, err
		}
		if h.Valid {
			if ts, err := cvsync.ParseTimestamp(h.String); err == nil && ts.Compare(last) > 0 {
				last = ts
			}
		}
	}
	return last, nil
}

// deviceKeys are this machine's identity for sync: an X25519 key that
// pairing and key epochs are sealed to, and an Ed25519 key.
type deviceKeys struct {
	id      string
	x25519  []byte
	ed25519 []byte
}

// ensureDevice reads this machine's device keys from general.db, making
// them on first use (a device id from an older vault is kept).
func ensureDevice(ctx context.Context, db *store.DB) (deviceKeys, error) {
	var d deviceKeys
	err := db.QueryRowContext(ctx, `SELECT device_id, x25519_priv, ed25519_seed FROM device_keys WHERE id = 1`).Scan(&d.id, &d.x25519, &d.ed25519)
	if err == nil {
		return d, nil
	}
	if err != sql.ErrNoRows {
		return d, err
	}
	if d.id, err = scalarOr(ctx, db, "", `SELECT value FROM settings WHERE name = ?`, settingDevice); err != nil {
		return d, err
	}
	if d.id == "" {
		d.id = newID()
	}
	fresh := store.NewSlotSecrets(nil)
	d.x25519, d.ed25519 = fresh.Identity, fresh.SigningSeed
	if _, err := db.ExecContext(ctx, `INSERT INTO device_keys (id, device_id, x25519_priv, ed25519_seed) VALUES (1, ?, ?, ?)`, d.id, d.x25519, d.ed25519); err != nil {
		return d, err
	}
	_, err = db.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value`, settingDevice, d.id)
	return d, err
}

// publicX25519 returns the device's X25519 public key.
func (d deviceKeys) publicX25519() []byte {
	return (&store.SlotSecrets{Identity: d.x25519}).PublicKey()
}

// changeWriter appends change records stamped by one device's clock and
// one author.
type changeWriter struct {
	clock  *cvsync.Clock
	device string
	author string
	// notify, when not nil, hears that changes were recorded (the
	// replication loop sends them at once).
	notify func()
}

// rowWrite is one row write: the columns set, by name.
type rowWrite struct {
	table, rowID string
	cols         map[string]any
}

// changeRowsPerInsert is how many change records one INSERT writes.
const changeRowsPerInsert = 1024

// record appends one change record for a write of the given columns of
// one row, stamped with one clock reading, to the change log of the
// database tx belongs to.
func (w changeWriter) record(ctx context.Context, tx querier, table, rowID string, cols map[string]any) error {
	return w.recordRows(ctx, tx, []rowWrite{{table, rowID, cols}})
}

// recordRows appends one change record per row write, in order, each
// with its own clock reading (writes without columns are skipped).
func (w changeWriter) recordRows(ctx context.Context, tx querier, writes []rowWrite) error {
	if err := w.witness(ctx, tx); err != nil {
		return err
	}
	args, err := w.prepare(writes)
	if err != nil {
		return err
	}
	if err := insertChanges(ctx, tx, args); err != nil {
		return err
	}
	if w.notify != nil && len(args) > 0 {
		w.notify()
	}
	return nil
}

// witness moves the clock past the newest time in tx's change log.
// Writers are serialised (transactions begin IMMEDIATE), so this keeps the
// clock ahead of every other session or process of this machine: times
// never repeat. Once per transaction is enough: nobody else writes inside
// it.
func (w changeWriter) witness(ctx context.Context, tx querier) error {
	ct, ok := tx.(cachedTx)
	if ok && ct.once["clock"] {
		return nil
	}
	newest, err := scalar[sql.NullString](ctx, tx, `SELECT max(hlc) FROM changes`)
	if err != nil {
		return err
	}
	if ts, err := cvsync.ParseTimestamp(newest.String); err == nil {
		w.clock.Witness(ts)
	}
	if ok {
		ct.once["clock"] = true
	}
	return nil
}

// prepare stamps and encodes change records: 7 INSERT arguments each.
// It does not touch the database (bulk inserts prepare on one goroutine
// while another writes).
func (w changeWriter) prepare(writes []rowWrite) ([]any, error) {
	args := make([]any, 0, 7*len(writes))
	for _, wr := range writes {
		if len(wr.cols) == 0 {
			continue
		}
		values := make(map[string]*string, len(wr.cols))
		for c, v := range wr.cols {
			values[c] = changeValue(v)
		}
		col, value, err := encodeColumns(values)
		if err != nil {
			return nil, err
		}
		args = append(args, w.clock.Now().String(), wr.table, wr.rowID, col, value, w.device, w.author)
	}
	return args, nil
}

// insertChanges writes prepared change records, many per statement.
// When the records of a statement share their table, column, device and
// author (a bulk insert; a batch from one person on one machine), those
// are bound once.
func insertChanges(ctx context.Context, tx querier, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/7, changeRowsPerInsert)
		chunk := args[:7*n]
		args = args[7*n:]
		q, vals := `INSERT INTO changes (hlc, tbl, row_id, col, value, device, author) VALUES `+store.Values("(?, ?, ?, ?, ?, ?, ?)", n), chunk
		if sameChangeContext(chunk) {
			q = `INSERT INTO changes (tbl, col, device, author, hlc, row_id, value) VALUES ` + store.Values("(?1, ?2, ?3, ?4, ?, ?, ?)", n)
			vals = make([]any, 4, 4+3*n)
			vals[0], vals[1], vals[2], vals[3] = chunk[1], chunk[3], chunk[5], chunk[6]
			for i := 0; i < len(chunk); i += 7 {
				vals = append(vals, chunk[i], chunk[i+2], chunk[i+4])
			}
		}
		if _, err := tx.ExecContext(ctx, q, vals...); err != nil {
			return fmt.Errorf("change log: %w", err)
		}
	}
	return nil
}

// sameChangeContext reports whether the records (7 arguments each) share
// table, column, device and author, all plain strings.
func sameChangeContext(args []any) bool {
	for _, k := range []int{1, 3, 5, 6} {
		first, ok := args[k].(string)
		if !ok {
			return false
		}
		for i := 7 + k; i < len(args); i += 7 {
			if v, ok := args[i].(string); !ok || v != first {
				return false
			}
		}
	}
	return true
}

// severalColumns is the col of a change record that carries more than one
// column: its value is then a JSON object of column to value (null for
// SQL NULL). A record of one column keeps the column's name and its value
// as they are, which is also how every record before this layout looks.
const severalColumns = "*"

// encodeColumns renders a record's columns as the change log stores it.
// Several columns become a JSON object with its keys sorted, so the same
// columns always give the same text (written by hand: bulk imports encode
// one per patient, and encoding/json's reflection was a tenth of the
// cost of an import).
func encodeColumns(cols map[string]*string) (col string, value *string, err error) {
	if len(cols) == 1 {
		for c, v := range cols {
			return c, v, nil
		}
	}
	names := make([]string, 0, len(cols))
	size := 2
	for c, v := range cols {
		names = append(names, c)
		size += len(c) + 8
		if v != nil {
			size += len(*v)
		}
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, c := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c)
		b = append(b, ':')
		if v := cols[c]; v == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *v)
		}
	}
	b = append(b, '}')
	str := string(b)
	return severalColumns, &str, nil
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD (as encoding/json
// does, so the text always decodes).
func appendJSONString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// decodeColumns reads back what encodeColumns wrote.
func decodeColumns(col string, value sql.NullString) (map[string]*string, error) {
	if col != severalColumns {
		m := map[string]*string{col: nil}
		if value.Valid {
			v := value.String
			m[col] = &v
		}
		return m, nil
	}
	var m map[string]*string
	if err := json.Unmarshal([]byte(value.String), &m); err != nil || len(m) == 0 {
		return nil, fmt.Errorf("change log: a record's columns do not decode")
	}
	return m, nil
}

// DeviceID returns this machine's device id.
func (s *Session) DeviceID() string { return s.device }

// recordChanges appends the session's change records for one row.
func (s *Session) recordChanges(ctx context.Context, tx querier, table, rowID string, cols map[string]any) error {
	return s.cw().record(ctx, tx, table, rowID, cols)
}

// cw is the session's change writer.
func (s *Session) cw() changeWriter {
	return changeWriter{s.clock, s.device, s.user.ID, s.local.changed}
}

// changeValue renders a column value as the change log stores it: text,
// or NULL.
func changeValue(x any) *string {
	var v *string
	switch x := x.(type) {
	case nil:
	case string:
		v = &x
	case *string:
		v = x
	case int64:
		str := strconv.FormatInt(x, 10)
		v = &str
	case int:
		str := strconv.Itoa(x)
		v = &str
	case bool:
		str := "0"
		if x {
			str = "1"
		}
		v = &str
	case *int:
		if x != nil {
			str := fmt.Sprint(*x)
			v = &str
		}
	case *float64:
		if x != nil {
			str := fmt.Sprint(*x)
			v = &str
		}
	case time.Time:
		str := fmt.Sprint(x.Unix())
		v = &str
	case []byte:
		str := base64.StdEncoding.EncodeToString(x)
		v = &str
	default:
		str := fmt.Sprint(x)
		v = &str
	}
	return v
}

// History returns the change records of one row, oldest first: who
// changed which field to what, on which machine (clinical tables need a
// clinical session).
func (s *Session) History(ctx context.Context, table, rowID string) ([]Change, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	db := s.general
	if clinicalTables[table] {
		if s.clinical == nil {
			return nil, fmt.Errorf("clinical history: %w", ErrNotPermitted)
		}
		db = s.clinical
	}
	type record struct {
		Change
		cols map[string]*string
	}
	recs, err := queryAll(ctx, db, func(r row) (record, error) {
		c := record{Change: Change{Table: table, RowID: rowID}}
		var h, col string
		var v sql.NullString
		if err := r.Scan(&c.Seq, &h, &col, &v, &c.Device, &c.Author); err != nil {
			return c, err
		}
		c.HLC, _ = cvsync.ParseTimestamp(h)
		var err error
		c.cols, err = decodeColumns(col, v)
		return c, err
	}, `SELECT seq, hlc, col, value, device, author FROM changes WHERE tbl = ? AND row_id = ? ORDER BY hlc`, table, rowID)
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, rec := range recs {
		names := make([]string, 0, len(rec.cols))
		for name := range rec.cols {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c := rec.Change
			c.Column, c.Value = name, rec.cols[name]
			out = append(out, c)
		}
	}
	return out, nil
}

// clinicalTables are the tables of clinical.db.
var clinicalTables = map[string]bool{
	"encounters": true, "addenda": true, "problems": true, "allergies": true,
	"medications": true, "vitals": true, "documents": true,
}
