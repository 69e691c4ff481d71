package app

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
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

// ImportPlan is the preview of an import: how columns map to fields, and
// which rows go in and which are refused.
type ImportPlan struct {
	File     string
	Headers  []string
	Mapping  map[int]string // column index -> patient field
	Unmapped []string       // headers that are not imported
	Rows     []ImportRow    // valid rows
	Refused  []ImportRow
	// Registered are rows of patients already in the vault: shown, not
	// imported twice.
	Registered []ImportRow
	// DateOrder is how the dates of birth were read: decided from the
	// whole column when any date's first part is over 12 (day first) or
	// its second part is (month first), else the practice's setting, or
	// as chosen (ImportOptions).
	DateOrder       DateOrder
	DateOrderSource string // "column", "practice setting" or "chosen"
	// Encoding is how the sheet's bytes were read as text.
	Encoding TextEncoding

	fhir *fhirPlan // the clinical entries of a FHIR bundle
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
	var records [][]string
	var rowNums []int
	var readProblems []ImportRow
	enc := EncodingUTF8 // a workbook's text is XML's, UTF-8 or UTF-16, decoded by its reader
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".txt":
		records, rowNums, readProblems, enc, err = readCSV(path)
	case ".xlsx", ".xlsm":
		records, rowNums, err = readXLSX(path)
	case ".json":
		if err := checkFHIRSize(path); err != nil {
			return nil, err
		}
		return s.planFHIR(path)
	default:
		return nil, fmt.Errorf("%s: only .csv and .xlsx sheets (and .json FHIR bundles) can be imported: %w", filepath.Base(path), ErrUnreadableSheet)
	}
	if err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%s is empty: %w", filepath.Base(path), ErrUnreadableSheet)
	}
	plan := &ImportPlan{File: path, Headers: records[0], Mapping: map[int]string{}, Refused: readProblems, Encoding: enc}
	have := map[string]bool{}
	for i, h := range records[0] {
		if f, ok := headerFields[normHeader(h)]; ok {
			plan.Mapping[i] = f
			have[f] = true
		} else if strings.TrimSpace(h) != "" {
			plan.Unmapped = append(plan.Unmapped, h)
		}
	}
	for _, need := range []string{"given", "family", "dob"} {
		if !have[need] {
			return nil, fmt.Errorf("no column for the %s was found (headers: %s); name it e.g. %q: %w",
				map[string]string{"given": "first name", "family": "last name", "dob": "date of birth"}[need],
				strings.Join(records[0], ", "), map[string]string{"given": "First Name", "family": "Last Name", "dob": "Date of Birth"}[need], ErrUnreadableSheet)
		}
	}
	order, source := s.DateOrder(), "practice setting"
	if opts.DateOrder != nil {
		order, source = *opts.DateOrder, "chosen"
	} else if o, ok := columnDateOrder(records[1:], plan.Mapping); ok {
		order, source = o, "column"
	}
	plan.DateOrder, plan.DateOrderSource = order, source
	seen := make(map[string]int, len(records))
	plan.Rows = make([]ImportRow, 0, len(records)-1)
	for k, rec := range records[1:] {
		row := rowNums[k+1]
		if blank(rec) {
			continue
		}
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
				p.DOB = normalizeSheetDate(cell, order)
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
				ir.Warnings = append(ir.Warnings, fmt.Sprintf("%s %q left out: it is not a valid %s", f.name, v, f.name))
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
				ir.Warnings = append(ir.Warnings, fmt.Sprintf("%s %q left out: longer than %d characters", f.name, typed, f.max))
				*v = ""
			}
		}
		if agreed, ok := parseYesNo(consent); !ok {
			ir.Warnings = append(ir.Warnings, fmt.Sprintf("SMS consent %q left out: it is not yes or no", consent))
		} else if agreed && strings.TrimSpace(ir.Patient.Phone) == "" {
			ir.Warnings = append(ir.Warnings, "SMS consent left out: there is no mobile number to text")
		} else {
			ir.Patient.SMSConsent = agreed
		}
		if err := s.validatePatient(&ir.Patient); err != nil {
			ir.Problem = strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
		} else if p.DOB == "" {
			ir.Problem = "no date of birth"
		} else {
			key := foldAccents(ir.Patient.Family + "|" + ir.Patient.Given + "|" + ir.Patient.DOB)
			if first, dup := seen[key]; dup {
				ir.Problem = fmt.Sprintf("the same person as row %d (name and date of birth)", first)
			} else {
				seen[key] = row
			}
		}
		if ir.Problem != "" {
			plan.Refused = append(plan.Refused, ir)
		} else {
			plan.Rows = append(plan.Rows, ir)
		}
	}
	if err := s.setAsideRegistered(ctx, plan); err != nil {
		return nil, err
	}
	return plan, nil
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

