package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Issue #14, items 4 and 9: the patients table is declared once
// (patientTable), written only by patientWriter, with every write's
// change record in its transaction; a single registration is one
// duplicate check and one insert.

// patientWrite is SQL that writes the patients table (not patients_fts).
var patientWrite = regexp.MustCompile(`(?i)\b(insert\s+(or\s+\w+\s+)?into|replace\s+into|update(\s+or\s+\w+)?|delete\s+from)\s+["'\x60]?patients\b`)

// TestPatientsAreWrittenOnlyByTheWriter: no file of the app but
// patient_write.go holds SQL that writes the patients table, so no write
// can skip the change log (and the other computers). A new write of a
// patient goes through patientWriter.insert or update; sync's merge
// writes rows only from records it logged first (applyBatch), through a
// statement that names no table.
func TestPatientsAreWrittenOnlyByTheWriter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	writerHasThem := false
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// Statements split over lines, or built with + "...", still read
		// as one: white space is white space.
		text := strings.Join(strings.Fields(string(src)), " ")
		found := patientWrite.FindAllString(text, -1)
		if name == "patient_write.go" {
			writerHasThem = len(found) >= 2 // the INSERT and the UPDATE: the test sees what it looks for
			continue
		}
		for _, q := range found {
			t.Errorf("%s writes the patients table (%q) outside patientWriter: its change record could be skipped; use patientWriter.insert or update", name, q)
		}
	}
	if !writerHasThem {
		t.Fatal("patient_write.go holds no INSERT or UPDATE of patients: this test no longer looks at the right thing")
	}
}

// fieldValues are two valid values of each field people edit: the first
// registers a patient, the second is an edit. A field declared in
// patientTable without values here fails TestEveryPatientFieldReaches...
var fieldValues = map[PatientField][2]any{
	FieldGiven: {"Amara", "Ada"}, FieldFamily: {"Okafor", "Obi"}, FieldPreferred: {"Mara", "Addy"},
	FieldDOB: {"1990-05-17", "1985-06-15"}, FieldSex: {"female", "other"},
	FieldMobile: {"07700 900123", "07700 900456"}, FieldHomePhone: {"020 7946 0001", "020 7946 0002"},
	FieldEmail: {"amara@example.org", "ada@example.org"}, FieldAddress: {"1 High St, Riverside", "2 Low Rd, Hill"},
	FieldInsurance: {"Bupa 12345", "Axa 67890"}, FieldEmergencyContact: {"Kemi, 020 7946 0100", "Tunde, 020 7946 0200"},
	FieldPostcode: {"SW1A 1AA", "EC1A 1BB"}, FieldNationalNumber: {"943 476 5919", "485 777 3456"},
	FieldAdminNotes: {"Prefers mornings", "Prefers afternoons"}, FieldSMSConsent: {true, false},
	FieldLanguage: {"Polish", "Tigrinya"},
}

// setField sets f of p to v.
func setField(t *testing.T, f *patientField, p *Patient, v any) {
	t.Helper()
	reflect.ValueOf(f.ref.at(p)).Elem().Set(reflect.ValueOf(v))
}

// changeOf is the PatientChanges that sets f to v: the field of
// PatientChanges that the declaration's apply reads for f.
func changeOf(t *testing.T, f *patientField, v any) PatientChanges {
	t.Helper()
	for i := 0; i < reflect.TypeOf(PatientChanges{}).NumField(); i++ {
		var c PatientChanges
		cf := reflect.ValueOf(&c).Elem().Field(i)
		if cf.Type().Elem() != reflect.TypeOf(v) {
			continue
		}
		ptr := reflect.New(cf.Type().Elem())
		ptr.Elem().Set(reflect.ValueOf(v))
		cf.Set(ptr)
		if f.ref.apply(&c, &Patient{}) {
			return c
		}
	}
	t.Fatalf("no field of PatientChanges sets patients.%s", f.col)
	return PatientChanges{}
}

// samePatient reports the replicated columns on which a and b differ.
func samePatient(a, b Patient) []string {
	var diff []string
	for i := range patientTable {
		f := &patientTable[i]
		if f.local {
			continue
		}
		if va, vb := f.value(&a), f.value(&b); va != vb {
			diff = append(diff, fmt.Sprintf("%s: %v ≠ %v", f.col, va, vb))
		}
	}
	return diff
}

