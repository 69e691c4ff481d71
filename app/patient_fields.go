package app

import (
	"fmt"
	"strings"
	"time"
)

// The patients table, declared once. patientTable lists its columns and,
// for each, everything the app does with it: where it lives in a Patient
// and a PatientChanges, how a typed value is checked, whether the search
// index finds the patient by it, whether it stays on this computer, which
// sheet headers import it and which CSV header exports it. The scan, the
// writer (INSERT and UPDATE with the change records that go with them,
// patient_write.go), the bulk insert, the search index, sync's merge, the
// importer and the CSV export all read it.
//
// Adding a field: a migration that adds the column, the field in Patient
// (and in PatientChanges when people edit it), a line here, and the form,
// the chart and the command-line flag (README, "For developers").

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
	FieldLanguage         PatientField = "language"
)

// The columns nobody types: the row's identity, its life and its times.
const (
	colID         PatientField = "id"
	colMRN        PatientField = "mrn"
	colArchived   PatientField = "archived"
	colMergedInto PatientField = "merged_into"
	colCreated    PatientField = "created_at"
	colUpdated    PatientField = "updated_at"
	// colPhoneKey is the mobile's digits, the duplicate check's key: kept
	// by the writer and by sync's merge beside phone, never replicated,
	// never read into a Patient.
	colPhoneKey = "phone_key"
)

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
	// Language is the language they would rather speak ("Polish"): the
	// desk books an interpreter.
	Language string
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
	Language                                                                                                   *string
}

// Str returns a pointer to s, for PatientChanges.
func Str(s string) *string { return &s }

// Bool returns a pointer to b, for PatientChanges.
func Bool(b bool) *bool { return &b }

// patientField is one column of the patients table.
type patientField struct {
	col PatientField
	ref fieldRef
	// Typed by people: name is how a refusal names it. A max checks it
	// with cleanText (max runes; line breaks when multiline); spaced
	// makes every run of white space one space, upper case, first; check
	// normalises the cleaned value or refuses it (an ErrInvalid).
	name      string
	max       int
	multiline bool
	spaced    bool
	check     func(v string, now time.Time) (string, error)
	// index is the search index's column that finds the patient by it,
	// and its terms there; nil: not searched.
	index *indexedAs
	// local columns stay on this computer: never in the change log.
	local bool
	// headers are the sheet headers (normalised, as normHeader makes
	// them) whose cells an import takes as they are; the importer reads
	// dates, phones, address lines and yes/no cells itself. leaveOut: a
	// cell too long for the field is left out of the row, with a warning,
	// instead of refusing the row.
	headers  string
	leaveOut bool
	// export is its header in a CSV export ("" is not exported).
	export string
}

