package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestExportFHIRAndCSV(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, _ := s.AddPatient(ctx, Patient{Given: "José", Family: "Núñez", DOB: "1980-03-02", Sex: "male", Phone: "555 0100", Email: "j@example.org"})
	e, _ := s.AddEncounter(ctx, p.MRN, SOAP{Subjective: "cough <3 days>", Plan: "fluids"})
	s.SignEncounter(ctx, p.MRN, e.ID)
	s.AddProblem(ctx, p.MRN, Problem{Description: "Hypertension", ICD10: "I10"})
	s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "rash", Severity: "severe"})
	s.AddMedication(ctx, p.MRN, Medication{Name: "Amlodipine", Dose: "5 mg"})
	s.AddVitals(ctx, p.MRN, Vitals{Systolic: ip(130), Diastolic: ip(85), Pulse: ip(70), TempC: fp(37.2), WeightKg: fp(80), HeightCm: fp(178), SpO2: ip(98)})

	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR}); !errors.Is(err, ErrUsage) {
		t.Fatalf("no protection chosen: %v", err)
	}
	const pass = "harbour lantern quiet orchard"
	n, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, Passphrase: pass})
	if err != nil || n != 1 {
		t.Fatalf("export: %d %v", n, err)
	}
	if bytes.Contains(buf.Bytes(), []byte("Núñez")) {
		t.Fatal("plaintext in the encrypted export")
	}
	id, _ := age.NewScryptIdentity(pass)
	rd, err := age.Decrypt(&buf, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rd)
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil || bundle.ResourceType != "Bundle" || bundle.Type != "collection" {
		t.Fatalf("bundle: %v", err)
	}
	urls := map[string]bool{}
	types := map[string]int{}
	for _, en := range bundle.Entry {
		urls[en.FullURL] = true
		types[en.Resource["resourceType"].(string)]++
	}
	for typ, want := range map[string]int{"Patient": 1, "Encounter": 1, "Condition": 1, "AllergyIntolerance": 1, "MedicationStatement": 1, "Observation": 6} {
		if types[typ] != want {
			t.Errorf("%s: %d, want %d", typ, types[typ], want)
		}
	}
	// Every reference resolves inside the bundle.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["reference"].(string); ok && !urls[r] {
				t.Errorf("dangling reference %s", r)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(map[string]any{"e": bundle.Entry})
	for _, code := range []string{loincBPPanel, loincSystolic, loincDiastolic, loincPulse, loincTemp, loincWeight, loincHeight, loincSpO2} {
		if !strings.Contains(string(raw), `"code": "`+code+`"`) {
			t.Errorf("no LOINC %s", code)
		}
	}
	if !strings.Contains(string(raw), `cough \u0026lt;3 days\u0026gt;`) {
		t.Error("narrative not escaped")
	}

	// CSV, plaintext on request: audited as such, and readable by import.
	buf.Reset()
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Núñez,José,,1980-03-02") {
		t.Fatalf("csv: %s", buf.String())
	}
	entries, _ := s.AuditList(ctx, 5)
	if entries[0].Action != "export" || !strings.Contains(entries[0].Detail, "PLAINTEXT") {
		t.Fatalf("plaintext export audit: %+v", entries[0])
	}
	g := newFixture(t)
	s2 := g.mustSignIn("Maria Admin", adminPass)
	plan, err := s2.PlanImport(ctx, writeFile(t, "export.csv", buf.Bytes()))
	if err != nil || len(plan.Rows) != 1 || plan.Rows[0].Patient.Email != "j@example.org" {
		t.Fatalf("re-import of the CSV export: %v %+v", err, plan)
	}

	// The printed visit summary.
	pdf, err := s.VisitSummaryPDF(ctx, p.MRN, e.ID)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("visit summary: %v", err)
	}
	if _, err := s.VisitSummaryPDF(ctx, p.MRN, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown encounter: %v", err)
	}
}

func TestFHIRRoundTripAndBadBundles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, _ := s.AddPatient(ctx, Patient{Given: "Aiyana", Family: "Redcloud", DOB: "1962-04-11", Sex: "female", Phone: "555 0199"})
	s.AddEncounter(ctx, p.MRN, SOAP{Subjective: "headache", Plan: "rest"})
	s.AddProblem(ctx, p.MRN, Problem{Description: "Migraine", ICD10: "G43.9"})
	s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Latex", Severity: "mild"})
	s.AddVitals(ctx, p.MRN, Vitals{Systolic: ip(118), Diastolic: ip(76), WeightKg: fp(64.5)})
	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, MRN: p.MRN, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t)
	s2 := g.mustSignIn("Maria Admin", adminPass)
	plan, err := s2.PlanImport(ctx, writeFile(t, "bundle.json", buf.Bytes()))
	if err != nil || len(plan.Rows) != 1 || len(plan.Refused) != 0 || plan.ClinicalEntries() != 5 {
		t.Fatalf("plan: %v %+v", err, plan)
	}
	if _, err := s2.Import(ctx, plan, false, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := s2.SearchPatients(ctx, "redcloud", 1)
	c, _ := s2.OpenChart(ctx, got[0].MRN)
	if len(c.Encounters) != 1 || !strings.Contains(c.Encounters[0].Subjective, "headache") || len(c.Problems) != 1 || c.Problems[0].ICD10 != "G43.9" ||
		len(c.Allergies) != 1 || len(c.Vitals) != 2 {
		t.Fatalf("imported chart: %+v", c)
	}
	for name, body := range map[string]string{
		"not json":       "hello",
		"not a bundle":   `{"resourceType": "Patient"}`,
		"dangling ref":   `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Condition","subject":{"reference":"Patient/nobody"},"code":{"text":"x"}}}]}`,
		"bad birth date": `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"A","given":["B"]}],"birthDate":"2999-01-01"}}]}`,
	} {
		plan, err := s2.PlanImport(ctx, writeFile(t, "b.json", []byte(body)))
		if err == nil && len(plan.Refused) == 0 {
			t.Errorf("%s: accepted", name)
		}
		if err == nil {
			if _, err := s2.Import(ctx, plan, false, nil); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: import without skipping: %v", name, err)
			}
		}
	}
}

// TestAttackReceptionistExportsThePracticeInTheClear: a receptionist asks
// for the whole practice as a plaintext CSV. Refused: exports in the
// clear are an admin's decision; she exports encrypted.
func TestAttackReceptionistExportsThePracticeInTheClear(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	rita := signInOn(t, f, f.v, "Rita Front", recPass)
	defer rita.Lock(ctx)
	var buf bytes.Buffer
	if _, err := rita.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Plaintext: true}); !errors.Is(err, ErrNotPermitted) || buf.Len() != 0 {
		t.Fatalf("a receptionist's plaintext export: %v (%d bytes)", err, buf.Len())
	}
	if n, err := rita.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Passphrase: "harbour lantern quiet orchard"}); err != nil || n != 1 {
		t.Fatalf("a receptionist's encrypted export: %d %v", n, err)
	}
}
