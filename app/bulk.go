package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Writing new patients. One patient is a row in patients, an entry in the
// full-text index, a change record and an audit row. A bulk insert (an
// import, the demo) writes each of those for many patients per statement,
// checks duplicates and MRNs against memory instead of a query per row,
// and prepares the next chunk's statements on one goroutine while another
// writes the last one into SQLite (the machines this runs on have at
// least two cores; SQLite has one writer). A single registration goes
// through the same code a row at a time, without the second goroutine.

const (
	// bulkChunk is how many patients one flush writes; bulkPreload is the
	// size from which the existing patients are read into memory once
	// rather than queried per row.
	bulkChunk   = 1024
	bulkPreload = 200
)

// dupEntry is what the in-memory duplicate check keeps of a patient.
type dupEntry struct {
	id, mrn       string
	family, given string // folded for case and accents
	phone, dob    string
}

// patientBulk writes new patients inside one transaction.
type patientBulk struct {
	s     *Session
	tx    querier
	now   time.Time
	chunk int

	nextRowID int64
	pending   []*Patient
	rowids    []int64
	dupNotes  []string

	// Set when the existing patients were read into memory: every MRN,
	// and the current patients by date of birth and by phone digits.
	preloaded bool
	mrns      map[string]bool
	byDOB     map[string][]dupEntry
	byPhone   map[string][]dupEntry

	// Secondary indexes of patients dropped for this bulk, as their
	// CREATE statements, made again by finish.
	indexes []string

	finished  bool
	finishErr error

	// The writer goroutine of a preloaded bulk: prepared chunks in;
	// failed is closed at its first error, which done yields once work is
	// closed.
	work   chan *preparedChunk
	failed chan struct{}
	done   chan error
}

// preparedChunk is one flush's statements, arguments ready.
type preparedChunk struct {
	n                         int
	patients, fts, changeArgs []any
	audits                    []*store.AuditEntry
}

