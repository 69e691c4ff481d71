package app

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Writing the patients table. patientWriter is the only code that does
// (TestPatientsAreWrittenOnlyByTheWriter holds every other file to it):
// each of its writes puts the row, the row's change record and its search
// index entry in the one transaction it is given, so no write can reach
// this computer's table without reaching the change log - and so the
// other computers - too. Its statements and records are made from
// patientTable. (Sync's merge writes rows from records already in the
// log: applyBatch logs them first.)

// patientWriter writes patients for one session at one time.
type patientWriter struct {
	cw    changeWriter
	actor actor
	now   time.Time
}

// patientWriter is the session's writer of patients, at the time now.
func (s *Session) patientWriter() patientWriter {
	return patientWriter{s.cw(), s.actor(), s.v.now()}
}

// sqliteMaxVars is the most parameters one statement may have (SQLite's
// SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const sqliteMaxVars = 32766

// The INSERT of new patients, made from patientTable: the time columns
// (created_at, updated_at) take the chunk's time, shared parameter ?1;
// then each patient's rowid (the index entry's docid), its phone_key and
// every other column, patientRowArgs arguments.
var (
	newPatientColumns         = insertedColumns()
	patientInsert, patientRow = insertStatement(newPatientColumns)
	patientRowArgs            = 2 + len(newPatientColumns)
	patientCreationColumns    = replicatedByName()
	patientsPerInsert         = min(bulkChunk, (sqliteMaxVars-1)/patientRowArgs)
)

// insertedColumns are the columns a new row binds one by one: all but the
// times.
func insertedColumns() []*patientField {
	var out []*patientField
	for i := range patientTable {
		if _, isTime := patientTable[i].ref.at(&Patient{}).(*time.Time); !isTime {
			out = append(out, &patientTable[i])
		}
	}
	return out
}

func insertStatement(cols []*patientField) (insert, row string) {
	names := []string{}
	marks := []string{}
	for i := range patientTable {
		if _, isTime := patientTable[i].ref.at(&Patient{}).(*time.Time); isTime {
			names, marks = append(names, string(patientTable[i].col)), append(marks, "?1")
		}
	}
	names, marks = append(names, "rowid", colPhoneKey), append(marks, "?", "?")
	for _, f := range cols {
		names, marks = append(names, string(f.col)), append(marks, "?")
	}
	return "INSERT INTO patients (" + strings.Join(names, ", ") + ") VALUES ", "(" + strings.Join(marks, ", ") + ")"
}

