package app

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// ErrUnreadableSheet means the file cannot be read as a sheet of patients.
var ErrUnreadableSheet = errors.New("the file cannot be read as a sheet of patients")

// ImportRow is one row of a sheet: its row number as the spreadsheet
// program shows it (the header is row 1), the patient it makes, and why it
// is refused (empty when it is fine).
type ImportRow struct {
	Row     int
	Patient Patient
	Problem string
	// Warnings: what was left out of the row (a malformed e-mail or
	// phone); the patient is imported without it.
	Warnings []string
	// Suspicious: the cells holding characters that are probably not what
	// was typed (suspiciousText), each as `column "Name": what`; the row
	// is imported as it is unless it is refused for another reason.
	Suspicious []string
	// Existing is the MRN of the patient already in the vault that the
	// row is (same name and date of birth, or same phone and the same
	// date of birth or name): such rows are not imported again.
	Existing string
}

// ImportPlan is the preview of an import: how columns map to fields,
// how many rows go in, are refused or are already registered, and the
// first of each to show. It holds no list of every row: the import reads
// the file again (and refuses it if its bytes are not the ones previewed).
type ImportPlan struct {
	File     string
	Headers  []string
	Mapping  map[int]string // column index -> patient field
	Unmapped []string       // headers that are not imported
	// Count is how many rows of each kind the file holds; the lists below
	// hold the first of them.
	Count ImportCounts
	// Rows are the first PreviewRows rows that will be imported.
	Rows []ImportRow
	// Refused are the first MaxListedRows refused rows.
	Refused []ImportRow
	// Registered are the first MaxListedRows rows of patients already in
	// the vault: shown, not imported twice.
	Registered []ImportRow
	// Noted are the first MaxListedRows rows after Rows that will be
	// imported and have warnings or suspicious cells.
	Noted []ImportRow
	// DateOrder is how the dates of birth were read: decided from the
	// whole column when any date's first part is over 12 (day first) or
	// its second part is (month first), else the practice's setting, or
	// as chosen (ImportOptions).
	DateOrder       DateOrder
	DateOrderSource string // "column", "practice setting" or "chosen"
	// Encoding is how the sheet's bytes were read as text.
	Encoding TextEncoding

	digest [32]byte         // SHA-256 of the file as previewed
	skip   map[int]struct{} // rows refused or registered: not imported
	fhir   *fhirPlan        // the clinical entries of a FHIR bundle
}

// ImportCounts are the rows of a previewed file by what happens to them.
type ImportCounts struct {
	Import     int // rows that will be imported
	Refused    int // rows refused, with the reason
	Registered int // rows of patients already in the vault
}

// How much of each kind a plan lists.
const (
	PreviewRows   = 200
	MaxListedRows = 1000
)

// keep lists ir in list unless it is full.
func keepListed(list []ImportRow, ir ImportRow, limit int) []ImportRow {
	if len(list) < limit {
		list = append(list, listedRow(ir))
	}
	return list
}

// How much of a listed row is kept: the lists are for showing, and up to
// 3,200 rows are listed; a row of cells of 32,767 characters each (one
// shared string of a workbook, named by every cell) kept whole made a
// plan of gigabytes from a file of kilobytes.
const (
	maxListedRunes      = 300 // of each field of a listed row's patient, and of its problem
	maxListedSuspicious = 10  // suspicious cells noted for a row
)

// listedRow is ir as a list keeps it: each text clipped, at most
// maxListedSuspicious suspicious cells.
func listedRow(ir ImportRow) ImportRow {
	for i := range patientTable {
		if v := patientTable[i].textOf(&ir.Patient); v != nil {
			*v = clipRunes(*v, maxListedRunes)
		}
	}
	ir.Problem = clipRunes(ir.Problem, maxListedRunes)
	if n := len(ir.Suspicious); n > maxListedSuspicious {
		ir.Suspicious = append(ir.Suspicious[:maxListedSuspicious:maxListedSuspicious], fmt.Sprintf("and %d more cells", n-maxListedSuspicious))
	}
	return ir
}

// clipRunes is s cut to its first n characters and "…" when longer (a
// copy: not the long string kept alive by a slice of it).
func clipRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return strings.Clone(s[:k]) + "…"
		}
		i++
	}
	return s
}

