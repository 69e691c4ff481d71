package app

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func ip(v int) *int         { return &v }
func fp(v float64) *float64 { return &v }

func TestClinicalChart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	rita := f.mustSignIn("Rita Front", recPass)
	p, _, err := rita.AddPatient(ctx, Patient{Given: "Aiyana", Family: "Redcloud", DOB: "1962-04-11"})
	if err != nil {
		t.Fatal(err)
	}
	doc := f.mustSignIn("Dr Omar Haddad", docPass)

	// A receptionist is refused every clinical use case.
	if _, err := rita.AddEncounter(ctx, p.MRN, SOAP{Subjective: "x"}); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist encounter: %v", err)
	}
	if err := rita.AddAllergy(ctx, p.MRN, Allergy{Substance: "penicillin"}); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist allergy: %v", err)
	}

	const secret = "Confidential-Assessment-Marker"
	e, err := doc.AddEncounter(ctx, p.MRN, SOAP{Subjective: "cough 3 days", Objective: "T 37.9", Assessment: secret, Plan: "fluids"})
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.EditEncounter(ctx, p.MRN, e.ID, SOAP{Subjective: "cough 4 days", Objective: "T 37.9", Assessment: secret, Plan: "fluids, review"}); err != nil {
		t.Fatal(err)
	}
	if err := doc.SignEncounter(ctx, p.MRN, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := doc.EditEncounter(ctx, p.MRN, e.ID, SOAP{Plan: "changed"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("edit after sign-off: %v", err)
	}
	if err := doc.SignEncounter(ctx, p.MRN, e.ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second sign-off: %v", err)
	}
	if err := doc.AddAddendum(ctx, p.MRN, e.ID, "culture negative"); err != nil {
		t.Fatal(err)
	}
	if err := doc.AddProblem(ctx, p.MRN, Problem{Description: "Type 2 diabetes", ICD10: "e11.9", Onset: "2015-06-01"}); err != nil {
		t.Fatal(err)
	}
	if err := doc.AddProblem(ctx, p.MRN, Problem{Description: "x", ICD10: "diabetes"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad ICD-10: %v", err)
	}
	if err := doc.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "rash", Severity: "Moderate"}); err != nil {
		t.Fatal(err)
	}
	if err := doc.AddMedication(ctx, p.MRN, Medication{Name: "Metformin", Dose: "500 mg", Route: "oral", Frequency: "twice daily", Start: "2015-06-01"}); err != nil {
		t.Fatal(err)
	}
	if err := doc.AddVitals(ctx, p.MRN, Vitals{Systolic: ip(128), Diastolic: ip(82), Pulse: ip(72), TempC: fp(37.9), WeightKg: fp(81.5), SpO2: ip(97)}); err != nil {
		t.Fatal(err)
	}
	if err := doc.AddVitals(ctx, p.MRN, Vitals{Systolic: ip(128)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("half a blood pressure: %v", err)
	}
	if err := doc.AddVitals(ctx, p.MRN, Vitals{Pulse: ip(900)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("pulse 900: %v", err)
	}
	if _, err := doc.AddEncounter(ctx, p.MRN, SOAP{Plan: strings.Repeat("x", 10<<20)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("10 MB note: %v", err)
	}
	pdf := append([]byte("%PDF-1.4\n"), make([]byte, 1<<20)...)
	d, err := doc.AddDocument(ctx, p.MRN, "Referral letter", "application/pdf", pdf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.AddDocument(ctx, p.MRN, "Too big", "application/pdf", make([]byte, MaxDocumentSize+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("26 MB document: %v", err)
	}
	got, err := doc.DocumentContent(ctx, p.MRN, d.ID)
	if err != nil || len(got) != len(pdf) {
		t.Fatalf("document content: %d %v", len(got), err)
	}

	c, err := doc.OpenChart(ctx, p.MRN)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Clinical || len(c.Encounters) != 1 || !c.Encounters[0].Signed() || c.Encounters[0].Subjective != "cough 4 days" ||
		len(c.Encounters[0].Addenda) != 1 || c.Encounters[0].Clinician != "Dr Omar Haddad" || len(c.Problems) != 1 ||
		c.Problems[0].ICD10 != "E11.9" || len(c.Allergies) != 1 || c.Allergies[0].Severity != "moderate" ||
		len(c.Medications) != 1 || len(c.Vitals) != 1 || *c.Vitals[0].Systolic != 128 || c.Vitals[0].HeightCm != nil || len(c.Documents) != 1 {
		t.Fatalf("chart %+v", c)
	}
	rc, err := rita.OpenChart(ctx, p.MRN)
	if err != nil || rc.Clinical || len(rc.Encounters) != 0 {
		t.Fatalf("receptionist chart: %+v %v", rc, err)
	}

	// Clinical change records live in clinical.db; general.db's change log
	// and audit never quote clinical content.
	var n int
	admin.general.QueryRow(`SELECT count(*) FROM changes WHERE tbl IN ('encounters','addenda','problems','allergies','medications','vitals','documents')`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d clinical change records in general.db", n)
	}
	hist, err := doc.History(ctx, "encounters", e.ID)
	if err != nil || len(hist) < 10 {
		t.Fatalf("encounter change history: %d fields, %v", len(hist), err)
	}
	doc.clinical.QueryRow(`SELECT count(*) FROM changes WHERE tbl = 'encounters' AND row_id = ?`, e.ID).Scan(&n)
	if n >= len(hist) {
		t.Fatalf("%d change records for %d fields: a row write should be one record", n, len(hist))
	}
	admin.general.QueryRow(`SELECT count(*) FROM audit WHERE detail LIKE ? OR subject LIKE ?`, "%"+secret+"%", "%"+secret+"%").Scan(&n)
	if n != 0 {
		t.Fatal("audit quotes clinical content")
	}
	hist, err = doc.History(ctx, "vitals", c.Vitals[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist {
		if h.Column == "height_cm" && h.Value != nil {
			t.Fatalf("missing height recorded as %q", *h.Value)
		}
	}
	if _, err := rita.History(ctx, "encounters", e.ID); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist read clinical history: %v", err)
	}
	entries, _ := admin.AuditList(ctx, 0)
	views := 0
	for _, en := range entries {
		if en.Action == "chart-viewed" {
			views++
		}
	}
	if views != 2 {
		t.Fatalf("chart views audited: %d", views)
	}
}

// TestTemperaturesInFahrenheitAndBMI: °F is accepted and kept as °C; the
// body-mass index is worked out from weight and height.
func TestTemperaturesInFahrenheitAndBMI(t *testing.T) {
	for in, want := range map[string]float64{"37.9": 37.9, "37,9": 37.9, "37.9 °C": 37.9, "100.4 °F": 38, "100.4F": 38, "98.6": 37, "101,3 f": 38.5} {
		if got, ok := ParseTemperature(in); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	if _, ok := ParseTemperature("warm"); ok {
		t.Error("warm is a temperature")
	}
	w, h := 81.5, 180.0
	if bmi, ok := (Vitals{WeightKg: &w, HeightCm: &h}).BMI(); !ok || bmi != 25.2 {
		t.Errorf("BMI %v %v, want 25.2", bmi, ok)
	}
	if s := (Vitals{WeightKg: &w, HeightCm: &h}).Summary(); !strings.Contains(s, "BMI 25.2") {
		t.Errorf("summary %q", s)
	}
}
