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
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clinicvault/clinicvault/store"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalid is wrapped by every refusal of bad input; the message names
// the field and what is wrong with it.
var ErrInvalid = errors.New("invalid input")

// ErrPatientNotFound means no patient has that MRN.
var ErrPatientNotFound = errors.New("no patient with that MRN")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrInvalid)
}

// PatientField names a field of a patient's record, as its column.
type PatientField string

// The fields of a patient's record that a refusal can name.
const (
	FieldGiven            PatientField = "given"
	FieldFamily           PatientField = "family"
	FieldPreferred        PatientField = "preferred"
	FieldDOB              PatientField = "dob"
	FieldSex              PatientField = "sex"
	FieldMobile           PatientField = "phone"  // the mobile number (column phone)
	FieldHomePhone        PatientField = "phone2" // the home phone (column phone2)
	FieldEmail            PatientField = "email"
	FieldAddress          PatientField = "address"
	FieldPostcode         PatientField = "postcode"
	FieldNationalNumber   PatientField = "national_number"
	FieldInsurance        PatientField = "insurance"
	FieldEmergencyContact PatientField = "emergency_contact"
	FieldAdminNotes       PatientField = "admin_notes"
	FieldSMSConsent       PatientField = "sms_consent"
)

// FieldError is a refusal of one field of a patient's record: a form
// points at Field; the message says what is wrong. It wraps ErrInvalid.
type FieldError struct {
	Field PatientField
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg + ": " + ErrInvalid.Error() }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// fieldInvalid is a refusal of field f.
func fieldInvalid(f PatientField, format string, a ...any) error {
	return &FieldError{Field: f, Msg: fmt.Sprintf(format, a...)}
}

// asField makes a refusal of bad input (cleanText's, ParseDOB's) name f.
func asField(f PatientField, err error) error {
	if err == nil || !errors.Is(err, ErrInvalid) {
		return err
	}
	return &FieldError{Field: f, Msg: strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())}
}

// Patient is a patient's demographic record (general.db).
type Patient struct {
	ID               string
	MRN              string
	Given            string
	Family           string
	Preferred        string
	DOB              string // YYYY-MM-DD
	Sex              string
	Phone            string
	Phone2           string
	Email            string
	Address          string
	Insurance        string
	EmergencyContact string
	AdminNotes       string
	Archived         bool
	MergedInto       string
	Created          time.Time
	Updated          time.Time
	// Phone is the mobile number and Phone2 the home phone (the columns
	// keep their first names: they are replicated).
	// Postcode is the postal code, upper case, single-spaced.
	Postcode string
	// NationalNumber is the patient's number in the public health system
	// (NHS, Medicare, health card, BSN… number), single-spaced; an
	// insurer's member number is Insurance.
	NationalNumber string
	// SMSConsent: the patient agreed to SMS reminders on the mobile
	// number. Never true without one.
	SMSConsent bool
}

// Name is the patient's display name, family name first.
func (p Patient) Name() string {
	n := p.Family + ", " + p.Given
	if p.Preferred != "" {
		n += " (" + p.Preferred + ")"
	}
	return n
}

// PatientChanges lists the fields to set; nil fields are left as they are.
// Phone is the mobile number, Phone2 the home phone. Clearing the mobile
// withdraws SMSConsent unless the same change sets it.
type PatientChanges struct {
	Given, Family, Preferred, DOB, Sex, Phone, Phone2, Email, Address, Insurance, EmergencyContact, AdminNotes *string
	Postcode, NationalNumber                                                                                   *string
	SMSConsent                                                                                                 *bool
}

// columns maps the text columns to the change's values.
func (c PatientChanges) columns() map[string]*string {
	return map[string]*string{
		"given": c.Given, "family": c.Family, "preferred": c.Preferred, "dob": c.DOB, "sex": c.Sex,
		"phone": c.Phone, "phone2": c.Phone2, "email": c.Email, "address": c.Address, "insurance": c.Insurance,
		"emergency_contact": c.EmergencyContact, "admin_notes": c.AdminNotes,
		"postcode": c.Postcode, "national_number": c.NationalNumber,
	}
}