// refuse counts and lists a refused row.
func (p *ImportPlan) refuse(ir ImportRow) {
	p.Count.Refused++
	p.Refused = keepListed(p.Refused, ir, MaxListedRows)
	p.skip[ir.Row] = struct{}{}
}

// take counts and lists a row that will be imported.
func (p *ImportPlan) take(ir ImportRow) {
	p.Count.Import++
	if len(p.Rows) < PreviewRows {
		p.Rows = append(p.Rows, listedRow(ir))
	} else if len(ir.Warnings)+len(ir.Suspicious) > 0 {
		ir.Patient = Patient{Given: ir.Patient.Given, Family: ir.Patient.Family}
		p.Noted = keepListed(p.Noted, ir, MaxListedRows)
	}
}

// ClinicalEntries is how many clinical entries a FHIR bundle brings.
func (p *ImportPlan) ClinicalEntries() int {
	if p.fhir == nil {
		return 0
	}
	return p.fhir.clinical
}

// readHeaders maps the normalised headers of the columns the importer
// reads itself to what it reads them as: dates, phones, address lines and
// yes/no cells. The fields a sheet fills as typed list their headers in
// patientTable.
var readHeaders = map[string]string{
	"dob": "dob", "dateofbirth": "dob", "birthdate": "dob", "birthday": "dob", "born": "dob", "datebirth": "dob",
	// A phone column that does not say which goes to the mobile, then to
	// the home phone, in the sheet's order.
	"phone": "phone", "telephone": "phone", "tel": "phone", "phonenumber": "phone",
	"mobile": "mobile", "mobilephone": "mobile", "mobilenumber": "mobile", "mobileno": "mobile", "cell": "mobile", "cellphone": "mobile", "cellnumber": "mobile",
	"homephone": "phone2", "hometelephone": "phone2", "hometel": "phone2", "homenumber": "phone2", "landline": "phone2", "phone2": "phone2",
	"secondphone": "phone2", "otherphone": "phone2", "telephone2": "phone2",
	"address": "address", "street": "address", "streetaddress": "address", "addressline1": "address", "address1": "address",
	"addressline2": "address", "address2": "address", "city": "address", "town": "address",
	"smsconsent": "sms_consent", "sms": "sms_consent", "smsreminders": "sms_consent", "smsok": "sms_consent", "consenttosms": "sms_consent",
	"textreminders": "sms_consent", "textconsent": "sms_consent", "agreestosmsreminders": "sms_consent",
}

// headerFields maps normalised header names to patient fields.
var headerFields = importHeaders()

func importHeaders() map[string]string {
	m := make(map[string]string, len(readHeaders)+64)
	for h, f := range readHeaders {
		m[h] = f
	}
	for i := range patientTable {
		f := &patientTable[i]
		if f.headers != "" && f.textOf(&Patient{}) == nil {
			panic("patients." + string(f.col) + ": only text fields are imported as typed")
		}
		for _, h := range strings.Fields(f.headers) {
			m[h] = string(f.col)
		}
	}
	return m
}

func normHeader(h string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, foldAccents(h))
}

// PlanImport reads a CSV (UTF-8 or UTF-16 with or without BOM, or Windows-1252;
// comma, semicolon or tab separated) or XLSX sheet and checks every row,
// without writing anything.
func (s *Session) PlanImport(ctx context.Context, path string) (*ImportPlan, error) {
	return s.PlanImportWith(ctx, path, ImportOptions{})
}

// ImportOptions change how a sheet is read.
type ImportOptions struct {
	// DateOrder, when set, is how dates of birth like 02/03/1955 are read,
	// whatever the column or the practice's setting suggests.
	DateOrder *DateOrder
}