// patientTable is the patients table. Its order is the CSV export's.
var patientTable = []patientField{
	{col: colID, ref: field(func(p *Patient) *string { return &p.ID }, nil), local: true},
	{col: colMRN, ref: field(func(p *Patient) *string { return &p.MRN }, nil), index: &indexedAs{ftsMRN, mrnTerms}, export: "MRN"},
	{col: FieldFamily, ref: field(func(p *Patient) *string { return &p.Family }, func(c *PatientChanges) *string { return c.Family }),
		name: "family name", max: maxNameRunes, index: &indexedAs{ftsNames, nameTerms}, export: "Last Name",
		headers: "lastname last surname familyname family namelast"},
	{col: FieldGiven, ref: field(func(p *Patient) *string { return &p.Given }, func(c *PatientChanges) *string { return c.Given }),
		name: "given name", max: maxNameRunes, index: &indexedAs{ftsNames, nameTerms}, export: "First Name",
		headers: "firstname first givenname given forename forenames namefirst"},
	{col: FieldPreferred, ref: field(func(p *Patient) *string { return &p.Preferred }, func(c *PatientChanges) *string { return c.Preferred }),
		name: "preferred name", max: maxNameRunes, index: &indexedAs{ftsNames, nameTerms}, export: "Preferred Name",
		headers: "preferredname nickname knownas preferred"},
	{col: FieldDOB, ref: field(func(p *Patient) *string { return &p.DOB }, func(c *PatientChanges) *string { return c.DOB }),
		name: "date of birth", check: ParseDOB, index: &indexedAs{ftsDOB, dobTerms}, export: "Date of Birth"},
	{col: FieldSex, ref: field(func(p *Patient) *string { return &p.Sex }, func(c *PatientChanges) *string { return c.Sex }),
		name: "sex", check: checkSex, export: "Sex", headers: "sex gender"},
	{col: FieldMobile, ref: field(func(p *Patient) *string { return &p.Phone }, func(c *PatientChanges) *string { return c.Phone }),
		name: "mobile", max: 30, check: checkPhone("mobile"), index: &indexedAs{ftsPhone, phoneTerms}, export: "Mobile"},
	{col: FieldHomePhone, ref: field(func(p *Patient) *string { return &p.Phone2 }, func(c *PatientChanges) *string { return c.Phone2 }),
		name: "home phone", max: 30, check: checkPhone("home phone"), index: &indexedAs{ftsPhone, phoneTerms}, export: "Home Phone"},
	{col: FieldEmail, ref: field(func(p *Patient) *string { return &p.Email }, func(c *PatientChanges) *string { return c.Email }),
		name: "email", max: maxShortRunes, check: checkEmail, export: "Email", headers: "email emailaddress mail"},
	{col: FieldAddress, ref: field(func(p *Patient) *string { return &p.Address }, func(c *PatientChanges) *string { return c.Address }),
		name: "address", max: 500, multiline: true, export: "Address"},
	{col: FieldInsurance, ref: field(func(p *Patient) *string { return &p.Insurance }, func(c *PatientChanges) *string { return c.Insurance }),
		name: "insurance", max: maxShortRunes, export: "Insurance", headers: "insurance insurer insurancenumber policy policynumber"},
	{col: FieldEmergencyContact, ref: field(func(p *Patient) *string { return &p.EmergencyContact }, func(c *PatientChanges) *string { return c.EmergencyContact }),
		name: "emergency contact", max: maxShortRunes, export: "Emergency Contact", headers: "emergencycontact nextofkin"},
	{col: FieldPostcode, ref: field(func(p *Patient) *string { return &p.Postcode }, func(c *PatientChanges) *string { return c.Postcode }),
		name: "postcode", max: maxPostcodeRunes, spaced: true, export: "Postcode", leaveOut: true,
		headers: "postcode postalcode zip zipcode postcodezip zippostcode eircode"},
	// The patient's number in the public health system. A column of
	// "insurance number" stays with the insurer, and a social security
	// or National Insurance number (not a health number) is not imported.
	{col: FieldNationalNumber, ref: field(func(p *Patient) *string { return &p.NationalNumber }, func(c *PatientChanges) *string { return c.NationalNumber }),
		name: "national health number", max: maxNationalRunes, spaced: true, index: &indexedAs{ftsMRN, numberTerms}, export: "National Health Number", leaveOut: true,
		headers: "nhsnumber nhsno chinumber chino nationalnumber nationalhealthnumber nationalid nationalidnumber healthnumber healthcardnumber medicarenumber medicareno ihi nhi nhinumber bsn"},
	{col: FieldSMSConsent, ref: field(func(p *Patient) *bool { return &p.SMSConsent }, func(c *PatientChanges) *bool { return c.SMSConsent }), export: "SMS Consent"},
	{col: FieldLanguage, ref: field(func(p *Patient) *string { return &p.Language }, func(c *PatientChanges) *string { return c.Language }), name: "preferred language", max: maxNameRunes, export: "Preferred Language", leaveOut: true, headers: "language preferredlanguage spokenlanguage languagespoken mainlanguage firstlanguage"},
	{col: FieldAdminNotes, ref: field(func(p *Patient) *string { return &p.AdminNotes }, func(c *PatientChanges) *string { return c.AdminNotes }),
		name: "administrative notes", max: maxNoteBytes, multiline: true, headers: "notes note comments comment"},
	{col: colArchived, ref: field(func(p *Patient) *bool { return &p.Archived }, nil)},
	{col: colMergedInto, ref: field(func(p *Patient) *string { return &p.MergedInto }, nil)},
	{col: colCreated, ref: unixTime(func(p *Patient) *time.Time { return &p.Created })},
	{col: colUpdated, ref: unixTime(func(p *Patient) *time.Time { return &p.Updated }), local: true},
}

