package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/clinicvault/clinicvault/store"
)

// Registering, changing, reading and archiving patients. What a patient's
// record holds is declared in patient_fields.go; the writes go through
// patientWriter (patient_write.go).

// ErrPatientNotFound means no patient has that MRN.
var ErrPatientNotFound = errors.New("no patient with that MRN")

// Crockford base32 without check: MRNs are 8 characters in two groups,
// random so that machines apart never need to coordinate.
const mrnAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func newMRN() string {
	b := make([]byte, 8)
	rand.Read(b)
	out := make([]byte, 0, 9)
	for i, x := range b {
		if i == 4 {
			out = append(out, '-')
		}
		out = append(out, mrnAlphabet[int(x)%32])
	}
	return string(out)
}

// NormalizeMRN uppercases a typed MRN and maps look-alike letters.
func NormalizeMRN(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer("O", "0", "I", "1", "L", "1", " ", "").Replace(s)
	if len(s) == 8 && !strings.Contains(s, "-") {
		s = s[:4] + "-" + s[4:]
	}
	return s
}

// unusedMRN is a new MRN that no patient in q has yet.
func unusedMRN(ctx context.Context, q querier) (string, error) {
	for {
		mrn := newMRN()
		n, err := scalar[int](ctx, q, `SELECT count(*) FROM patients WHERE mrn = ?`, mrn)
		if err != nil || n == 0 {
			return mrn, err
		}
	}
}

// AddPatient registers a patient and returns the record with its MRN, and
// any existing patients it may duplicate (the record is created anyway;
// the duplicate workflow can merge them). One duplicate check and one
// insert, in one transaction.
func (s *Session) AddPatient(ctx context.Context, p Patient) (Patient, []Duplicate, error) {
	return s.addPatient(ctx, p, false)
}

// AddPatientUnlessDuplicate registers a patient unless existing patients
// look like it (same name and date of birth, or same phone): then nothing
// is written, and they are returned with a zero Patient. The window asks
// whether to open one of them or to register the patient anyway
// (AddPatient). One duplicate check and, when it finds none, one insert,
// in one transaction.
func (s *Session) AddPatientUnlessDuplicate(ctx context.Context, p Patient) (Patient, []Duplicate, error) {
	return s.addPatient(ctx, p, true)
}

func (s *Session) addPatient(ctx context.Context, p Patient, unlessDuplicate bool) (Patient, []Duplicate, error) {
	if err := s.require(); err != nil {
		return Patient{}, nil, err
	}
	if err := s.validatePatient(&p); err != nil {
		return Patient{}, nil, err
	}
	w := s.patientWriter()
	var dups []Duplicate
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if dups, err = findDuplicates(ctx, tx, p); err != nil || (unlessDuplicate && len(dups) > 0) {
			return err
		}
		return w.insert(ctx, tx, &p, duplicateNote(dups))
	})
	if err != nil {
		return Patient{}, nil, err
	}
	if unlessDuplicate && len(dups) > 0 {
		return Patient{}, dups, nil
	}
	return p, dups, nil
}

// AddPatients registers many validated-as-they-go patients in one
// transaction: all of them, or none. progress, if set, is called every
// 1000 rows. The first invalid row stops it with an error naming the row.
func (s *Session) AddPatients(ctx context.Context, ps []Patient, progress func(done, total int)) error {
	i := 0
	return s.addPatients(ctx, len(ps), func() (*Patient, error) {
		if i == len(ps) {
			return nil, nil
		}
		i++
		return &ps[i-1], nil
	}, progress, nil)
}

// addPatients is AddPatients with more to write in the same transaction
// once the patients are in (an import's own audit row): it commits with
// them or not at all.
// The patients come one at a time from next (nil at the end), so that an
// import hands over the rows as it reads them rather than a list of them
// all; n is how many are expected (for the way they are written and the
// progress).
func (s *Session) addPatients(ctx context.Context, n int, next func() (*Patient, error), progress func(done, total int), then func(tx *sql.Tx) error) error {
	if err := s.require(); err != nil {
		return err
	}
	w := s.patientWriter()
	if n >= 5000 {
		// A large import leaves hundreds of MB of garbage, idle heap and
		// freed page cache: hand them back to the system now rather than
		// over the next minutes (or never, for glibc's arenas); the app
		// should sit under 200 MB with 100,000 patients.
		defer func() {
			debug.FreeOSMemory()
			store.TrimMemory() // the bulk transaction's page cache, freed by SQLite
		}()
	}
	write := s.write
	if n > 1000 {
		write = s.writeBulk
	}
	return write(ctx, func(sqltx *sql.Tx) error {
		tx := newCachedTx(sqltx)
		// A bulk insert touches far more pages than the usual cache holds;
		// pages spilled mid-transaction must be encrypted and decrypted
		// again. 256 MB for this transaction, then back to normal.
		if n > 1000 {
			sqltx.ExecContext(ctx, `PRAGMA cache_size = -262144`)
			defer sqltx.ExecContext(ctx, `PRAGMA cache_size = -32768`)
		}
		b, err := newPatientBulk(ctx, tx, w, n)
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			if err := ctx.Err(); err != nil {
				b.finish(ctx)
				return err
			}
			p, err := next()
			if err != nil {
				b.finish(ctx)
				return err
			}
			if p == nil {
				break
			}
			// Validated here rather than before the transaction: the
			// writer goroutine is busy meanwhile.
			err = s.validatePatient(p)
			if err == nil {
				err = b.add(ctx, p)
			}
			if err != nil {
				b.finish(ctx)
				return fmt.Errorf("row %d: %w", i+1, err)
			}
			if progress != nil && (i+1)%1000 == 0 {
				progress(i+1, n)
			}
		}
		if err := b.finish(ctx); err != nil || then == nil {
			return err
		}
		return then(sqltx)
	})
}