// textFields maps a patient's text columns to its fields.
func (p *Patient) textFields() map[string]*string {
	return map[string]*string{"given": &p.Given, "family": &p.Family, "preferred": &p.Preferred, "dob": &p.DOB, "sex": &p.Sex,
		"phone": &p.Phone, "phone2": &p.Phone2, "email": &p.Email, "address": &p.Address, "insurance": &p.Insurance,
		"emergency_contact": &p.EmergencyContact, "admin_notes": &p.AdminNotes,
		"postcode": &p.Postcode, "national_number": &p.NationalNumber}
}

// Str returns a pointer to s, for PatientChanges.
func Str(s string) *string { return &s }

// Bool returns a pointer to b, for PatientChanges.
func Bool(b bool) *bool { return &b }

const patientColumns = `id, mrn, given, family, preferred, dob, sex, phone, phone2, email, address, insurance, emergency_contact, admin_notes, archived, merged_into, created_at, updated_at, postcode, national_number, sms_consent`

func scanPatient(row interface{ Scan(...any) error }) (Patient, error) {
	var p Patient
	var created, updated int64
	err := row.Scan(&p.ID, &p.MRN, &p.Given, &p.Family, &p.Preferred, &p.DOB, &p.Sex, &p.Phone, &p.Phone2, &p.Email,
		&p.Address, &p.Insurance, &p.EmergencyContact, &p.AdminNotes, &p.Archived, &p.MergedInto, &created, &updated,
		&p.Postcode, &p.NationalNumber, &p.SMSConsent)
	p.Created, p.Updated = time.Unix(created, 0), time.Unix(updated, 0)
	return p, err
}

// Field limits.
const (
	maxNameRunes  = 100
	maxShortRunes = 200
	maxNoteBytes  = 64 << 10
	// The longest postal codes are ten or eleven characters ("12345-6789",
	// "12345-67890"); national health numbers are shorter than 20.
	maxPostcodeRunes = 16
	maxNationalRunes = 30
)

// singleSpaced is s with every run of white space one space, upper case:
// how a postcode or a national number is kept ("sw1a  1aa" -> "SW1A 1AA").
func singleSpaced(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}

// looksLikePhone is the regexp ^\+?[0-9 ()./-]{3,30}$ written out (an
// import checks every row; the regexp was a third of planning a sheet).
func looksLikePhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 3 || len(s) > 30 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != ' ' && c != '(' && c != ')' && c != '.' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

// looksLikeEmail is the regexp ^[^@\s]+@[^@\s]+\.[^@\s]+$ written out: one
// @ with something before it, a dot inside what follows, no white space.
func looksLikeEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\f', '\r':
			return false
		case '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 {
		return false
	}
	domain := s[at+1:]
	for i := 1; i < len(domain)-1; i++ {
		if domain[i] == '.' {
			return true
		}
	}
	return false
}

// cleanText trims, normalises to NFC and refuses control characters.
func cleanText(field, s string, maxRunes int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid text", field)
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", invalid("%s is %d characters long; the limit is %d", field, n, maxRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return "", invalid("%s contains a control character", field)
		}
	}
	return s, nil
}

// ParseDOB checks a date of birth typed as YYYY-MM-DD: a real date, not in
// the future, not before 1880.
func ParseDOB(s string, now time.Time) (string, error) {
	s = strings.TrimSpace(s)
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", invalid("date of birth %q is not a date in the form YYYY-MM-DD", s)
	}
	if d.After(now) {
		return "", invalid("date of birth %s is in the future", s)
	}
	if d.Year() < 1880 {
		return "", invalid("date of birth %s is before 1880", s)
	}
	return d.Format("2006-01-02"), nil
}

var sexes = map[string]string{
	"": "", "f": "female", "female": "female", "m": "male", "male": "male",
	"x": "other", "other": "other", "u": "unknown", "unknown": "unknown",
}