// columnDateOrder decides how a sheet's dates of birth are written from
// the whole column: a first part over 12 means day first, a second part
// over 12 month first. It reports false when the column does not tell
// (or says both).
func columnDateOrder(rows [][]string, mapping map[int]string) (DateOrder, bool) {
	col := -1
	for i, f := range mapping {
		if f == "dob" {
			col = i
		}
	}
	if col < 0 {
		return "", false
	}
	dayFirst, monthFirst := false, false
	for _, rec := range rows {
		if col >= len(rec) {
			continue
		}
		g := slashDate.FindStringSubmatch(strings.TrimSpace(rec[col]))
		if g == nil {
			continue
		}
		a, _ := strconv.Atoi(g[1])
		b, _ := strconv.Atoi(g[2])
		dayFirst = dayFirst || a > 12
		monthFirst = monthFirst || b > 12
	}
	switch {
	case dayFirst && !monthFirst:
		return DayMonthYear, true
	case monthFirst && !dayFirst:
		return MonthDayYear, true
	}
	return "", false
}

// setAsideRegistered moves the planned rows of patients already in the
// vault to plan.Registered: same name and date of birth, or the same
// phone and either the same date of birth or the same name (a family
// sharing one phone is not one patient).
func (s *Session) setAsideRegistered(ctx context.Context, plan *ImportPlan) error {
	if len(plan.Rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	type known struct{ mrn, family, given, dob string }
	byName := map[string]string{}
	byPhone := map[string][]known{}
	// Into the maps as they are scanned: no list of every patient.
	_, err := queryAll(ctx, s.general, func(r row) (struct{}, error) {
		var k known
		var phone string
		if err := r.Scan(&k.mrn, &k.family, &k.given, &k.dob, &phone); err != nil {
			return struct{}{}, err
		}
		k.family, k.given = foldAccents(k.family), foldAccents(k.given)
		byName[k.family+"|"+k.given+"|"+k.dob] = k.mrn
		if phone != "" {
			byPhone[phone] = append(byPhone[phone], k)
		}
		return struct{}{}, nil
	}, `SELECT mrn, family, given, dob, phone_key FROM patients WHERE archived = 0`)
	if err != nil {
		return err
	}
	kept := plan.Rows[:0]
	for _, ir := range plan.Rows {
		p := ir.Patient
		family, given := foldAccents(p.Family), foldAccents(p.Given)
		if mrn, ok := byName[family+"|"+given+"|"+p.DOB]; ok {
			ir.Existing = mrn
		} else if ph := digits(p.Phone); ph != "" {
			for _, k := range byPhone[ph] {
				if k.dob == p.DOB || (k.family == family && k.given == given) {
					ir.Existing = k.mrn
					break
				}
			}
		}
		if ir.Existing != "" {
			plan.Registered = append(plan.Registered, ir)
			continue
		}
		kept = append(kept, ir)
	}
	plan.Rows = kept
	return nil
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

// readCSV reads a CSV file, detecting encoding (decodeSheetText) and
// separator. Rows that
// do not parse are returned as problems with their line numbers.
func readCSV(path string) ([][]string, []int, []ImportRow, TextEncoding, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, "", err
	}
	raw, enc, err := decodeSheetText(path, raw)
	if err != nil {
		return nil, nil, nil, "", err
	}
	firstLine, _, _ := bytes.Cut(raw, []byte("\n"))
	sep := ','
	if bytes.Count(firstLine, []byte(";")) > bytes.Count(firstLine, []byte(",")) {
		sep = ';'
	}
	if bytes.Count(firstLine, []byte("\t")) > bytes.Count(firstLine, []byte(string(sep))) {
		sep = '\t'
	}
	r := csv.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	r.Comma = sep
	r.FieldsPerRecord = -1
	var out [][]string
	var lines []int
	var problems []ImportRow
	failures := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			problems = append(problems, ImportRow{Row: pe.StartLine, Problem: "the row cannot be read: " + pe.Err.Error() + " (an unbalanced quote?)"})
			if failures++; failures > 100 {
				return nil, nil, nil, "", fmt.Errorf("%s: more than 100 unreadable rows; is it a CSV file? %w", filepath.Base(path), ErrUnreadableSheet)
			}
			continue
		}
		if err != nil {
			return nil, nil, nil, "", err
		}
		line, _ := r.FieldPos(0) // the record read without error has a field 0
		out = append(out, rec)
		lines = append(lines, line)
	}
	if len(out) == 0 && len(problems) > 0 {
		return nil, nil, nil, "", fmt.Errorf("%s: no readable row: %w", filepath.Base(path), ErrUnreadableSheet)
	}
	return out, lines, problems, enc, nil
}

// maxWorkbookBytes bounds what a workbook may unpack to. By default
// excelize unpacks a worksheet (or the shared strings) of more than 16 MiB
// - about 40,000 patients - into a plaintext temporary file, which would
// put the practice's patient list on disk outside the vault (and leave it
// there after a crash). With its in-memory limit raised to this bound
// nothing of the sheet reaches the disk; a workbook that unpacks to more
// (Excel's own limit of 1,048,576 rows fits) is refused with a message.
// A variable only so that a test can lower it.
var maxWorkbookBytes int64 = 512 << 20

