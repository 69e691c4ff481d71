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
	bulkChunk = 512
	// bulkChunkBytes also ends a chunk: the patients' text it holds (a
	// sheet of long notes would otherwise put 30 MB in each chunk, and
	// three chunks are in hand at once: one prepared, one queued, one
	// written).
	bulkChunkBytes = 2 << 20
	bulkPreload    = 200
)

// dupIndex is what the in-memory duplicate check keeps of the patients:
// for each current one a hash of its folded name and date of birth and
// one of its phone digits, pointing at its MRN; and every MRN (archived
// patients' too) in a Bloom filter, so that a new one is never one
// already given. About 40 bytes a patient, where names and ids as
// strings took over 200: a bulk of 100,000 holds 4 MB.
type dupIndex struct {
	mrnText []byte   // the MRNs, end to end
	mrnEnd  []uint32 // where each ends in mrnText: slot i is MRN i
	byName  map[uint64]int32
	byPhone map[uint64]int32 // the first patient with the key, as its slot
	mrns    []uint64         // Bloom filter of the MRNs given
}

// newDupIndex is an index for up to n patients (more work, with more
// MRNs drawn twice).
func newDupIndex(n int) *dupIndex {
	// 16 bits a patient and 6 probes: one MRN in about 1,700 is drawn
	// again because the filter cannot tell it from one given.
	return &dupIndex{byName: map[uint64]int32{}, byPhone: map[uint64]int32{}, mrns: make([]uint64, max(1024, n/4+1))}
}

// mrnProbes are the filter's bits for mrn (double hashing).
func (d *dupIndex) mrnProbes(mrn string, fn func(word int, bit uint64) bool) bool {
	h := foldedKey(mrn)
	a, b := h, h>>32|h<<32|1
	bits := uint64(len(d.mrns)) * 64
	for i := 0; i < 6; i++ {
		k := (a + uint64(i)*b) % bits
		if !fn(int(k/64), 1<<(k%64)) {
			return false
		}
	}
	return true
}

// taken is whether mrn may have been given already: never false for one
// that was (then another is drawn).
func (d *dupIndex) taken(mrn string) bool {
	return d.mrnProbes(mrn, func(w int, bit uint64) bool { return d.mrns[w]&bit != 0 })
}

// give notes mrn as given.
func (d *dupIndex) give(mrn string) {
	d.mrnProbes(mrn, func(w int, bit uint64) bool { d.mrns[w] |= bit; return true })
}

// remember notes a current patient (names folded, phone as digits).
func (d *dupIndex) remember(mrn, family, given, dob, phone string) {
	slot := int32(len(d.mrnEnd))
	d.mrnText = append(d.mrnText, mrn...)
	d.mrnEnd = append(d.mrnEnd, uint32(len(d.mrnText)))
	if k := foldedKey(family, given, dob); !d.hasName(k) {
		d.byName[k] = slot
	}
	if phone != "" {
		if k := foldedKey(phone); !d.hasPhone(k) {
			d.byPhone[k] = slot
		}
	}
}

func (d *dupIndex) hasName(k uint64) bool  { _, ok := d.byName[k]; return ok }
func (d *dupIndex) hasPhone(k uint64) bool { _, ok := d.byPhone[k]; return ok }

func (d *dupIndex) mrn(slot int32) string {
	start := uint32(0)
	if slot > 0 {
		start = d.mrnEnd[slot-1]
	}
	return string(d.mrnText[start:d.mrnEnd[slot]])
}

// first is the MRN of the first patient p may duplicate: the same folded
// name and date of birth, else the same phone digits; "" when none.
func (d *dupIndex) first(p Patient) string {
	if slot, ok := d.byName[foldedKey(foldAccents(p.Family), foldAccents(p.Given), p.DOB)]; ok {
		return d.mrn(slot)
	}
	if ph := digits(p.Phone); ph != "" {
		if slot, ok := d.byPhone[foldedKey(ph)]; ok {
			return d.mrn(slot)
		}
	}
	return ""
}