// newPatientBulk starts writing up to n patients in tx.
func (s *Session) newPatientBulk(ctx context.Context, tx querier, now time.Time, n int) (*patientBulk, error) {
	b := &patientBulk{s: s, tx: tx, now: now, chunk: 1}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM patients`).Scan(&b.nextRowID); err != nil {
		return nil, err
	}
	b.nextRowID++
	s.cw().witness(ctx, tx)
	if n < bulkPreload {
		return b, nil // one row at a time: the queries see every earlier row
	}
	b.chunk, b.preloaded = bulkChunk, true
	b.mrns, b.byDOB, b.byPhone = map[string]bool{}, map[string][]dupEntry{}, map[string][]dupEntry{}
	rows, err := tx.QueryContext(ctx, `SELECT id, mrn, given, family, dob, phone_key, archived FROM patients`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e dupEntry
		var archived bool
		if err := rows.Scan(&e.id, &e.mrn, &e.given, &e.family, &e.dob, &e.phone, &archived); err != nil {
			rows.Close()
			return nil, err
		}
		b.mrns[e.mrn] = true
		if !archived {
			e.given, e.family = foldAccents(e.given), foldAccents(e.family)
			b.remember(e)
		}
	}
	rows.Close() // before the indexes are dropped: a reading statement would lock the table
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if existing := len(b.mrns); n >= existing {
		// The patients' secondary indexes (MRN, date of birth, phone)
		// have random keys: built once at the end by sorting, they cost
		// a fraction of inserting every row into them.
		if err := b.dropIndexes(ctx); err != nil {
			return nil, err
		}
	}
	// From here on only the writer touches tx.
	work, failed, done := make(chan *preparedChunk, 2), make(chan struct{}), make(chan error, 1)
	b.work, b.failed, b.done = work, failed, done
	go func() { // its own copies of the channels: finish clears b.work
		var first error
		for c := range work {
			if first == nil {
				if first = b.write(ctx, c); first != nil {
					close(failed)
				}
			}
		}
		done <- first
	}()
	return b, nil
}

func (b *patientBulk) remember(e dupEntry) {
	b.byDOB[e.dob] = append(b.byDOB[e.dob], e)
	if e.phone != "" {
		b.byPhone[e.phone] = append(b.byPhone[e.phone], e)
	}
}

// add gives a validated patient its id and MRN and queues it; it returns
// the patients it may duplicate (from memory: only their id and MRN).
func (b *patientBulk) add(ctx context.Context, p *Patient) ([]Duplicate, error) {
	p.ID, p.Created, p.Updated, p.Archived, p.MergedInto = newID(), b.now, b.now, false, ""
	var dups []Duplicate
	var err error
	if b.preloaded {
		dups = b.duplicates(*p)
	} else if dups, err = findDuplicates(ctx, b.tx, *p); err != nil {
		return nil, err
	}
	for {
		p.MRN = newMRN()
		taken := b.mrns[p.MRN]
		if !b.preloaded {
			var n int
			if err := b.tx.QueryRowContext(ctx, `SELECT count(*) FROM patients WHERE mrn = ?`, p.MRN).Scan(&n); err != nil {
				return nil, err
			}
			taken = n > 0
		}
		if !taken {
			break
		}
	}
	if b.preloaded {
		b.mrns[p.MRN] = true
		b.remember(dupEntry{id: p.ID, mrn: p.MRN, family: foldAccents(p.Family), given: foldAccents(p.Given), phone: digits(p.Phone), dob: p.DOB})
	}
	note := ""
	if len(dups) > 0 {
		note = fmt.Sprintf("possible duplicate of %s", dups[0].Patient.MRN)
	}
	b.pending = append(b.pending, p)
	b.rowids = append(b.rowids, b.nextRowID)
	b.dupNotes = append(b.dupNotes, note)
	b.nextRowID++
	if len(b.pending) >= b.chunk {
		return dups, b.flush(ctx)
	}
	return dups, nil
}

// duplicates is findDuplicates against memory: same folded name and date
// of birth first, then same phone digits.
func (b *patientBulk) duplicates(p Patient) []Duplicate {
	family, given, phone := foldAccents(p.Family), foldAccents(p.Given), digits(p.Phone)
	var out []Duplicate
	seen := map[string]bool{}
	for _, e := range b.byDOB[p.DOB] {
		if e.family == family && e.given == given && !seen[e.id] {
			seen[e.id] = true
			out = append(out, Duplicate{Patient{ID: e.id, MRN: e.mrn}, "same name and date of birth"})
		}
	}
	if phone != "" {
		for _, e := range b.byPhone[phone] {
			if !seen[e.id] {
				seen[e.id] = true
				out = append(out, Duplicate{Patient{ID: e.id, MRN: e.mrn}, "same phone"})
			}
		}
	}
	return out
}

// flush prepares the queued patients' statements and writes them (or
// hands them to the writer goroutine).
func (b *patientBulk) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	c := b.prepare()
	b.pending, b.rowids, b.dupNotes = b.pending[:0], b.rowids[:0], b.dupNotes[:0]
	if b.work == nil {
		return b.write(ctx, c)
	}
	select {
	case b.work <- c:
		return nil
	case <-b.failed: // stop preparing: finish reports the writer's error
		return b.finish(ctx)
	}
}

// finish writes what is queued, waits for the writer and rebuilds the
// dropped indexes. It must be called before the transaction ends; called
// again, it returns what it returned the first time.
func (b *patientBulk) finish(ctx context.Context) error {
	if b.finished {
		return b.finishErr
	}
	b.finished = true
	b.finishErr = b.finishOnce(ctx)
	return b.finishErr
}

func (b *patientBulk) finishOnce(ctx context.Context) error {
	var err error
	if b.work != nil {
		select {
		case <-b.failed:
		default:
			err = b.flush(ctx)
		}
	} else {
		err = b.flush(ctx)
	}
	if b.work != nil {
		close(b.work)
		b.work = nil
		if werr := <-b.done; werr != nil {
			err = werr
		}
	}
	if err == nil {
		for _, q := range b.indexes {
			if _, err = b.tx.ExecContext(ctx, q); err != nil {
				break
			}
		}
		b.indexes = nil
	}
	return err // on an error the transaction rolls back, indexes and all
}

// dropIndexes drops the patients table's own secondary indexes (not the
// primary key's) inside the transaction, remembering how to make them.
func (b *patientBulk) dropIndexes(ctx context.Context) error {
	rows, err := b.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
		b.indexes = append(b.indexes, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := b.tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return err
		}
	}
	return nil
}

// patientInsert writes new patients: the chunk's time (?1) as created_at
// and updated_at, not archived, not merged, then each patient's own 19
// arguments.
const (
	patientInsert = `INSERT INTO patients (created_at, updated_at, archived, merged_into, rowid, id, mrn, given, family, preferred, dob, sex,
		phone, phone2, email, address, insurance, emergency_contact, admin_notes, phone_key, postcode, national_number, sms_consent) VALUES `
	patientRow     = "(?1, ?1, 0, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	patientRowArgs = 19
)

func (b *patientBulk) prepare() *preparedChunk {
	n := len(b.pending)
	a := b.s.actor()
	at := b.now.Unix()
	c := &preparedChunk{n: n, patients: make([]any, 1, 1+patientRowArgs*n), fts: make([]any, 0, 5*n), audits: make([]*store.AuditEntry, 0, n)}
	c.patients[0] = at // shared by every row: created_at and updated_at
	c.changeArgs = make([]any, 0, 7*n)
	w := b.s.cw()
	createdAt := strconv.FormatInt(at, 10)
	for i, p := range b.pending {
		c.patients = append(c.patients, b.rowids[i], p.ID, p.MRN, p.Given, p.Family, p.Preferred, p.DOB, p.Sex, p.Phone, p.Phone2, p.Email, p.Address,
			p.Insurance, p.EmergencyContact, p.AdminNotes, digits(p.Phone), p.Postcode, p.NationalNumber, p.SMSConsent)
		names, mrn, phone, dob := ftsRow(*p)
		c.fts = append(c.fts, b.rowids[i], names, mrn, phone, dob)
		col, value := patientCreation(p, createdAt)
		c.changeArgs = append(c.changeArgs, w.clock.Now().String(), "patients", p.ID, col, value, w.device, w.author)
		c.audits = append(c.audits, &store.AuditEntry{At: b.now, UserID: a.id, UserName: a.name, Action: "patient-created", Subject: p.MRN, Detail: b.dupNotes[i]})
	}
	return c
}

// patientCreation is a new patient's change record, (col, value), as
// encodeColumns renders newRowChanges of its columns - the non-empty
// ones, by name - written straight out: a bulk makes one per patient,
// and the maps were a fifth of the preparing goroutine's work.
func patientCreation(p *Patient, createdAt string) (col string, value *string) {
	consent := "" // false is the column's default: left out, as an empty text is
	if p.SMSConsent {
		consent = "1"
	}
	cols := [...][2]string{ // sorted by name
		{"address", p.Address}, {"admin_notes", p.AdminNotes}, {"created_at", createdAt}, {"dob", p.DOB},
		{"email", p.Email}, {"emergency_contact", p.EmergencyContact}, {"family", p.Family}, {"given", p.Given},
		{"insurance", p.Insurance}, {"mrn", p.MRN}, {"national_number", p.NationalNumber}, {"phone", p.Phone}, {"phone2", p.Phone2},
		{"postcode", p.Postcode}, {"preferred", p.Preferred}, {"sex", p.Sex}, {"sms_consent", consent},
	}
	size, set, last := 2, 0, 0
	for i, c := range cols {
		if c[1] != "" {
			size += len(c[0]) + len(c[1]) + 8
			set, last = set+1, i
		}
	}
	if set == 1 {
		v := cols[last][1]
		return cols[last][0], &v
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for _, c := range cols {
		if c[1] == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c[0])
		b = append(b, ':')
		b = appendJSONString(b, c[1])
	}
	b = append(b, '}')
	v := string(b)
	return severalColumns, &v
}

// write runs one chunk's statements: rows (with explicit rowids, which
// the index entries use as docids), index entries, change records, audit
// rows.
func (b *patientBulk) write(ctx context.Context, c *preparedChunk) error {
	if _, err := b.tx.ExecContext(ctx, patientInsert+store.Values(patientRow, c.n), c.patients...); err != nil {
		return err
	}
	// New rows only: an FTS4 delete would flush the pending terms.
	if _, err := b.tx.ExecContext(ctx, `INSERT INTO patients_fts (docid, names, mrn, phone, dob) VALUES `+store.Values("(?, ?, ?, ?, ?)", c.n), c.fts...); err != nil {
		return err
	}
	if err := insertChanges(ctx, b.tx, c.changeArgs); err != nil {
		return err
	}
	return store.AppendAudits(ctx, b.tx, c.audits)
}