// TestEveryPatientFieldReachesTheOtherComputer: every field of
// patientTable that people edit, registered on one computer, arrives on
// the other with the rest of the row; edited there, one field at a time,
// each edit comes back (a field whose writes skipped the change log would
// stay behind), the searched ones find the patient by their new value,
// and both computers end with the same row. An archive travels too.
func TestEveryPatientFieldReachesTheOtherComputer(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()
	var editable []*patientField
	var p Patient
	for i := range patientTable {
		f := &patientTable[i]
		if f.ref.apply == nil {
			continue
		}
		vals, ok := fieldValues[f.col]
		if !ok {
			t.Fatalf("patients.%s: add two valid values of it to fieldValues", f.col)
		}
		editable = append(editable, f)
		setField(t, f, &p, vals[0])
	}
	p, _, err := a.AddPatient(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	onB, err := b.GetPatient(ctx, p.MRN)
	if err != nil {
		t.Fatal(err)
	}
	if diff := samePatient(p, onB); len(diff) > 0 {
		t.Fatalf("registered on A, on B: %v", diff)
	}

	for _, f := range editable {
		if _, err := b.EditPatient(ctx, p.MRN, changeOf(t, f, fieldValues[f.col][1])); err != nil {
			t.Fatalf("edit %s on B: %v", f.col, err)
		}
	}
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	onA, err := a.GetPatient(ctx, p.MRN)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range editable {
		if got, want := f.value(&onA), fieldValues[f.col][1]; got != want {
			t.Errorf("patients.%s edited on B is %v on A, want %v", f.col, got, want)
		}
		if f.index == nil {
			continue
		}
		q := fieldValues[f.col][1].(string)
		if found, err := a.SearchPatients(ctx, q, 10); err != nil || len(found) != 1 || found[0].MRN != p.MRN {
			t.Errorf("patients.%s edited on B: searching A for %q finds %v (%v)", f.col, q, found, err)
		}
	}
	onB, _ = b.GetPatient(ctx, p.MRN)
	if diff := samePatient(onA, onB); len(diff) > 0 {
		t.Errorf("after the edits, A and B differ: %v", diff)
	}
	hist, err := a.History(ctx, "patients", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	edited := map[string]int{}
	for _, h := range hist {
		edited[h.Column]++
	}
	for _, f := range editable {
		if edited[string(f.col)] < 2 { // registered, then edited
			t.Errorf("the history on A holds %d records of %s, want 2", edited[string(f.col)], f.col)
		}
	}

	if err := b.ArchivePatient(ctx, p.MRN); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	if onA, _ = a.GetPatient(ctx, p.MRN); !onA.Archived {
		t.Error("archived on B, current on A")
	}
	if found, _ := a.SearchPatients(ctx, "Obi", 10); len(found) != 0 {
		t.Errorf("archived on B, still found on A: %v", found)
	}
}

// TestSingleRegistration: AddPatientUnlessDuplicate (the New patient
// window) registers a patient no record looks like - row, index entry,
// change record and audit row - and, when one does, writes nothing and
// returns it; AddPatient registers anyway and its audit row names the
// look-alike. Bad input is a *FieldError either way.
func TestSingleRegistration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	count := func(q string, args ...any) int {
		t.Helper()
		n, err := scalar[int](ctx, s.general, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first, dups, err := s.AddPatientUnlessDuplicate(ctx, Patient{Given: "Amara", Family: "Okafor", DOB: "1990-05-17", Phone: "07700 900123"})
	if err != nil || len(dups) != 0 || first.MRN == "" || !mrnPattern.MatchString(first.MRN) {
		t.Fatalf("first registration: %v %v %+v", err, dups, first)
	}
	if found, _ := s.SearchPatients(ctx, "okafor", 10); len(found) != 1 || found[0].MRN != first.MRN {
		t.Fatalf("not found by search: %v", found)
	}
	if n := count(`SELECT count(*) FROM changes WHERE tbl = 'patients' AND row_id = ?`, first.ID); n != 1 {
		t.Fatalf("%d change records of the new patient, want 1", n)
	}
	if d := count(`SELECT count(*) FROM audit WHERE action = 'patient-created' AND subject = ? AND detail = ''`, first.MRN); d != 1 {
		t.Fatalf("%d audit rows of the registration, want 1", d)
	}

	patients, changes, audits := count(`SELECT count(*) FROM patients`), count(`SELECT count(*) FROM changes`), count(`SELECT count(*) FROM audit`)
	again, dups, err := s.AddPatientUnlessDuplicate(ctx, Patient{Given: "AMARA", Family: "Okafor", DOB: "1990-05-17"})
	if err != nil || len(dups) != 1 || dups[0].Patient.MRN != first.MRN || dups[0].Reason != "same name and date of birth" || again.MRN != "" {
		t.Fatalf("a look-alike: %v %+v %+v", err, dups, again)
	}
	if count(`SELECT count(*) FROM patients`) != patients || count(`SELECT count(*) FROM changes`) != changes || count(`SELECT count(*) FROM audit`) != audits {
		t.Fatal("a look-alike the window was asked about was written")
	}

	anyway, dups, err := s.AddPatient(ctx, Patient{Given: "Kemi", Family: "Okafor", DOB: "2015-01-01", Phone: "07700 900123"})
	if err != nil || len(dups) != 1 || dups[0].Reason != "same phone" || anyway.MRN == "" {
		t.Fatalf("registered anyway: %v %+v %+v", err, dups, anyway)
	}
	if d := count(`SELECT count(*) FROM audit WHERE action = 'patient-created' AND subject = ? AND detail = ?`, anyway.MRN, "possible duplicate of "+first.MRN); d != 1 {
		t.Fatal("the registration's audit row does not name its look-alike")
	}

	_, _, err = s.AddPatientUnlessDuplicate(ctx, Patient{Given: "No", Family: "Date", DOB: "2999-01-01"})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != FieldDOB || !errors.Is(err, ErrInvalid) {
		t.Fatalf("a date of birth in the future: %v", err)
	}
}
