package app

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Merging records: every record joins the change log, and the newest
// write of each column wins.

// column describes a replicated table's column for apply.
type column struct {
	notNull, hasDefault bool
	typ                 string
}

func tableColumns(ctx context.Context, db *store.DB, table string) (map[string]column, error) {
	type named struct {
		name string
		column
	}
	cols, err := queryAll(ctx, db, func(r row) (named, error) {
		var c named
		var dflt sql.NullString
		err := r.Scan(&c.name, &c.typ, &c.notNull, &dflt)
		c.hasDefault, c.typ = dflt.Valid, strings.ToUpper(c.typ)
		return c, err
	}, `SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?)`, table)
	out := make(map[string]column, len(cols))
	for _, c := range cols {
		out[c.name] = c.column
	}
	return out, err
}

// applyBatch merges a batch in one transaction: every record joins the
// change log (so a losing value stays in the history), and each of its
// columns that no newer record of the same row has set — by
// hybrid-logical-clock time, ties broken by device id — is written.
// Applying a batch twice changes nothing. It returns the keyring slots the
// batch touched.
func (s *Session) applyBatch(ctx context.Context, b *cvsync.Batch) ([]string, error) {
	db := s.general
	if b.Header.Class == cvsync.Clinical {
		db = s.clinical
	}
	schemas := map[string]map[string]column{}
	// Patients whose search index entry must be rewritten (true: a new
	// row, with no entry yet).
	reindex := map[string]bool{}
	var slots []string
	err := inTx(ctx, db, func(sqltx *sql.Tx) error {
		tx := newCachedTx(sqltx)
		for _, r := range b.Records {
			cols, ok := schemas[r.Table]
			if !ok {
				var err error
				if cols, err = tableColumns(ctx, db, r.Table); err != nil {
					return err
				}
				schemas[r.Table] = cols
			}
			for c := range r.Columns {
				if _, ok := cols[c]; !ok || c == "id" || (r.Table == "patients" && c == colPhoneKey) {
					return fmt.Errorf("unknown column %s.%s", r.Table, c)
				}
			}
		}
		// Every record joins the log first, many per statement; the ones
		// the log already held (a batch seen before) are left out.
		fresh, err := logRecords(ctx, tx, b.Records)
		if err != nil {
			return err
		}
		newest, err := newestPerColumn(ctx, tx, fresh)
		if err != nil {
			return err
		}
		for _, r := range fresh {
			cols := schemas[r.Table]
			win := make(map[string]*string, len(r.Columns))
			for c, v := range r.Columns {
				if newest[rowKey{r.Table, r.RowID}][c] == r.HLC {
					win[c] = v
				}
			}
			// A computer's audit head only moves forward: the greatest
			// number wins whatever its time; the same number with another
			// hash is a rewritten log.
			if r.Table == "audit_heads" {
				if err := s.mergeAuditHead(ctx, tx, r); err != nil {
					return err
				}
				continue
			}
			// Spent authenticator steps only add up: the greatest wins,
			// whatever its time, so that a code used anywhere stays used.
			var spent *int64
			if r.Table == "users" {
				if v := r.Columns["last_totp_step"]; v != nil {
					if n, err := strconv.ParseInt(*v, 10, 64); err == nil {
						spent = &n
					}
					delete(win, "last_totp_step")
				}
			}
			raiseSpent := func() error {
				if spent == nil {
					return nil
				}
				_, err := tx.ExecContext(ctx, `UPDATE users SET last_totp_step = max(last_totp_step, ?) WHERE id = ?`, *spent, r.RowID)
				return err
			}
			if len(win) == 0 {
				if err := raiseSpent(); err != nil {
					return err
				}
				continue // older on every column: kept in the history only
			}
			vals := make(map[string]any, len(win)+1)
			for c, v := range win {
				if v == nil {
					vals[c] = nil
					continue
				}
				vals[c] = *v
				if cols[c].typ == "BLOB" {
					raw, err := base64.StdEncoding.DecodeString(*v)
					if err != nil {
						return fmt.Errorf("%s.%s: not base64", r.Table, c)
					}
					vals[c] = raw
				}
			}
			if r.Table == "patients" {
				patientLocalColumns(win, vals)
			}
			created, err := writeRow(ctx, tx, r.Table, r.RowID, cols, vals)
			if err != nil {
				return err
			}
			if err := raiseSpent(); err != nil {
				return err
			}
			switch r.Table {
			case "patients":
				if created {
					reindex[r.RowID] = true
				} else if patientSearched(win) && !reindex[r.RowID] {
					reindex[r.RowID] = false
				}
			case "keyring_slots":
				slots = append(slots, r.RowID)
			}
		}
		return reindexPatients(ctx, tx, reindex)
	})
	return slots, err
}