// PlanImportWith is PlanImport with options.
func (s *Session) PlanImportWith(ctx context.Context, path string, opts ImportOptions) (*ImportPlan, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	if strings.ToLower(filepath.Ext(path)) == ".json" {
		if err := checkFHIRSize(path); err != nil {
			return nil, err
		}
		return s.planFHIR(path)
	}
	src, enc, err := openSheet(path)
	if err != nil {
		return nil, err
	}
	defer src.close()
	plan := &ImportPlan{File: path, Mapping: map[int]string{}, Encoding: enc, skip: map[int]struct{}{}}
	if err := plan.readHeader(src); err != nil {
		return nil, err
	}
	plan.DateOrder, plan.DateOrderSource = s.DateOrder(), "practice setting"
	if opts.DateOrder != nil {
		plan.DateOrder, plan.DateOrderSource = *opts.DateOrder, "chosen"
	}
	reg, err := s.registeredIndex(ctx)
	if err != nil {
		return nil, err
	}
	column, err := s.planRows(ctx, src, plan, reg)
	if err != nil {
		return nil, err
	}
	// The whole column decides how its dates are read: when it says
	// otherwise than the rows were read with, they are read again.
	if o, ok := column.order(); ok && opts.DateOrder == nil {
		if o != plan.DateOrder {
			first := plan.digest
			*plan = ImportPlan{File: plan.File, Headers: plan.Headers, Mapping: plan.Mapping, Unmapped: plan.Unmapped, Encoding: plan.Encoding,
				DateOrder: o, skip: map[int]struct{}{}}
			if err := src.rewind(); err != nil {
				return nil, err
			}
			if _, err := sheetHeader(src, filepath.Base(path)); err != nil {
				return nil, err
			}
			if _, err := s.planRows(ctx, src, plan, reg); err != nil {
				return nil, err
			}
			if plan.digest != first {
				return nil, fmt.Errorf("%s: %w", filepath.Base(path), ErrImportFileChanged)
			}
		}
		plan.DateOrderSource = "column"
	}
	return plan, nil
}

// planRows reads the rows of src after its header into plan (whose
// DateOrder they are read with): counted, the first of each kind listed,
// the refused and registered ones noted to be skipped, and the file's
// digest. It returns what the date-of-birth column says of its order.
func (s *Session) planRows(ctx context.Context, src sheetSource, plan *ImportPlan, reg *registered) (dateColumn, error) {
	name := filepath.Base(plan.File)
	column := dateColumn{col: -1}
	for i, f := range plan.Mapping {
		if f == "dob" {
			column.col = i
		}
	}
	seen := map[uint64]int{} // folded name and date of birth -> first row
	unreadable, readable := 0, 0
	for {
		rec, row, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			plan.refuse(ImportRow{Row: row, Problem: "the row cannot be read: " + pe.Err.Error() + " (an unbalanced quote?)"})
			if unreadable++; unreadable > 100 {
				return column, fmt.Errorf("%s: more than 100 unreadable rows; is it a CSV file? %w", name, ErrUnreadableSheet)
			}
			continue
		}
		if err != nil {
			return column, err
		}
		if err := ctx.Err(); err != nil {
			return column, err
		}
		readable++
		if blank(rec) {
			continue
		}
		column.read(rec)
		ir := s.sheetRow(plan, rec, row)
		if ir.Problem == "" {
			key := importKey(ir.Patient.Family, ir.Patient.Given, ir.Patient.DOB)
			if first, dup := seen[key]; dup {
				ir.Problem = fmt.Sprintf("the same person as row %d (name and date of birth)", first)
			} else {
				seen[key] = row
			}
		}
		switch {
		case ir.Problem != "":
			plan.refuse(ir)
		default:
			if ir.Existing, err = reg.find(ctx, s, ir.Patient); err != nil {
				return column, err
			}
			if ir.Existing != "" {
				plan.Count.Registered++
				plan.Registered = keepListed(plan.Registered, ir, MaxListedRows)
				plan.skip[ir.Row] = struct{}{}
			} else {
				plan.take(ir)
			}
		}
	}
	if readable == 0 && unreadable > 0 {
		return column, fmt.Errorf("%s: no readable row: %w", name, ErrUnreadableSheet)
	}
	plan.digest = src.digest()
	return column, nil
}

// readHeader reads the sheet's first record as its header and maps its
// columns to fields; a sheet without the columns every patient needs is
// refused.
func (p *ImportPlan) readHeader(src sheetSource) error {
	rec, err := sheetHeader(src, filepath.Base(p.File))
	if err != nil {
		return err
	}
	p.Headers = rec
	have := map[string]bool{}
	for i, h := range p.Headers {
		if f, ok := headerFields[normHeader(h)]; ok {
			p.Mapping[i] = f
			have[f] = true
		} else if strings.TrimSpace(h) != "" {
			p.Unmapped = append(p.Unmapped, h)
		}
	}
	for _, need := range []string{"given", "family", "dob"} {
		if !have[need] {
			return fmt.Errorf("no column for the %s was found (headers: %s); name it e.g. %q: %w",
				map[string]string{"given": "first name", "family": "last name", "dob": "date of birth"}[need],
				strings.Join(p.Headers, ", "), map[string]string{"given": "First Name", "family": "Last Name", "dob": "Date of Birth"}[need], ErrUnreadableSheet)
		}
	}
	return nil
}

