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
