package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// Issue #16, item 10: a patient's postcode, national health number,
// mobile and home phone, and consent to SMS reminders.

// fieldOf is the field a refusal names, or "".
func fieldOf(err error) PatientField {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// TestPatientContactFields: the new fields are kept (spacing normalised),
// read back, changed one at a time with their history and audit, and a
// national health number finds the patient. Withdrawing the mobile
// withdraws the SMS consent; consent without a mobile is refused, naming
// the field.
func TestPatientContactFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	rita := f.mustSignIn("Rita Front", recPass)

	p, _, err := rita.AddPatient(ctx, Patient{Given: "Amara", Family: "Okafor", DOB: "1990-05-17",
		Phone: "07700 900123", Phone2: "020 7946 0001", Postcode: "  sw1a   1aa ", NationalNumber: "943  476\t5919", SMSConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Postcode != "SW1A 1AA" || p.NationalNumber != "943 476 5919" || !p.SMSConsent || p.Phone2 != "020 7946 0001" {
		t.Fatalf("added as %+v", p)
	}
	got, err := rita.GetPatient(ctx, p.MRN)
	if err != nil || got.Postcode != "SW1A 1AA" || got.NationalNumber != "943 476 5919" || !got.SMSConsent || got.Phone != "07700 900123" || got.Phone2 != "020 7946 0001" {
		t.Fatalf("read back: %v %+v", err, got)
	}
	rita.AddPatient(ctx, Patient{Given: "Other", Family: "Person", DOB: "1970-01-01", NationalNumber: "QQ 12 34 56 C"})

	// Found by the national number as typed, with or without its spaces,
	// and by a group of it.
	for _, q := range []string{"9434765919", "943 476 5919", "943-476-5919", "5919", "okafor 943", "qq123456c"} {
		ps, err := rita.SearchPatients(ctx, q, 10)
		if err != nil || len(ps) != 1 {
			t.Errorf("search %q: %v %d found", q, err, len(ps))
			continue
		}
		if want := map[bool]string{true: "Person", false: "Okafor"}[q == "qq123456c"]; ps[0].Family != want {
			t.Errorf("search %q found %s", q, ps[0].Family)
		}
	}
	if ps, _ := rita.SearchPatients(ctx, "SW1A", 10); len(ps) != 0 {
		t.Errorf("a postcode is not a search key (half a street shares it): %d found", len(ps))
	}

	// Edit one field: only it changes, with a change record, audited by name.
	p, err = rita.EditPatient(ctx, p.MRN, PatientChanges{Postcode: Str("ec1a 1bb")})
	if err != nil || p.Postcode != "EC1A 1BB" || p.NationalNumber != "943 476 5919" || !p.SMSConsent {
		t.Fatalf("edit postcode: %v %+v", err, p)
	}
	p, err = rita.EditPatient(ctx, p.MRN, PatientChanges{NationalNumber: Str("485 777 3456")})
	if err != nil || p.NationalNumber != "485 777 3456" {
		t.Fatalf("edit national number: %v %+v", err, p)
	}
	if ps, _ := rita.SearchPatients(ctx, "4857773456", 10); len(ps) != 1 {
		t.Error("the changed national number does not find the patient")
	}
	if ps, _ := rita.SearchPatients(ctx, "9434765919", 10); len(ps) != 0 {
		t.Error("the old national number still finds the patient")
	}

	// Consent without a mobile: refused, naming the consent.
	_, _, err = rita.AddPatient(ctx, Patient{Given: "No", Family: "Mobile", DOB: "1990-01-01", Phone2: "020 7946 0002", SMSConsent: true})
	if !errors.Is(err, ErrInvalid) || fieldOf(err) != FieldSMSConsent {
		t.Fatalf("consent without a mobile: %v (field %q)", err, fieldOf(err))
	}
	// Clearing the mobile withdraws the consent, recorded as a change.
	p, err = rita.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("")})
	if err != nil || p.SMSConsent || p.Phone != "" || p.Phone2 != "020 7946 0001" {
		t.Fatalf("mobile cleared: %v %+v", err, p)
	}
	if _, err := rita.EditPatient(ctx, p.MRN, PatientChanges{SMSConsent: Bool(true)}); fieldOf(err) != FieldSMSConsent {
		t.Fatalf("consent set with no mobile: %v", err)
	}
	p, err = rita.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("07700 900999"), SMSConsent: Bool(true)})
	if err != nil || !p.SMSConsent {
		t.Fatalf("mobile and consent back: %v %+v", err, p)
	}
	hist, err := rita.History(ctx, "patients", p.ID)
	if err != nil {
		t.Fatal(err)
	}
	var consent []string
	cols := map[string]bool{}
	for _, h := range hist {
		cols[h.Column] = true
		if h.Column == "sms_consent" && h.Value != nil {
			consent = append(consent, *h.Value)
		}
	}
	if strings.Join(consent, ",") != "1,0,1" || !cols["postcode"] || !cols["national_number"] {
		t.Fatalf("history: consent %v, columns %v", consent, cols)
	}
	entries, _ := admin.AuditList(ctx, 0)
	var details []string
	for _, e := range entries {
		if e.Action == "patient-updated" && e.Subject == p.MRN {
			details = append(details, e.Detail)
		}
	}
	if !strings.Contains(strings.Join(details, ";"), "fields: phone, sms_consent") || !strings.Contains(strings.Join(details, ";"), "fields: postcode") {
		t.Errorf("audit of the edits: %q", details)
	}

	// Refusals name their field (a form points at it), and still wrap
	// ErrInvalid.
	for name, c := range map[string]struct {
		p    Patient
		want PatientField
	}{
		"postcode too long":  {Patient{Postcode: "RIVERSIDE SW1A 1AA"}, FieldPostcode},
		"national too long":  {Patient{NationalNumber: strings.Repeat("1", 31)}, FieldNationalNumber},
		"control character":  {Patient{NationalNumber: "943\x00476"}, FieldNationalNumber},
		"bad mobile":         {Patient{Phone: "call me"}, FieldMobile},
		"bad home phone":     {Patient{Phone2: "ask at desk"}, FieldHomePhone},
		"bad email":          {Patient{Email: "nope"}, FieldEmail},
		"no given name":      {Patient{Given: " "}, FieldGiven},
		"date in the future": {Patient{DOB: "2999-01-01"}, FieldDOB},
		"sex":                {Patient{Sex: "q"}, FieldSex},
	} {
		pt := Patient{Given: "A", Family: "B", DOB: "1990-01-01"}
		if c.p.Given != "" {
			pt.Given = c.p.Given
		}
		if c.p.DOB != "" {
			pt.DOB = c.p.DOB
		}
		pt.Postcode, pt.NationalNumber, pt.Phone, pt.Phone2, pt.Email, pt.Sex = c.p.Postcode, c.p.NationalNumber, c.p.Phone, c.p.Phone2, c.p.Email, c.p.Sex
		_, _, err := rita.AddPatient(ctx, pt)
		if !errors.Is(err, ErrInvalid) || fieldOf(err) != c.want {
			t.Errorf("%s: %v (field %q), want field %q", name, err, fieldOf(err), c.want)
		}
	}
	// Nothing silly is refused: a Dutch, a US ZIP+4 and an Irish postcode;
	// numbers with letters and dashes.
	for _, pt := range []Patient{
		{Postcode: "1012 ab", NationalNumber: "111222333"},
		{Postcode: "94105-1804", NationalNumber: "2123 45670 1"},
		{Postcode: "D02 X285", NationalNumber: "ZGA-1234"},
	} {
		pt.Given, pt.Family, pt.DOB = "Fine", "Entry", "1980-01-01"
		if _, _, err := rita.AddPatient(ctx, pt); err != nil {
			t.Errorf("%+v refused: %v", pt, err)
		}
	}
}