// fieldRef is where a column's value lives: in a Patient (a *string,
// *bool or *time.Time), and in a PatientChanges for the fields people
// edit.
type fieldRef struct {
	at func(p *Patient) any
	// apply sets the field of p to the change's value, and reports
	// whether the change has one; nil for columns no edit sets.
	apply func(c *PatientChanges, p *Patient) bool
}

// field is a text or yes/no column, edited through edit (nil: not by
// people).
func field[T string | bool](at func(*Patient) *T, edit func(*PatientChanges) *T) fieldRef {
	r := fieldRef{at: func(p *Patient) any { return at(p) }}
	if edit != nil {
		r.apply = func(c *PatientChanges, p *Patient) bool {
			v := edit(c)
			if v != nil {
				*at(p) = *v
			}
			return v != nil
		}
	}
	return r
}

// unixTime is a time column, kept as Unix seconds.
func unixTime(at func(*Patient) *time.Time) fieldRef {
	return fieldRef{at: func(p *Patient) any { return at(p) }}
}

// value is f's value in p as the database and the change log take it: a
// string, a bool or Unix seconds.
func (f *patientField) value(p *Patient) any {
	switch v := f.ref.at(p).(type) {
	case *string:
		return *v
	case *bool:
		return *v
	case *time.Time:
		return v.Unix()
	}
	panic("patients." + string(f.col) + ": a field of an unknown type")
}

// text is f's value as the change log writes it, and whether that is the
// column's default ("", false), which a new row has without a record.
func (f *patientField) text(p *Patient) (string, bool) {
	switch v := f.value(p).(type) {
	case string:
		return v, v == ""
	case bool:
		return "1", !v
	case int64:
		return fmt.Sprint(v), false
	}
	panic("unreachable")
}

// dest is where a scan puts f's value in p.
func (f *patientField) dest(p *Patient) any {
	if t, ok := f.ref.at(p).(*time.Time); ok {
		return unixScan{t}
	}
	return f.ref.at(p)
}

// unixScan reads Unix seconds into a time.
type unixScan struct{ t *time.Time }

func (u unixScan) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("a time column holds %T, not Unix seconds", src)
	}
	*u.t = time.Unix(n, 0)
	return nil
}

// textOf is where a text field lives in p, or nil for other columns.
func (f *patientField) textOf(p *Patient) *string {
	s, _ := f.ref.at(p).(*string)
	return s
}

// searched reports whether writing the column changes the patient's
// search index entry: a column the index holds, or archived (an archived
// patient has none).
func (f *patientField) searched() bool { return f.index != nil || f.col == colArchived }

// patientColumn is the declared column named c.
func patientColumn(c PatientField) *patientField {
	if f, ok := patientByColumn[c]; ok {
		return f
	}
	panic("patients." + string(c) + " is not a declared column")
}

// Derived from patientTable once.
var (
	patientByColumn = columnsByName()
	// patientColumns is the column list every read of a whole patient
	// selects, in patientTable's order: scanPatient reads it.
	patientColumns = columnList()
)

func columnsByName() map[PatientField]*patientField {
	m := make(map[PatientField]*patientField, len(patientTable))
	for i := range patientTable {
		m[patientTable[i].col] = &patientTable[i]
	}
	return m
}

func columnList() string {
	names := make([]string, len(patientTable))
	for i := range patientTable {
		names[i] = string(patientTable[i].col)
	}
	return strings.Join(names, ", ")
}

// scanPatient reads the columns of patientColumns.
func scanPatient(r row) (Patient, error) {
	var p Patient
	dest := make([]any, len(patientTable))
	for i := range patientTable {
		dest[i] = patientTable[i].dest(&p)
	}
	err := r.Scan(dest...)
	return p, err
}