func (s *Session) patientByMRN(ctx context.Context, q querier, mrn string) (Patient, error) {
	p, err := scanPatient(q.QueryRowContext(ctx, `SELECT `+patientColumns+` FROM patients WHERE mrn = ? ORDER BY archived, created_at LIMIT 1`, NormalizeMRN(mrn)))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%q: %w", mrn, ErrPatientNotFound)
	}
	return p, err
}

// EditPatient changes only the fields given.
func (s *Session) EditPatient(ctx context.Context, mrn string, c PatientChanges) (Patient, error) {
	if err := s.require(); err != nil {
		return Patient{}, err
	}
	w := s.patientWriter()
	var p Patient
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.patientByMRN(ctx, tx, mrn); err != nil {
			return err
		}
		before := p
		for i := range patientTable {
			if apply := patientTable[i].ref.apply; apply != nil {
				apply(&c, &p)
			}
		}
		if c.SMSConsent == nil && strings.TrimSpace(p.Phone) == "" {
			p.SMSConsent = false // agreed to texts to a number no longer there
		}
		if err := s.validatePatient(&p); err != nil {
			return err
		}
		var changed []PatientField
		var names []string
		for i := range patientTable {
			f := &patientTable[i]
			if f.ref.apply != nil && f.value(&p) != f.value(&before) {
				changed = append(changed, f.col)
				names = append(names, string(f.col))
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if err := w.update(ctx, tx, &p, changed...); err != nil {
			return err
		}
		sort.Strings(names)
		return audit(ctx, tx, w.now, s.actor(), "patient-updated", p.MRN, "fields: "+strings.Join(names, ", "))
	})
	return p, err
}

// GetPatient opens a patient's demographics, and audits the view.
func (s *Session) GetPatient(ctx context.Context, mrn string) (Patient, error) {
	if err := s.require(); err != nil {
		return Patient{}, err
	}
	var p Patient
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.patientByMRN(ctx, tx, mrn); err != nil {
			return err
		}
		return audit(ctx, tx, s.v.now(), s.actor(), "chart-viewed", p.MRN, "demographics")
	})
	return p, err
}

// ArchivePatient archives a patient: hidden from search, kept in full.
func (s *Session) ArchivePatient(ctx context.Context, mrn string) error {
	if err := s.require(); err != nil {
		return err
	}
	w := s.patientWriter()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		p.Archived = true
		if err := w.update(ctx, tx, &p, colArchived); err != nil {
			return err
		}
		return audit(ctx, tx, w.now, s.actor(), "patient-archived", p.MRN, "")
	})
}

// DateOrder is how the practice writes numeric dates: day first (2/3/1980
// is 2 March) or month first (2 February).
type DateOrder string

// Date orders.
const (
	DayMonthYear DateOrder = "DMY"
	MonthDayYear DateOrder = "MDY"
)

const settingDateOrder = "date_order"

// defaultDateOrder follows the machine's locale: month first for the
// United States (and a few others), day first elsewhere.
func defaultDateOrder() DateOrder {
	for _, k := range []string{"LC_ALL", "LC_TIME", "LANG"} {
		if v := os.Getenv(k); v != "" {
			if strings.Contains(v, "_US") || strings.Contains(v, "_PH") || strings.Contains(v, "_BZ") {
				return MonthDayYear
			}
			return DayMonthYear
		}
	}
	return DayMonthYear
}

func (s *Session) readDateOrder(ctx context.Context) DateOrder {
	var v string
	if err := s.general.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, settingDateOrder).Scan(&v); err == nil {
		if o := DateOrder(v); o == DayMonthYear || o == MonthDayYear {
			return o
		}
	}
	return defaultDateOrder()
}

// DateOrder returns how this practice reads numeric dates.
func (s *Session) DateOrder() DateOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dates
}

// SetDateOrder sets how numeric dates are read (admins only).
func (s *Session) SetDateOrder(ctx context.Context, o DateOrder) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	if o != DayMonthYear && o != MonthDayYear {
		return fmt.Errorf("date order must be DMY or MDY: %w", ErrUsage)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, settingDateOrder, string(o)); err != nil {
			return err
		}
		s.dates = o
		return audit(ctx, tx, s.v.now(), s.actor(), "settings-changed", "date order", string(o))
	})
}

// mrnPattern is the shape of a generated MRN.
var mrnPattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