// TestPatientContactFieldsInBulk: an import-sized registration (the bulk
// path, a statement per 1,024 patients) keeps the new fields too.
func TestPatientContactFieldsInBulk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	ps := DemoPatients(bulkPreload+50, 3, f.clk.Now())
	if err := s.AddPatients(ctx, ps, nil); err != nil {
		t.Fatal(err)
	}
	consenting := 0
	for _, want := range ps {
		got, err := s.GetPatient(ctx, want.MRN)
		if err != nil {
			t.Fatal(err)
		}
		if got.Postcode == "" || got.Postcode != want.Postcode || got.NationalNumber != want.NationalNumber ||
			got.SMSConsent != want.SMSConsent || got.Phone2 != want.Phone2 {
			t.Fatalf("stored %+v, want %+v", got, want)
		}
		if got.SMSConsent {
			consenting++
		}
	}
	if consenting == 0 || consenting == len(ps) {
		t.Errorf("%d of %d demo patients agree to SMS reminders", consenting, len(ps))
	}
	found, err := s.SearchPatients(ctx, strings.ReplaceAll(ps[17].NationalNumber, " ", ""), 10)
	if err != nil || len(found) != 1 || found[0].MRN != ps[17].MRN {
		t.Fatalf("search by national number after a bulk insert: %v %+v", err, found)
	}
}