// readXLSX reads the first sheet of a workbook with raw cell values, so
// that dates stored as Excel numbers are read as numbers.
func readXLSX(path string) ([][]string, []int, error) {
	head := make([]byte, 8)
	if fh, err := os.Open(path); err == nil {
		io.ReadFull(fh, head)
		fh.Close()
	}
	// An encrypted (password-protected) workbook is an OLE compound file,
	// not a zip: say so rather than "not a valid zip file".
	if bytes.Equal(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}) {
		return nil, nil, fmt.Errorf("%s is password-protected (or an old .xls file): remove the password, or save it as .xlsx, in the spreadsheet program and import again: %w", filepath.Base(path), ErrUnreadableSheet)
	}
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: maxWorkbookBytes, UnzipXMLSizeLimit: maxWorkbookBytes})
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "unzip size exceeds") {
			return nil, nil, fmt.Errorf("%s unpacks to more than %d MB, more than ClinicVault reads at once: save it as CSV (or split it) and import that: %w", filepath.Base(path), maxWorkbookBytes>>20, ErrUnreadableSheet)
		}
		if strings.Contains(strings.ToLower(msg), "password") || strings.Contains(strings.ToLower(msg), "encrypt") || errors.Is(err, excelize.ErrWorkbookFileFormat) {
			return nil, nil, fmt.Errorf("%s is password-protected or not a workbook: remove the password in the spreadsheet program, save, and import again: %w", filepath.Base(path), ErrUnreadableSheet)
		}
		return nil, nil, fmt.Errorf("%s: %v: %w", filepath.Base(path), err, ErrUnreadableSheet)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, nil, fmt.Errorf("%s has no sheet: %w", filepath.Base(path), ErrUnreadableSheet)
	}
	if err := checkXLSXRows(f, sheets[0], filepath.Base(path)); err != nil {
		return nil, nil, err
	}
	rows, err := f.GetRows(sheets[0], excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v: %w", filepath.Base(path), err, ErrUnreadableSheet)
	}
	nums := make([]int, len(rows))
	for i := range rows {
		nums[i] = i + 1
	}
	return rows, nums, nil
}

// Import writes a planned import: all valid rows in one transaction. With
// skipInvalid false, any refused row means nothing is imported. The
// import is audited; the caller should then advise deleting the sheet.
func (s *Session) Import(ctx context.Context, plan *ImportPlan, skipInvalid bool, progress func(done, total int)) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	if len(plan.Refused) > 0 && !skipInvalid {
		return 0, invalid("%d row(s) of %s are refused; nothing was imported (fix them, or import the valid rows only)", len(plan.Refused), filepath.Base(plan.File))
	}
	if plan.ClinicalEntries() > 0 && !s.User().Role.Clinical() {
		return 0, fmt.Errorf("the bundle holds %d clinical entries; a clinician or admin must import it: %w", plan.ClinicalEntries(), ErrNotPermitted)
	}
	// The import's own audit row goes in with the patients, in their
	// transaction: an import is never on record without its rows, nor
	// the other way round. (Written afterwards in a transaction of its
	// own, it also made that small commit fold a large import's WAL into
	// the database file on the spot, the work writeBulk leaves to the
	// background.)
	// The planned rows are written in place (they receive their ids and
	// MRNs): a copy of 300,000 patients would be another 100 MB.
	n := len(plan.Rows)
	err := s.addPatients(ctx, n, func(i int) *Patient { return &plan.Rows[i].Patient }, progress, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "import", filepath.Base(plan.File), fmt.Sprintf("%d imported, %d refused, %d already registered", n, len(plan.Refused), len(plan.Registered)))
	})
	if err != nil {
		return 0, err
	}
	if plan.fhir != nil {
		mrns := make([]string, n)
		for i := range plan.Rows {
			mrns[i] = plan.Rows[i].Patient.MRN
		}
		if err := s.importFHIRClinical(ctx, plan.fhir, mrns); err != nil {
			return n, fmt.Errorf("patients imported, but a clinical entry failed: %w", err)
		}
	}
	return n, nil
}

// DeleteSheetAdvice is what the app tells the user after an import.
const DeleteSheetAdvice = "Now delete the original sheet, and empty the recycle bin: a spreadsheet of patients is one of the commonest ways practices lose patient data, and ClinicVault now holds these records encrypted."

// DeleteSheetAdviceFor is DeleteSheetAdvice for an import that left rows
// out: those are in the sheet only, so they are mentioned.
func DeleteSheetAdviceFor(plan *ImportPlan, skippedInvalid bool) string {
	if !skippedInvalid || len(plan.Refused) == 0 {
		return DeleteSheetAdvice
	}
	return fmt.Sprintf("%d row(s) were not imported (listed above): enter them by hand or fix and import them first — they are in the sheet only. Then delete the original sheet, and empty the recycle bin: a spreadsheet of patients is one of the commonest ways practices lose patient data, and ClinicVault now holds these records encrypted.", len(plan.Refused))
}
