package app

import (
	"context"
	"strings"
)

// Writing many new patients (an import, the demo). One patient is a row
// in patients, an entry in the full-text index, a change record and an
// audit row, which patientWriter prepares and writes together; a bulk
// writes them for many patients per statement, checks duplicates and MRNs
// against memory instead of a query per row, and prepares the next
// chunk's statements on one goroutine while another writes the last one
// into SQLite (the machines this runs on have at least two cores; SQLite
// has one writer). A single registration (AddPatient) is not a bulk: it
// asks the writer for one insert.

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
	w     patientWriter
	tx    querier
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
	work   chan *newPatients
	failed chan struct{}
	done   chan error
}

// newPatientBulk starts writing up to n patients in tx with w.
func newPatientBulk(ctx context.Context, tx querier, w patientWriter, n int) (*patientBulk, error) {
	b := &patientBulk{w: w, tx: tx, chunk: 1}
	var err error
	if b.nextRowID, err = scalar[int64](ctx, tx, `SELECT coalesce(max(rowid), 0) + 1 FROM patients`); err != nil {
		return nil, err
	}
	if err := w.cw.witness(ctx, tx); err != nil {
		return nil, err
	}
	if n < bulkPreload {
		return b, nil // one row at a time: the queries see every earlier row
	}
	b.chunk, b.preloaded = bulkChunk, true
	b.mrns, b.byDOB, b.byPhone = map[string]bool{}, map[string][]dupEntry{}, map[string][]dupEntry{}
	// Read into the maps as they are scanned (no list of them all); the
	// rows are closed before the indexes are dropped: a reading statement
	// would lock the table.
	_, err = queryAll(ctx, tx, func(r row) (struct{}, error) {
		var e dupEntry
		var archived bool
		if err := r.Scan(&e.id, &e.mrn, &e.given, &e.family, &e.dob, &e.phone, &archived); err != nil {
			return struct{}{}, err
		}
		b.mrns[e.mrn] = true
		if !archived {
			e.given, e.family = foldAccents(e.given), foldAccents(e.family)
			b.remember(e)
		}
		return struct{}{}, nil
	}, `SELECT id, mrn, given, family, dob, phone_key, archived FROM patients`)
	if err != nil {
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
	work, failed, done := make(chan *newPatients, 2), make(chan struct{}), make(chan error, 1)
	b.work, b.failed, b.done = work, failed, done
	go func() { // its own copies of the channels: finish clears b.work
		var first error
		for c := range work {
			if first == nil {
				if first = b.w.write(ctx, b.tx, c); first != nil {
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

// add gives a validated patient its id and MRN and queues it; the audit
// row names the first patient it may duplicate.
func (b *patientBulk) add(ctx context.Context, p *Patient) error {
	p.ID, p.Archived, p.MergedInto = newID(), false, ""
	var dups []Duplicate
	var err error
	if b.preloaded {
		dups = b.duplicates(*p)
		for p.MRN = newMRN(); b.mrns[p.MRN]; p.MRN = newMRN() {
		}
		b.mrns[p.MRN] = true
		b.remember(dupEntry{id: p.ID, mrn: p.MRN, family: foldAccents(p.Family), given: foldAccents(p.Given), phone: digits(p.Phone), dob: p.DOB})
	} else {
		if dups, err = findDuplicates(ctx, b.tx, *p); err != nil {
			return err
		}
		if p.MRN, err = unusedMRN(ctx, b.tx); err != nil {
			return err
		}
	}
	b.pending = append(b.pending, p)
	b.rowids = append(b.rowids, b.nextRowID)
	b.dupNotes = append(b.dupNotes, duplicateNote(dups))
	b.nextRowID++
	if len(b.pending) >= b.chunk {
		return b.flush(ctx)
	}
	return nil
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
	c := b.w.prepare(b.pending, b.rowids, b.dupNotes)
	b.pending, b.rowids, b.dupNotes = b.pending[:0], b.rowids[:0], b.dupNotes[:0]
	if b.work == nil {
		return b.w.write(ctx, b.tx, c)
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
	indexes, err := queryAll(ctx, b.tx, func(r row) (ix [2]string, err error) {
		err = r.Scan(&ix[0], &ix[1])
		return ix, err
	}, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		b.indexes = append(b.indexes, ix[1])
	}
	for _, ix := range indexes {
		if _, err := b.tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(ix[0], `"`, `""`)+`"`); err != nil {
			return err
		}
	}
	return nil
}