// TestDemoPatientsKeepTheirNamesAndGainContactFields: the demo's new
// fields come from a source of their own, so a seed's patients keep the
// names, dates and phones they had (tests and training rely on them),
// and their national numbers are in the NHS's never-issued 999 range
// with a valid check digit.
func TestDemoPatientsKeepTheirNamesAndGainContactFields(t *testing.T) {
	ps := DemoPatients(3, 7, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	for i, want := range []string{
		`Ananya|Patel|2001-10-13|female|+44 20 4004 7420|125 High Street, Riverside`,
		`Zoë|van der Berg|2024-09-06|unknown|+44 20 7941 2591|167 High Street, Riverside`,
		`Mei|Wang|1931-11-04|female|+44 20 7716 8884|197 High Street, Riverside`,
	} {
		p := ps[i]
		if got := strings.Join([]string{p.Given, p.Family, p.DOB, p.Sex, p.Phone, p.Address}, "|"); got != want {
			t.Errorf("demo patient %d is %s, was %s", i, got, want)
		}
	}
	for _, p := range DemoPatients(200, 11, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) {
		d := digits(p.NationalNumber)
		if len(d) != 10 || !strings.HasPrefix(d, "999") || p.Postcode == "" {
			t.Fatalf("demo patient %+v", p)
		}
		sum := 0
		for i := 0; i < 9; i++ {
			sum += int(d[i]-'0') * (10 - i)
		}
		if check := (11 - sum%11) % 11; check != int(d[9]-'0') {
			t.Fatalf("%s: check digit %d, want %d", p.NationalNumber, d[9]-'0', check)
		}
	}
}

// TestPatientContactFieldsSync: the new columns replicate, a national
// number finds on the other computer the patient registered on this one,
// and an edit of them travels back.
func TestPatientContactFieldsSync(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()
	p, _, err := a.AddPatient(ctx, Patient{Given: "Amara", Family: "Okafor", DOB: "1990-05-17",
		Phone: "07700 900123", Phone2: "020 7946 0001", Postcode: "SW1A 1AA", NationalNumber: "943 476 5919", SMSConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	got, err := b.GetPatient(ctx, p.MRN)
	if err != nil || got.Postcode != "SW1A 1AA" || got.NationalNumber != "943 476 5919" || !got.SMSConsent || got.Phone2 != "020 7946 0001" {
		t.Fatalf("on B: %v %+v", err, got)
	}
	if ps, _ := b.SearchPatients(ctx, "9434765919", 10); len(ps) != 1 || ps[0].MRN != p.MRN {
		t.Fatalf("search by national number on B: %+v", ps)
	}
	if _, err := b.EditPatient(ctx, p.MRN, PatientChanges{Postcode: Str("EC1A 1BB"), SMSConsent: Bool(false)}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	got, _ = a.GetPatient(ctx, p.MRN)
	if got.Postcode != "EC1A 1BB" || got.SMSConsent || got.NationalNumber != "943 476 5919" {
		t.Fatalf("B's edit on A: %+v", got)
	}
}

// TestPatientContactFieldsExportAndImport: the CSV export has the new
// columns (the old ones in their places), a FHIR export carries them as
// FHIR has them (address.postalCode, an NH identifier, telecom use mobile
// and home) and stays valid R4, and both bring them back on import.
func TestPatientContactFieldsExportAndImport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	want := Patient{Given: "Amara", Family: "Okafor", DOB: "1990-05-17", Phone: "07700 900123", Phone2: "020 7946 0001",
		Address: "1 High St, Riverside", Postcode: "SW1A 1AA", NationalNumber: "943 476 5919", SMSConsent: true, Insurance: "Bupa 12345"}
	p, _, err := s.AddPatient(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got Patient) {
		t.Helper()
		if got.Phone != want.Phone || got.Phone2 != want.Phone2 || got.Postcode != want.Postcode || got.NationalNumber != want.NationalNumber ||
			got.SMSConsent != want.SMSConsent || got.Address != want.Address || got.Insurance != want.Insurance {
			t.Errorf("%s: %+v", what, got)
		}
	}

	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v %q", err, buf.String())
	}
	head := strings.Join(recs[0], ",")
	if head != "MRN,Last Name,First Name,Preferred Name,Date of Birth,Sex,Mobile,Home Phone,Email,Address,Insurance,Emergency Contact,Postcode,National Health Number,SMS Consent,Preferred Language" {
		t.Errorf("csv header %s", head)
	}
	if row := strings.Join(recs[1][12:15], ","); row != "SW1A 1AA,943 476 5919,yes" {
		t.Errorf("csv row ends %s", row)
	}
	g := newFixture(t)
	s2 := g.mustSignIn("Maria Admin", adminPass)
	plan, err := s2.PlanImport(ctx, writeFile(t, "export.csv", buf.Bytes()))
	if err != nil || len(plan.Rows) != 1 || len(plan.Unmapped) != 1 || plan.Unmapped[0] != "MRN" {
		t.Fatalf("re-import of the CSV: %v %+v", err, plan)
	}
	same("CSV re-import", plan.Rows[0].Patient)

	buf.Reset()
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, MRN: p.MRN, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Identifier []struct {
					Value string
					Type  struct {
						Coding []struct{ System, Code string }
					}
				}
				Telecom []struct{ System, Value, Use string }
				Address []struct{ Text, PostalCode string }
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &bundle); err != nil || len(bundle.Entry) != 1 {
		t.Fatalf("bundle: %v", err)
	}
	r := bundle.Entry[0].Resource
	if len(r.Identifier) != 2 || r.Identifier[1].Value != "943 476 5919" || r.Identifier[1].Type.Coding[0].Code != "NH" ||
		r.Identifier[1].Type.Coding[0].System != v2IdentifierTypes {
		t.Errorf("identifiers %+v", r.Identifier)
	}
	if len(r.Telecom) != 2 || r.Telecom[0].Use != "mobile" || r.Telecom[0].Value != want.Phone || r.Telecom[1].Use != "home" {
		t.Errorf("telecom %+v", r.Telecom)
	}
	if len(r.Address) != 1 || r.Address[0].PostalCode != "SW1A 1AA" || r.Address[0].Text != want.Address {
		t.Errorf("address %+v", r.Address)
	}
	validR4(t, buf.Bytes())
	g2 := newFixture(t)
	s3 := g2.mustSignIn("Maria Admin", adminPass)
	plan, err = s3.PlanImport(ctx, writeFile(t, "bundle.json", buf.Bytes()))
	if err != nil || len(plan.Rows) != 1 {
		t.Fatalf("re-import of the bundle: %v %+v", err, plan)
	}
	got := plan.Rows[0].Patient
	got.SMSConsent, got.Insurance = want.SMSConsent, want.Insurance // FHIR's Patient has no place for either
	same("FHIR re-import", got)

	// A bundle from elsewhere: an NHS number by its system, phones listed
	// home first, an address in parts.
	other := `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient",
		"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"4857773456"}],
		"name":[{"family":"Tran","given":["Minh"]}],"birthDate":"1975-02-03",
		"telecom":[{"system":"phone","value":"020 7946 0002","use":"home"},{"system":"phone","value":"07700 900555","use":"mobile"}],
		"address":[{"line":["2 Low Rd"],"city":"Riverside","postalCode":"RV1 2AB"}]}}]}`
	plan, err = s3.PlanImport(ctx, writeFile(t, "other.json", []byte(other)))
	if err != nil || len(plan.Rows) != 1 {
		t.Fatalf("other bundle: %v %+v", err, plan)
	}
	if got := plan.Rows[0].Patient; got.NationalNumber != "4857773456" || got.Phone != "07700 900555" || got.Phone2 != "020 7946 0002" ||
		got.Postcode != "RV1 2AB" || got.Address != "2 Low Rd, Riverside" {
		t.Errorf("other bundle's patient %+v", got)
	}
}

// TestImportContactColumns: a sheet's Mobile, Home phone, Post code, NHS
// number and SMS reminders columns reach their fields, whatever their
// order; "Insurance number" stays with the insurer; consent without a
// mobile, or an unreadable one, is left out with a warning, and a
// postcode too long to be one costs only itself.
func TestImportContactColumns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	s.dates = DayMonthYear
	sheet := "Surname,First Name,DOB,Home phone,Mobile,Post code,NHS number,SMS reminders,Insurance number,Street\n" +
		"Okafor,Amara,17/05/1990,020 7946 0001,07700 900123,sw1a 1aa,943 476 5919,yes,Bupa 12345,1 High St\n" +
		"Tran,Minh,03/02/1975,020 7946 0002,,RV1 2AB,,Y,,\n" +
		"Lee,Ana,04/02/1975,,07700 900124,RIVERSIDE SW1A 1AA EXTRA,,perhaps,,\n"
	plan, err := s.PlanImport(ctx, writeFile(t, "contacts.csv", []byte(sheet)))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Unmapped) != 0 || len(plan.Rows) != 3 {
		t.Fatalf("unmapped %v, rows %+v, refused %+v", plan.Unmapped, plan.Rows, plan.Refused)
	}
	a, b, c := plan.Rows[0], plan.Rows[1], plan.Rows[2]
	if p := a.Patient; p.Phone != "07700 900123" || p.Phone2 != "020 7946 0001" || p.Postcode != "SW1A 1AA" || p.NationalNumber != "943 476 5919" ||
		!p.SMSConsent || p.Insurance != "Bupa 12345" || p.Address != "1 High St" || len(a.Warnings) != 0 {
		t.Errorf("row 2: %+v %v", p, a.Warnings)
	}
	if p := b.Patient; p.Phone != "" || p.Phone2 != "020 7946 0002" || p.SMSConsent || len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "no mobile") {
		t.Errorf("row 3 (consent, no mobile): %+v %v", p, b.Warnings)
	}
	if p := c.Patient; p.Postcode != "" || p.SMSConsent || p.Phone != "07700 900124" || len(c.Warnings) != 2 {
		t.Errorf("row 4 (postcode too long, consent unreadable): %+v %v", p, c.Warnings)
	}
	if _, err := s.Import(ctx, plan, false, nil); err != nil {
		t.Fatal(err)
	}
	ps, _ := s.SearchPatients(ctx, "9434765919", 10)
	if len(ps) != 1 || ps[0].Postcode != "SW1A 1AA" || !ps[0].SMSConsent {
		t.Fatalf("imported: %+v", ps)
	}
}

// TestNationalNumberEditFoundAfterSync: a national number changed on one
// computer finds the patient on the other (the sync merge rewrites a
// patient's search entry when national_number arrives).
func TestNationalNumberEditFoundAfterSync(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Amara", Family: "Okafor", DOB: "1990-05-17"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if _, err := a.EditPatient(ctx, p.MRN, PatientChanges{NationalNumber: Str("943 476 5919")}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if ps, _ := b.SearchPatients(ctx, "9434765919", 10); len(ps) != 1 {
		t.Fatalf("the synced national number finds %d patients on B", len(ps))
	}
}