// validate checks and normalises every field of p. A refusal is a
// *FieldError naming the field.
func (s *Session) validatePatient(p *Patient) error {
	var err error
	// A pasted tab or line break inside a postcode or a number is spacing.
	for _, v := range []*string{&p.Postcode, &p.NationalNumber} {
		if utf8.ValidString(*v) {
			*v = singleSpaced(*v)
		}
	}
	for _, f := range []struct {
		field PatientField
		name  string
		v     *string
		limit int
		multi bool
	}{
		{FieldGiven, "given name", &p.Given, maxNameRunes, false}, {FieldFamily, "family name", &p.Family, maxNameRunes, false},
		{FieldPreferred, "preferred name", &p.Preferred, maxNameRunes, false}, {FieldMobile, "mobile", &p.Phone, 30, false},
		{FieldHomePhone, "home phone", &p.Phone2, 30, false}, {FieldEmail, "email", &p.Email, maxShortRunes, false},
		{FieldAddress, "address", &p.Address, 500, true}, {FieldPostcode, "postcode", &p.Postcode, maxPostcodeRunes, false},
		{FieldNationalNumber, "national health number", &p.NationalNumber, maxNationalRunes, false},
		{FieldInsurance, "insurance", &p.Insurance, maxShortRunes, false},
		{FieldEmergencyContact, "emergency contact", &p.EmergencyContact, maxShortRunes, false},
		{FieldAdminNotes, "administrative notes", &p.AdminNotes, maxNoteBytes, true},
	} {
		if *f.v, err = cleanText(f.name, *f.v, f.limit, f.multi); err != nil {
			return asField(f.field, err)
		}
	}
	if p.Given == "" {
		return fieldInvalid(FieldGiven, "the given name is empty")
	}
	if p.Family == "" {
		return fieldInvalid(FieldFamily, "the family name is empty")
	}
	if p.DOB, err = ParseDOB(p.DOB, s.v.now()); err != nil {
		return asField(FieldDOB, err)
	}
	sex, ok := sexes[strings.ToLower(strings.TrimSpace(p.Sex))]
	if !ok {
		return fieldInvalid(FieldSex, "sex %q is not one of female, male, other, unknown", p.Sex)
	}
	p.Sex = sex
	for _, ph := range []struct {
		field   PatientField
		name, v string
	}{{FieldMobile, "mobile", p.Phone}, {FieldHomePhone, "home phone", p.Phone2}} {
		if ph.v != "" && !looksLikePhone(ph.v) {
			return fieldInvalid(ph.field, "%s %q has characters a phone number does not", ph.name, ph.v)
		}
	}
	if p.Email != "" && !looksLikeEmail(p.Email) {
		return fieldInvalid(FieldEmail, "email %q is not an email address", p.Email)
	}
	if p.SMSConsent && p.Phone == "" {
		return fieldInvalid(FieldSMSConsent, "SMS reminders need a mobile number")
	}
	return nil
}

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

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ftsRow is the text the full-text index holds for a patient.
func ftsRow(p Patient) (names, mrn, phone, dob string) {
	names = searchFold(strings.Join([]string{p.Given, p.Family, p.Preferred}, " "))
	// The MRN without its dash, one token: a typed "K7QM-" or "K7QM" is a
	// prefix of it. (Rows indexed before also hold the two halves.)
	mrn = strings.ReplaceAll(p.MRN, "-", "")
	// The national health number with it, as one token ("943 476 5919"
	// as 9434765919, "QQ 12 34 56 C" as QQ123456C) and as its groups of
	// three characters or more, as typed.
	if p.NationalNumber != "" {
		groups := strings.FieldsFunc(p.NationalNumber, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		mrn += " " + strings.Join(groups, "")
		if len(groups) > 1 {
			for _, g := range groups {
				if utf8.RuneCountInString(g) >= 3 {
					mrn += " " + g
				}
			}
		}
	}
	// Phones as digits (07700900123), and the typed groups of three digits
	// or more, so the "7946" of "+44 20 7946 0001" matches too (country
	// and area codes of one or two digits would match half the practice).
	var tokens []string
	for _, ph := range []string{p.Phone, p.Phone2} {
		d := digits(ph)
		if d == "" {
			continue
		}
		tokens = append(tokens, d)
		// An international number is also found as it is dialled at
		// home: "+44 20 6976 6221" as "020 6976 6221".
		if national := nationalNumber(ph); national != "" {
			tokens = append(tokens, national)
		}
		for _, g := range strings.FieldsFunc(ph, func(r rune) bool { return r < '0' || r > '9' }) {
			if len(g) >= 3 && g != d {
				tokens = append(tokens, g)
			}
		}
	}
	phone = strings.Join(tokens, " ")
	// The date of birth as one token, 19800302: a prefix query on the
	// year (1980*) or the whole date matches it.
	return names, mrn, phone, strings.ReplaceAll(p.DOB, "-", "")
}

// indexPatient replaces a patient's entry in the full-text index.
func indexPatient(ctx context.Context, tx querier, p Patient) error {
	var rowid int64
	if err := tx.QueryRowContext(ctx, `SELECT rowid FROM patients WHERE id = ?`, p.ID).Scan(&rowid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM patients_fts WHERE docid = ?`, rowid); err != nil {
		return err
	}
	if p.Archived {
		return nil
	}
	return insertFTS(ctx, tx, rowid, p)
}

// insertFTS adds a new patient to the full-text index. New rows must not
// go through a DELETE first: an FTS4 delete flushes the pending terms, and
// a segment per row makes a bulk insert quadratic.
func insertFTS(ctx context.Context, tx querier, rowid int64, p Patient) error {
	names, mrn, phone, dob := ftsRow(p)
	_, err := tx.ExecContext(ctx, `INSERT INTO patients_fts (docid, names, mrn, phone, dob) VALUES (?, ?, ?, ?, ?)`, rowid, names, mrn, phone, dob)
	return err
}

// Duplicate is an existing patient that looks like the one being entered.
type Duplicate struct {
	Patient Patient
	Reason  string // "same name and date of birth" or "same phone"
}

// FindDuplicates returns current patients with the same name and date of
// birth, or the same phone number, as p.
func (s *Session) FindDuplicates(ctx context.Context, p Patient) ([]Duplicate, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return findDuplicates(ctx, s.general, p)
}

func findDuplicates(ctx context.Context, q querier, p Patient) ([]Duplicate, error) {
	// Candidates by the indexed date of birth, then by phone digits (two
	// queries: an OR across two indexes would scan the table). Names
	// compare in Go, folded for case and accents (NOCASE folds ASCII only).
	family, given, phone := foldAccents(p.Family), foldAccents(p.Given), digits(p.Phone)
	var out []Duplicate
	seen := map[string]bool{}
	scan := func(query string, arg string, keep func(Patient) (string, bool)) error {
		rows, err := q.QueryContext(ctx, `SELECT `+patientColumns+` FROM patients WHERE `+query+` AND archived = 0 AND id != ? LIMIT 2000`, arg, p.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() && len(out) < 20 {
			d, err := scanPatient(rows)
			if err != nil {
				return err
			}
			if reason, ok := keep(d); ok && !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, Duplicate{d, reason})
			}
		}
		return rows.Err()
	}
	if err := scan("dob = ?", p.DOB, func(d Patient) (string, bool) {
		return "same name and date of birth", foldAccents(d.Family) == family && foldAccents(d.Given) == given
	}); err != nil {
		return nil, err
	}
	if phone != "" {
		if err := scan("phone_key = ? AND phone_key != ''", phone, func(Patient) (string, bool) { return "same phone", true }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddPatient registers a patient and returns the record with its MRN, and
// any existing patients it may duplicate (the record is created anyway;
// the duplicate workflow can merge them).
func (s *Session) AddPatient(ctx context.Context, p Patient) (Patient, []Duplicate, error) {
	if err := s.require(); err != nil {
		return Patient{}, nil, err
	}
	if err := s.validatePatient(&p); err != nil {
		return Patient{}, nil, err
	}
	now := s.v.now()
	var dups []Duplicate
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		dups, err = s.insertPatient(ctx, tx, &p, now)
		return err
	})
	if err != nil {
		return Patient{}, nil, err
	}
	return p, dups, nil
}

// AddPatients registers many validated-as-they-go patients in one
// transaction: all of them, or none. progress, if set, is called every
// 1000 rows. The first invalid row stops it with an error naming the row.
func (s *Session) AddPatients(ctx context.Context, ps []Patient, progress func(done, total int)) error {
	return s.addPatients(ctx, len(ps), func(i int) *Patient { return &ps[i] }, progress, nil)
}

// addPatients is AddPatients with more to write in the same transaction
// once the patients are in (an import's own audit row): it commits with
// them or not at all.
// The n patients are reached through patient(i), so that an import hands
// over its planned rows in place rather than a copy of them all.
func (s *Session) addPatients(ctx context.Context, n int, patient func(i int) *Patient, progress func(done, total int), then func(tx *sql.Tx) error) error {
	if err := s.require(); err != nil {
		return err
	}
	now := s.v.now()
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
		b, err := s.newPatientBulk(ctx, tx, now, n)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				b.finish(ctx)
				return err
			}
			// Validated here rather than before the transaction: the
			// writer goroutine is busy meanwhile.
			err := s.validatePatient(patient(i))
			if err == nil {
				_, err = b.add(ctx, patient(i))
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

// insertPatient writes a validated patient with a new id and MRN, its
// search index entry, its change record and its audit row.
func (s *Session) insertPatient(ctx context.Context, tx querier, p *Patient, now time.Time) ([]Duplicate, error) {
	b, err := s.newPatientBulk(ctx, tx, now, 1)
	if err != nil {
		return nil, err
	}
	dups, err := b.add(ctx, p)
	if err != nil {
		return nil, err
	}
	return dups, b.finish(ctx)
}

func (s *Session) patientByMRN(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, mrn string) (Patient, error) {
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
	now := s.v.now()
	var p Patient
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = s.patientByMRN(ctx, tx, mrn); err != nil {
			return err
		}
		before := p
		fields := p.textFields()
		for col, v := range c.columns() {
			if v != nil {
				*fields[col] = *v
			}
		}
		if c.SMSConsent != nil {
			p.SMSConsent = *c.SMSConsent
		} else if strings.TrimSpace(p.Phone) == "" {
			p.SMSConsent = false // agreed to texts to a number no longer there
		}
		if err := s.validatePatient(&p); err != nil {
			return err
		}
		changed := map[string]any{}
		beforeFields := before.textFields()
		var names []string
		for col, ptr := range fields {
			if *ptr != *beforeFields[col] {
				changed[col] = *ptr
				names = append(names, col)
			}
		}
		if p.SMSConsent != before.SMSConsent {
			changed["sms_consent"] = p.SMSConsent
			names = append(names, "sms_consent")
		}
		if len(changed) == 0 {
			return nil
		}
		sort.Strings(names)
		p.Updated = now
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET given=?, family=?, preferred=?, dob=?, sex=?, phone=?, phone2=?, email=?,
			address=?, insurance=?, emergency_contact=?, admin_notes=?, postcode=?, national_number=?, sms_consent=?,
			updated_at=?, phone_key=? WHERE id = ?`,
			p.Given, p.Family, p.Preferred, p.DOB, p.Sex, p.Phone, p.Phone2, p.Email, p.Address, p.Insurance,
			p.EmergencyContact, p.AdminNotes, p.Postcode, p.NationalNumber, p.SMSConsent, now.Unix(), digits(p.Phone), p.ID); err != nil {
			return err
		}
		if err := indexPatient(ctx, tx, p); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "patients", p.ID, changed); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "patient-updated", p.MRN, "fields: "+strings.Join(names, ", "))
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
	now := s.v.now()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		p.Archived = true
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET archived = 1, updated_at = ? WHERE id = ?`, now.Unix(), p.ID); err != nil {
			return err
		}
		if err := indexPatient(ctx, tx, p); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "patients", p.ID, map[string]any{"archived": true}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "patient-archived", p.MRN, "")
	})
}

// MergePatients joins duplicate into keep: the duplicate is archived and
// points at keep, its appointments move to keep, and the chart of keep
// shows the clinical history of both. Both records stay in full.
func (s *Session) MergePatients(ctx context.Context, keepMRN, duplicateMRN string) error {
	if err := s.require(); err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		keep, err := s.patientByMRN(ctx, tx, keepMRN)
		if err != nil {
			return err
		}
		dup, err := s.patientByMRN(ctx, tx, duplicateMRN)
		if err != nil {
			return err
		}
		if keep.ID == dup.ID {
			return invalid("a patient cannot be merged into itself")
		}
		if keep.Archived {
			return invalid("%s is archived; merge into a current record", keep.MRN)
		}
		// A restricted chart keeps its restriction through a merge (the
		// kept chart shows both histories), and merging it takes someone
		// who may open it: a clinician named on it, or one who used
		// emergency access to it.
		for _, p := range []Patient{keep, dup} {
			ids, err := patientIDsIn(ctx, tx, p.ID)
			if err != nil {
				return err
			}
			for _, id := range ids {
				allowed, restricted, err := chartAllowed(ctx, tx, id, s.user.ID)
				if err != nil {
					return err
				}
				if restricted && !(allowed && s.user.Role.Clinical()) && !(s.user.Role.Clinical() && s.hadEmergencyAccess(ctx, tx, p.ID, id)) {
					return fmt.Errorf("%s's chart is restricted: merging it takes a clinician named on the restriction (or one who used emergency access to it): %w", p.MRN, ErrRestricted)
				}
			}
		}
		dup.Archived, dup.MergedInto = true, keep.ID
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET archived = 1, merged_into = ?, updated_at = ? WHERE id = ?`, keep.ID, now.Unix(), dup.ID); err != nil {
			return err
		}
		if err := indexPatient(ctx, tx, dup); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "patients", dup.ID, map[string]any{"archived": true, "merged_into": keep.ID}); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM appointments WHERE patient_id = ?`, dup.ID)
		if err != nil {
			return err
		}
		var appts []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			appts = append(appts, id)
		}
		rows.Close()
		for _, id := range appts {
			if _, err := tx.ExecContext(ctx, `UPDATE appointments SET patient_id = ?, updated_at = ? WHERE id = ?`, keep.ID, now.Unix(), id); err != nil {
				return err
			}
			if err := s.recordChanges(ctx, tx, "appointments", id, map[string]any{"patient_id": keep.ID}); err != nil {
				return err
			}
		}
		return audit(ctx, tx, now, s.actor(), "patients-merged", keep.MRN, fmt.Sprintf("%s merged into %s; %d appointments moved", dup.MRN, keep.MRN, len(appts)))
	})
}

// patientIDs returns the id of the patient and of every record merged
// into it (transitively), so a chart shows both histories.
func patientIDs(ctx context.Context, db *store.DB, id string) ([]string, error) {
	return patientIDsIn(ctx, db, id)
}

// patientIDsIn is patientIDs within a transaction or on a database.
func patientIDsIn(ctx context.Context, db querier, id string) ([]string, error) {
	ids := []string{id}
	for i := 0; i < len(ids) && i < 100; i++ {
		rows, err := db.QueryContext(ctx, `SELECT id FROM patients WHERE merged_into = ?`, ids[i])
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var x string
			rows.Scan(&x)
			ids = append(ids, x)
		}
		rows.Close()
	}
	return ids, nil
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

// trunkZero are the calling codes whose countries dial a national number
// with a leading 0 (ITU-T E.164 assignments; national dialling plans).
var trunkZero = map[string]bool{
	"44": true, "33": true, "49": true, "31": true, "32": true, "41": true, "43": true, "46": true,
	"353": true, "61": true, "64": true, "27": true, "91": true, "81": true, "82": true, "86": true,
	"90": true, "30": false, "39": false, "34": false, "351": false, "1": false, "47": false, "45": false,
	"48": false, "358": true, "36": false, "420": false, "62": true, "63": true, "66": true, "60": true,
	"234": true, "254": true, "20": true, "92": true, "880": true, "84": true, "972": true, "971": true,
}

// nationalNumber is an international number ("+44 20 6976 6221") as it is
// dialled in its country ("02069766221"), or "" when that is not known.
func nationalNumber(phone string) string {
	ph := strings.TrimSpace(phone)
	if strings.HasPrefix(ph, "00") {
		ph = "+" + ph[2:]
	}
	if !strings.HasPrefix(ph, "+") {
		return ""
	}
	d := digits(ph)
	for n := 3; n >= 1; n-- {
		if len(d) > n+4 {
			if zero, known := trunkZero[d[:n]]; known {
				if zero {
					return "0" + d[n:]
				}
				return d[n:]
			}
		}
	}
	return ""
}