// patientBulk writes new patients inside one transaction.
type patientBulk struct {
	w     patientWriter
	tx    querier
	chunk int

	nextRowID    int64
	pending      []*Patient
	pendingBytes int
	rowids       []int64
	dupNotes     []string

	// Set when the existing patients were read into memory.
	preloaded bool
	known     *dupIndex

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
	existing, err := scalar[int](ctx, tx, `SELECT count(*) FROM patients`)
	if err != nil {
		return nil, err
	}
	b.chunk, b.preloaded, b.known = bulkChunk, true, newDupIndex(existing+n)
	// Read into the index as they are scanned (no list of them all); the
	// rows are closed before the indexes are dropped: a reading statement
	// would lock the table.
	_, err = queryAll(ctx, tx, func(r row) (struct{}, error) {
		var mrn, given, family, dob, phone string
		var archived bool
		if err := r.Scan(&mrn, &given, &family, &dob, &phone, &archived); err != nil {
			return struct{}{}, err
		}
		b.known.give(mrn)
		if !archived {
			b.known.remember(mrn, foldAccents(family), foldAccents(given), dob, phone)
		}
		return struct{}{}, nil
	}, `SELECT mrn, given, family, dob, phone_key, archived FROM patients ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	if n >= existing {
		// The patients' secondary indexes (MRN, date of birth, phone)
		// have random keys: built once at the end by sorting, they cost
		// a fraction of inserting every row into them.
		if err := b.dropIndexes(ctx); err != nil {
			return nil, err
		}
	}
	// From here on only the writer touches tx.
	// One chunk written while the next is prepared, and one waiting: each
	// holds about 1.5 MB of statement arguments.
	work, failed, done := make(chan *newPatients, 1), make(chan struct{}), make(chan error, 1)
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

// add gives a validated patient its id and MRN and queues it; the audit
// row names the first patient it may duplicate.
func (b *patientBulk) add(ctx context.Context, p *Patient) error {
	p.ID, p.Archived, p.MergedInto = newID(), false, ""
	note := ""
	if b.preloaded {
		if mrn := b.known.first(*p); mrn != "" {
			note = duplicateNote([]Duplicate{{Patient: Patient{MRN: mrn}}})
		}
		for p.MRN = newMRN(); b.known.taken(p.MRN); p.MRN = newMRN() {
		}
		b.known.give(p.MRN)
		b.known.remember(p.MRN, foldAccents(p.Family), foldAccents(p.Given), p.DOB, digits(p.Phone))
	} else {
		dups, err := findDuplicates(ctx, b.tx, *p)
		if err != nil {
			return err
		}
		if p.MRN, err = unusedMRN(ctx, b.tx); err != nil {
			return err
		}
		note = duplicateNote(dups)
	}
	b.pending = append(b.pending, p)
	b.rowids = append(b.rowids, b.nextRowID)
	b.dupNotes = append(b.dupNotes, note)
	b.nextRowID++
	b.pendingBytes += patientTextBytes(p)
	if len(b.pending) >= b.chunk || (b.preloaded && b.pendingBytes >= bulkChunkBytes) {
		return b.flush(ctx)
	}
	return nil
}

// flush prepares the queued patients' statements and writes them (or
// hands them to the writer goroutine).
func (b *patientBulk) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	c := b.w.prepare(b.pending, b.rowids, b.dupNotes)
	clear(b.pending) // the chunk has what it needs of them
	b.pending, b.rowids, b.dupNotes, b.pendingBytes = b.pending[:0], b.rowids[:0], b.dupNotes[:0], 0
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

// patientTextBytes is the length of a patient's text fields.
func patientTextBytes(p *Patient) int {
	n := 0
	for i := range patientTable {
		if v := patientTable[i].textOf(p); v != nil {
			n += len(*v)
		}
	}
	return n
}