// sheetHeader reads a sheet's first record, its column names.
func sheetHeader(src sheetSource, name string) ([]string, error) {
	rec, _, err := src.next()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s is empty: %w", name, ErrUnreadableSheet)
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%s: its first row (the column names) cannot be read: %v: %w", name, pe.Err, ErrUnreadableSheet)
	}
	return rec, err
}

// importKey is a row's folded name and date of birth, hashed: what
// finds the same person twice in one sheet without keeping every name.
func importKey(family, given, dob string) uint64 {
	return foldedKey(foldAccents(family), foldAccents(given), dob)
}

// sheetRow reads one record of a sheet as a patient, with its warnings,
// suspicious cells and (when it is refused) the reason.
func (s *Session) sheetRow(plan *ImportPlan, rec []string, row int) ImportRow {
	p := Patient{}
	var addr, phones []string
	var mobile, home, consent string
	for i, cell := range rec {
		f, ok := plan.Mapping[i]
		if !ok {
			continue
		}
		cell = strings.TrimSpace(cell)
		switch f {
		case "dob":
			p.DOB = normalizeSheetDate(cell, plan.DateOrder)
		case "phone":
			if cell != "" {
				phones = append(phones, cell)
			}
		case "mobile":
			if mobile == "" {
				mobile = cell
			} else if cell != "" {
				phones = append(phones, cell)
			}
		case "phone2":
			if home == "" {
				home = cell
			} else if cell != "" {
				phones = append(phones, cell)
			}
		case "sms_consent":
			consent = cell
		case "address":
			if cell != "" {
				addr = append(addr, cell)
			}
		default: // a field taken as typed: its first filled column
			if v := patientColumn(PatientField(f)).textOf(&p); *v == "" {
				*v = cell
			}
		}
	}
	p.Address = strings.Join(addr, ", ")
	p.Phone, p.Phone2 = mobile, home
	for _, ph := range phones {
		if p.Phone == "" {
			p.Phone = ph
		} else if p.Phone2 == "" {
			p.Phone2 = ph
		}
	}
	ir := ImportRow{Row: row, Patient: p, Suspicious: suspiciousCells(rec, plan.Headers)}
	// A malformed optional field does not cost the patient: left out,
	// with a warning for the row.
	for _, f := range []struct {
		name string
		v    *string
		ok   func(string) bool
	}{{"mobile", &ir.Patient.Phone, looksLikePhone}, {"home phone", &ir.Patient.Phone2, looksLikePhone}, {"e-mail", &ir.Patient.Email, looksLikeEmail}} {
		if v := strings.TrimSpace(*f.v); v != "" && !f.ok(v) {
			ir.Warnings = append(ir.Warnings, fmt.Sprintf("%s %s left out: it is not a valid %s", f.name, quoteShort(v), f.name))
			*f.v = ""
		}
	}
	for i := range patientTable {
		f := &patientTable[i]
		if !f.leaveOut {
			continue
		}
		v := f.textOf(&ir.Patient)
		typed := strings.TrimSpace(*v)
		if f.spaced {
			typed = singleSpaced(*v)
		}
		if utf8.RuneCountInString(typed) > f.max {
			ir.Warnings = append(ir.Warnings, fmt.Sprintf("%s %s left out: longer than %d characters", f.name, quoteShort(typed), f.max))
			*v = ""
		}
	}
	if agreed, ok := parseYesNo(consent); !ok {
		ir.Warnings = append(ir.Warnings, fmt.Sprintf("SMS consent %s left out: it is not yes or no", quoteShort(consent)))
	} else if agreed && strings.TrimSpace(ir.Patient.Phone) == "" {
		ir.Warnings = append(ir.Warnings, "SMS consent left out: there is no mobile number to text")
	} else {
		ir.Patient.SMSConsent = agreed
	}
	if err := s.validatePatient(&ir.Patient); err != nil {
		ir.Problem = strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
	} else if p.DOB == "" {
		ir.Problem = "no date of birth"
	}
	return ir
}

// quoteShort quotes a cell for a warning, its first 60 characters when
// it is longer (a warning of each of a thousand rows quoting a note of
// 30,000 characters would hold 30 MB).
func quoteShort(v string) string {
	if utf8.RuneCountInString(v) <= 60 {
		return strconv.Quote(v)
	}
	r := []rune(v)
	return strconv.Quote(string(r[:60])) + "…"
}