// replicatedByName are the columns the change log holds, sorted by name
// as encodeColumns sorts a record's columns.
func replicatedByName() []*patientField {
	var out []*patientField
	for i := range patientTable {
		if !patientTable[i].local {
			out = append(out, &patientTable[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].col < out[j].col })
	return out
}

// newPatients are the arguments of the statements that write new
// patients: their rows, search index entries, change records and audit
// rows, made together by prepare so that none goes without the others.
type newPatients struct {
	n                     int
	rows, fts, changeArgs []any
	audits                []*store.AuditEntry
}

// prepare readies the writing of new validated patients, each with its
// id and MRN, the rowid its index entry is filed under and what its
// audit row says (a possible duplicate). The patients' times become the
// writer's. It does not touch the database: a bulk prepares on one
// goroutine while another writes.
func (w patientWriter) prepare(ps []*Patient, rowids []int64, notes []string) *newPatients {
	n := len(ps)
	at := w.now.Unix()
	c := &newPatients{n: n, rows: make([]any, 1, 1+patientRowArgs*n), fts: make([]any, 0, 5*n),
		changeArgs: make([]any, 0, 7*n), audits: make([]*store.AuditEntry, 0, n)}
	c.rows[0] = at // every time column of every row
	for i, p := range ps {
		p.Created, p.Updated = w.now, w.now
		c.rows = append(c.rows, rowids[i], digits(p.Phone))
		for _, f := range newPatientColumns {
			c.rows = append(c.rows, f.value(p))
		}
		names, mrn, phone, dob := ftsRow(*p)
		c.fts = append(c.fts, rowids[i], names, mrn, phone, dob)
		col, value := patientCreation(p)
		c.changeArgs = append(c.changeArgs, w.cw.clock.Now().String(), "patients", p.ID, col, value, w.cw.device, w.cw.author)
		c.audits = append(c.audits, &store.AuditEntry{At: w.now, UserID: w.actor.id, UserName: w.actor.name, Action: "patient-created", Subject: p.MRN, Detail: notes[i]})
	}
	return c
}

// write runs what prepare made: rows (with explicit rowids, which the
// index entries use as docids), index entries, change records, audit
// rows.
func (w patientWriter) write(ctx context.Context, tx querier, c *newPatients) error {
	for start := 0; start < c.n; start += patientsPerInsert {
		end := min(start+patientsPerInsert, c.n)
		args := c.rows
		if c.n > patientsPerInsert { // more than a statement takes: the time, then this part's rows
			args = append([]any{c.rows[0]}, c.rows[1+start*patientRowArgs:1+end*patientRowArgs]...)
		}
		if _, err := tx.ExecContext(ctx, patientInsert+store.Values(patientRow, end-start), args...); err != nil {
			return err
		}
	}
	// New rows only: an FTS4 delete would flush the pending terms.
	if _, err := tx.ExecContext(ctx, `INSERT INTO patients_fts (docid, names, mrn, phone, dob) VALUES `+store.Values("(?, ?, ?, ?, ?)", c.n), c.fts...); err != nil {
		return err
	}
	if err := insertChanges(ctx, tx, c.changeArgs); err != nil {
		return err
	}
	if w.cw.notify != nil && c.n > 0 {
		w.cw.notify()
	}
	return store.AppendAudits(ctx, tx, c.audits)
}

// insert writes one new validated patient, giving it an id and an MRN,
// with its index entry, change record and audit row (note: what the
// audit says of it).
func (w patientWriter) insert(ctx context.Context, tx querier, p *Patient, note string) error {
	if err := w.cw.witness(ctx, tx); err != nil {
		return err
	}
	rowid, err := scalar[int64](ctx, tx, `SELECT coalesce(max(rowid), 0) + 1 FROM patients`)
	if err != nil {
		return err
	}
	p.ID, p.Archived, p.MergedInto = newID(), false, ""
	if p.MRN, err = unusedMRN(ctx, tx); err != nil {
		return err
	}
	return w.write(ctx, tx, w.prepare([]*Patient{p}, []int64{rowid}, []string{note}))
}

// patientCreation is a new patient's change record, (col, value): its
// replicated columns that are not their default (a new row elsewhere has
// those without a record), by name, as encodeColumns renders them -
// written straight out: a bulk makes one per patient, and maps were a
// fifth of the preparing goroutine's work.
func patientCreation(p *Patient) (col string, value *string) {
	vals := make([]string, len(patientCreationColumns)) // "": the default, left out
	size, set, last := 2, 0, 0
	for i, f := range patientCreationColumns {
		v, isDefault := f.text(p)
		if isDefault {
			continue
		}
		vals[i] = v
		size += len(f.col) + len(v) + 8
		set, last = set+1, i
	}
	if set == 1 {
		v := vals[last]
		return string(patientCreationColumns[last].col), &v
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, f := range patientCreationColumns {
		if vals[i] == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(f.col))
		b = append(b, ':')
		b = appendJSONString(b, vals[i])
	}
	b = append(b, '}')
	v := string(b)
	return severalColumns, &v
}

// update writes the columns cols of an existing patient from p, with
// their change record, and its search index entry when the index holds
// any of them. p.Updated becomes the writer's time.
func (w patientWriter) update(ctx context.Context, tx querier, p *Patient, cols ...PatientField) error {
	if len(cols) == 0 {
		return nil
	}
	p.Updated = w.now
	sets := make([]string, 0, len(cols)+2)
	args := make([]any, 0, len(cols)+3)
	record := make(map[string]any, len(cols))
	reindex := false
	for _, c := range cols {
		f := patientColumn(c)
		if f.local || f.col == colCreated {
			panic("patients." + string(c) + " is not changed by an update")
		}
		v := f.value(p)
		sets, args = append(sets, string(c)+" = ?"), append(args, v)
		record[string(c)] = v
		reindex = reindex || f.searched()
		if c == FieldMobile {
			sets, args = append(sets, colPhoneKey+" = ?"), append(args, digits(p.Phone))
		}
	}
	sets, args = append(sets, string(colUpdated)+" = ?"), append(args, w.now.Unix(), p.ID)
	if _, err := tx.ExecContext(ctx, `UPDATE patients SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...); err != nil {
		return err
	}
	if err := w.cw.record(ctx, tx, "patients", p.ID, record); err != nil {
		return err
	}
	if !reindex {
		return nil
	}
	return indexPatient(ctx, tx, *p)
}

// patientLocalColumns adds to a merged write of a patient's columns the
// local columns that follow from them (the mobile's phone_key).
func patientLocalColumns(win map[string]*string, vals map[string]any) {
	if phone, ok := win[string(FieldMobile)]; ok {
		vals[colPhoneKey] = ""
		if phone != nil {
			vals[colPhoneKey] = digits(*phone) // local: the duplicate check's key
		}
	}
}

// patientSearched reports whether a merged write of these columns changes
// the patient's search index entry.
func patientSearched(cols map[string]*string) bool {
	for c := range cols {
		if f, ok := patientByColumn[PatientField(c)]; ok && f.searched() {
			return true
		}
	}
	return false
}

// setRow sets columns of a row of another replicated table (an
// appointment moved by a merge), with their change record, in tx.
func (w patientWriter) setRow(ctx context.Context, tx querier, table, id string, cols map[string]any) error {
	if table == "patients" {
		panic("a patient is written by update, which keeps its index entry and phone_key")
	}
	names := make([]string, 0, len(cols))
	for c := range cols {
		names = append(names, c)
	}
	sort.Strings(names)
	sets := make([]string, 0, len(names)+1)
	args := make([]any, 0, len(names)+2)
	for _, c := range names {
		sets, args = append(sets, c+" = ?"), append(args, cols[c])
	}
	sets, args = append(sets, "updated_at = ?"), append(args, w.now.Unix(), id)
	if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...); err != nil {
		return err
	}
	return w.cw.record(ctx, tx, table, id, cols)
}