// reindexPatients rewrites the search index entries of the given patients
// (true: a new row without an entry), in rowid order: FTS4 then keeps its
// pending terms across a delete and re-insert of each docid instead of
// writing a segment per patient.
func reindexPatients(ctx context.Context, tx querier, ids map[string]bool) error {
	entries := make([]indexedPatient, 0, len(ids))
	for id := range ids {
		e, err := scanIndexed(tx.QueryRowContext(ctx, `SELECT rowid, `+patientColumns+` FROM patients WHERE id = ?`, id))
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rowid < entries[j].rowid })
	for _, e := range entries {
		if !ids[e.p.ID] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM patients_fts WHERE docid = ?`, e.rowid); err != nil {
				return err
			}
		}
		if !e.p.Archived {
			if err := insertFTS(ctx, tx, e.rowid, e.p); err != nil {
				return err
			}
		}
	}
	return nil
}

// logRecords adds a batch's records to the change log, many per
// statement, and returns those it did not hold yet, in batch order.
func logRecords(ctx context.Context, tx querier, recs []cvsync.Record) ([]cvsync.Record, error) {
	const chunk = 400
	fresh := make([]cvsync.Record, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for start := 0; start < len(recs); start += chunk {
		part := recs[start:min(start+chunk, len(recs))]
		args := make([]any, 0, len(part))
		for _, r := range part {
			args = append(args, r.HLC)
		}
		held, err := queryAll(ctx, tx, scanString, `SELECT hlc FROM changes WHERE hlc IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, h := range held {
			seen[h] = true
		}
		ins := make([]any, 0, 7*len(part))
		for _, r := range part {
			if seen[r.HLC] {
				continue // held already, or twice in this batch
			}
			seen[r.HLC] = true
			col, value, err := encodeColumns(r.Columns)
			if err != nil {
				return nil, err
			}
			ins = append(ins, r.HLC, r.Table, r.RowID, col, value, r.Device, r.Author)
			fresh = append(fresh, r)
		}
		if err := insertChanges(ctx, tx, ins); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// rowKey names a replicated row.
type rowKey struct{ table, id string }

// newestPerColumn reads the change log of every row the records touch —
// from the oldest of the records on, since older entries cannot outrank
// any of them — and returns, per row and column, the newest time that set
// it. A record wins the columns whose newest time is its own.
func newestPerColumn(ctx context.Context, tx querier, recs []cvsync.Record) (map[rowKey]map[string]string, error) {
	const chunk = 400
	known := make(map[string]map[string]*string, len(recs))
	byTable := map[string][]string{}
	oldest := map[string]string{} // per table
	out := make(map[rowKey]map[string]string, len(recs))
	for _, r := range recs {
		known[r.HLC] = r.Columns
		k := rowKey{r.Table, r.RowID}
		if out[k] == nil {
			out[k] = map[string]string{}
			byTable[r.Table] = append(byTable[r.Table], r.RowID)
		}
		if o, ok := oldest[r.Table]; !ok || r.HLC < o {
			oldest[r.Table] = r.HLC
		}
	}
	for table, ids := range byTable {
		for start := 0; start < len(ids); start += chunk {
			part := ids[start:min(start+chunk, len(ids))]
			args := make([]any, 0, len(part)+2)
			args = append(args, table, oldest[table])
			for _, id := range part {
				args = append(args, id)
			}
			// Each record's columns are counted as it is scanned (no list
			// of a large row history is kept).
			_, err := queryAll(ctx, tx, func(r row) (struct{}, error) {
				var id, hlc, col string
				var v sql.NullString
				if err := r.Scan(&id, &hlc, &col, &v); err != nil {
					return struct{}{}, err
				}
				cols, ok := known[hlc]
				if !ok {
					var err error
					if cols, err = decodeColumns(col, v); err != nil {
						return struct{}{}, err
					}
				}
				newest := out[rowKey{table, id}]
				for c := range cols {
					if hlc > newest[c] {
						newest[c] = hlc
					}
				}
				return struct{}{}, nil
			}, `SELECT row_id, hlc, col, value FROM changes WHERE tbl = ? AND hlc >= ? AND row_id IN (`+placeholders(len(part))+`)`, args...)
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// writeRow sets columns of a row, first inserting the row — with defaults
// for its required columns that vals does not set — if it does not exist
// yet (its other columns arrive as records).
func writeRow(ctx context.Context, tx querier, table, id string, cols map[string]column, vals map[string]any) (created bool, err error) {
	names := make([]string, 0, len(vals))
	for c := range vals {
		names = append(names, c)
	}
	sort.Strings(names)
	sets := make([]string, len(names))
	upd := make([]any, 0, len(names)+1)
	for i, c := range names {
		sets[i] = c + " = ?"
		upd = append(upd, vals[c])
	}
	upd = append(upd, id)
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s WHERE id = ?`, table, strings.Join(sets, ", ")), upd...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return false, err
	}
	names = []string{"id"}
	args := []any{id}
	keys := make([]string, 0, len(cols))
	for c := range cols {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	for _, c := range keys {
		col := cols[c]
		if c == "id" {
			continue
		}
		if v, ok := vals[c]; ok {
			names = append(names, c)
			args = append(args, v)
			continue
		}
		if !col.notNull || col.hasDefault {
			continue
		}
		names = append(names, c)
		if d, ok := rowDefaults[table+"."+c]; ok {
			args = append(args, d)
		} else if strings.Contains(col.typ, "INT") || col.typ == "REAL" {
			args = append(args, 0)
		} else {
			args = append(args, "")
		}
	}
	_, err = tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, table, strings.Join(names, ", "), placeholders(len(names))), args...)
	return err == nil, err
}

// rowDefaults fill required columns with a CHECK constraint until their
// record arrives: the least privilege.
var rowDefaults = map[string]any{"users.role": string(Receptionist)}

// applySlots copies replicated keyring slots into vault.keys.
func (s *Session) applySlots(ctx context.Context, ids []string) error {
	type change struct {
		id       string
		archived bool
		slot     store.Slot
	}
	var changes []change
	for _, id := range ids {
		var js, gs string
		c := change{id: id}
		if err := s.general.QueryRowContext(ctx, `SELECT slot, grants, archived FROM keyring_slots WHERE id = ?`, id).Scan(&js, &gs, &c.archived); err != nil {
			return err
		}
		if !c.archived && js == "" {
			continue // its grants came first; the slot itself follows from its own computer
		}
		if !c.archived {
			if err := json.Unmarshal([]byte(js), &c.slot); err != nil || c.slot.UserID != id {
				return fmt.Errorf("slot %s: not a keyring slot", id)
			}
			if gs != "" {
				var g slotGrants
				if err := json.Unmarshal([]byte(gs), &g); err != nil {
					return fmt.Errorf("slot %s: its grants are damaged", id)
				}
				c.slot.Role, c.slot.Grants, c.slot.ClinicalKeyID, c.slot.GeneralKeyID = g.Role, g.Grants, g.ClinicalKeyID, g.GeneralKeyID
			}
			// Name and role are the roster's, never what the owner's
			// part says.
			var name, role string
			switch err := s.general.QueryRowContext(ctx, `SELECT name, role FROM users WHERE id = ?`, id).Scan(&name, &role); {
			case err == nil:
				c.slot.Name, c.slot.Role = name, role
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			// A removal in the roster is never undone by a slot change
			// made elsewhere while the computers were apart.
			removed, err := scalarOr(ctx, s.general, sql.NullInt64{}, `SELECT removed_at FROM users WHERE id = ?`, id)
			if err != nil {
				return err
			}
			c.archived = removed.Valid
		}
		changes = append(changes, c)
	}
	return store.UpdateKeyring(s.v.Dir, func(kr *store.Keyring) error {
		for _, c := range changes {
			slot := c.slot
			switch {
			case c.archived:
				kr.RemoveSlot(c.id)
			case c.id == recoveryUserID:
				kr.Recovery = &slot
			default:
				if old, err := kr.SlotByID(c.id); err == nil {
					*old = slot
				} else {
					kr.Slots = append(kr.Slots, &slot)
				}
			}
		}
		ensureEscrow(kr, s.kGen, s.excludedGeneral())
		s.kr = kr
		return nil
	})
}