// parseYesNo reads a sheet's yes-or-no cell: empty is no.
func parseYesNo(cell string) (yes, ok bool) {
	switch strings.ToLower(strings.TrimSpace(cell)) {
	case "", "no", "n", "false", "0", "-", "none", "declined", "refused":
		return false, true
	case "yes", "y", "true", "1", "x", "✓", "✔", "agreed", "consented", "ok":
		return true, true
	}
	return false, false
}

// dateColumn decides how a sheet's dates of birth are written from the
// whole column: a first part over 12 means day first, a second part
// over 12 month first.
type dateColumn struct {
	col                  int
	dayFirst, monthFirst bool
}

func (d *dateColumn) read(rec []string) {
	if d.col < 0 || d.col >= len(rec) {
		return
	}
	g := slashDate.FindStringSubmatch(strings.TrimSpace(rec[d.col]))
	if g == nil {
		return
	}
	a, _ := strconv.Atoi(g[1])
	b, _ := strconv.Atoi(g[2])
	d.dayFirst = d.dayFirst || a > 12
	d.monthFirst = d.monthFirst || b > 12
}

// order is the order the column shows; false when it does not tell (or
// says both).
func (d dateColumn) order() (DateOrder, bool) {
	switch {
	case d.dayFirst && !d.monthFirst:
		return DayMonthYear, true
	case d.monthFirst && !d.dayFirst:
		return MonthDayYear, true
	}
	return "", false
}

// registered finds the patients already in the vault that a sheet's
// rows are: same name and date of birth, or the same phone and either
// the same date of birth or the same name (a family sharing one phone is
// not one patient). It keeps hashes of the vault's current patients and
// their row ids, and reads an MRN only for a row that is one of them.
type registered struct {
	byName  map[uint64]int64 // folded family, given, date of birth -> rowid
	byPhone map[uint64][]knownPhone
}

type knownPhone struct {
	rowid     int64
	name, dob uint64
}

func (s *Session) registeredIndex(ctx context.Context) (*registered, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	reg := &registered{byName: map[uint64]int64{}, byPhone: map[uint64][]knownPhone{}}
	// Into the maps as they are scanned: no list of every patient.
	_, err := queryAll(ctx, s.general, func(r row) (struct{}, error) {
		var rowid int64
		var family, given, dob, phone string
		if err := r.Scan(&rowid, &family, &given, &dob, &phone); err != nil {
			return struct{}{}, err
		}
		family, given = foldAccents(family), foldAccents(given)
		reg.byName[foldedKey(family, given, dob)] = rowid
		if phone != "" {
			ph := foldedKey(phone)
			reg.byPhone[ph] = append(reg.byPhone[ph], knownPhone{rowid, foldedKey(family, given), foldedKey(dob)})
		}
		return struct{}{}, nil
	}, `SELECT rowid, family, given, dob, phone_key FROM patients WHERE archived = 0`)
	return reg, err
}

// find returns the MRN of the patient already in the vault that p is,
// or "".
func (reg *registered) find(ctx context.Context, s *Session, p Patient) (string, error) {
	family, given := foldAccents(p.Family), foldAccents(p.Given)
	rowid, ok := reg.byName[foldedKey(family, given, p.DOB)]
	if !ok {
		if ph := digits(p.Phone); ph != "" {
			name, dob := foldedKey(family, given), foldedKey(p.DOB)
			for _, k := range reg.byPhone[foldedKey(ph)] {
				if k.dob == dob || k.name == name {
					rowid, ok = k.rowid, true
					break
				}
			}
		}
	}
	if !ok {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return "", ErrLocked
	}
	return scalar[string](ctx, s.general, `SELECT mrn FROM patients WHERE rowid = ?`, rowid)
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// normalizeSheetDate reads a date of birth as sheets hold it: ISO, the
// practice's D/M/Y or M/D/Y, or an Excel date number.
func normalizeSheetDate(cell string, order DateOrder) string {
	if d, ok := ParseTypedDate(cell, order); ok {
		return d
	}
	if f, err := strconv.ParseFloat(cell, 64); err == nil && f > 0 && f < 2958466 {
		if t, err := excelize.ExcelDateToTime(f, false); err == nil {
			return t.Format("2006-01-02")
		}
	}
	// Date and time (2001-05-04 00:00:00, as some exports write).
	if len(cell) > 10 {
		if d, ok := ParseTypedDate(strings.Fields(cell)[0], order); ok {
			return d
		}
	}
	return cell
}

// Import writes a planned import: all valid rows in one transaction,
// read again from the file, which must be the one previewed (else
// ErrImportFileChanged, and nothing is imported). With skipInvalid
// false, any refused row means nothing is imported. The import is
// audited; the caller should then advise deleting the sheet.
func (s *Session) Import(ctx context.Context, plan *ImportPlan, skipInvalid bool, progress func(done, total int)) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	if plan.Count.Refused > 0 && !skipInvalid {
		return 0, invalid("%d row(s) of %s are refused; nothing was imported (fix them, or import the valid rows only)", plan.Count.Refused, filepath.Base(plan.File))
	}
	if plan.ClinicalEntries() > 0 && !s.User().Role.Clinical() {
		return 0, fmt.Errorf("the bundle holds %d clinical entries; a clinician or admin must import it: %w", plan.ClinicalEntries(), ErrNotPermitted)
	}
	if plan.fhir != nil {
		return s.importFHIR(ctx, plan, progress)
	}
	src, enc, err := openSheet(plan.File)
	if err != nil {
		return 0, err
	}
	defer src.close()
	changed := func() error { return fmt.Errorf("%s: %w", filepath.Base(plan.File), ErrImportFileChanged) }
	// The encoding is decided by a read of its own, before the read the
	// digest is of: the same bytes read in another encoding than the
	// preview's (the file swapped back and forth around that first read)
	// are other names.
	if enc != plan.Encoding {
		return 0, changed()
	}
	if _, err := sheetHeader(src, filepath.Base(plan.File)); err != nil {
		return 0, err
	}
	n := 0
	next := func() (*Patient, error) {
		for {
			rec, row, err := src.next()
			var pe *csv.ParseError
			switch {
			case errors.Is(err, io.EOF):
				if src.digest() != plan.digest || n != plan.Count.Import {
					return nil, changed()
				}
				return nil, nil
			case errors.As(err, &pe):
				continue // refused in the preview
			case err != nil:
				return nil, err
			}
			if _, skip := plan.skip[row]; skip || blank(rec) {
				continue
			}
			// No more rows than previewed: a file grown since is not
			// written on to its end (nor the bulk's MRN filter, sized
			// for the plan, filled) before its digest tells.
			if n == plan.Count.Import {
				return nil, changed()
			}
			ir := s.sheetRow(plan, rec, row)
			if ir.Problem != "" {
				return nil, changed()
			}
			n++
			p := ir.Patient // not the row's warnings with it
			return &p, nil
		}
	}
	// The import's own audit row goes in with the patients, in their
	// transaction: an import is never on record without its rows, nor
	// the other way round. (Written afterwards in a transaction of its
	// own, it also made that small commit fold a large import's WAL into
	// the database file on the spot, the work writeBulk leaves to the
	// background.)
	err = s.addPatients(ctx, plan.Count.Import, next, progress, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "import", filepath.Base(plan.File), importAuditDetail(plan))
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// importAuditDetail is the import's line in the audit log.
func importAuditDetail(plan *ImportPlan) string {
	return fmt.Sprintf("%d imported, %d refused, %d already registered", plan.Count.Import, plan.Count.Refused, plan.Count.Registered)
}

// DeleteSheetAdvice is what the app tells the user after an import.
const DeleteSheetAdvice = "Now delete the original sheet, and empty the recycle bin: a spreadsheet of patients is one of the commonest ways practices lose patient data, and ClinicVault now holds these records encrypted."

// DeleteSheetAdviceFor is DeleteSheetAdvice for an import that left rows
// out: those are in the sheet only, so they are mentioned.
func DeleteSheetAdviceFor(plan *ImportPlan, skippedInvalid bool) string {
	if !skippedInvalid || plan.Count.Refused == 0 {
		return DeleteSheetAdvice
	}
	return fmt.Sprintf("%d row(s) were not imported (listed above): enter them by hand or fix and import them first — they are in the sheet only. Then delete the original sheet, and empty the recycle bin: a spreadsheet of patients is one of the commonest ways practices lose patient data, and ClinicVault now holds these records encrypted.", plan.Count.Refused)
}
