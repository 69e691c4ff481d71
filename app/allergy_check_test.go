package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinicvault/clinicvault/assets"
)

// TestDrugTableIsWellFormed: every drug row has an ATC code of the right
// shape, and every class a drug names is a declared class.
func TestDrugTableIsWellFormed(t *testing.T) {
	tab := theDrugTable()
	classes := map[string]bool{}
	for _, c := range tab.classes {
		classes[c] = true
	}
	seen := 0
	for _, line := range strings.Split(assets.DrugAllergyClasses(), "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if f[0] != "drug" {
			continue
		}
		seen++
		if len(f) != 6 {
			t.Errorf("drug row %q: %d fields, want 6", line, len(f))
			continue
		}
		if len(f[3]) != 7 || f[3][0] < 'A' || f[3][0] > 'Z' {
			t.Errorf("%s: ATC code %q is not of the form A00AA00", f[1], f[3])
		}
		for _, c := range append(strings.Split(f[4], "|"), strings.Split(f[5], "|")...) {
			if c != "" && !classes[c] {
				t.Errorf("%s names class %q, which no class row declares", f[1], c)
			}
		}
	}
	if seen < 60 {
		t.Errorf("only %d drugs in the table", seen)
	}
}

func TestAllergyConflicts(t *testing.T) {
	tab := theDrugTable()
	anaphylaxis := Allergy{Substance: "Penicillin", Reaction: "anaphylaxis", Severity: "severe"}
	for _, c := range []struct {
		med       string
		allergies []Allergy
		want      string // "" for none; else the class, "same", or "cross:<class>"
	}{
		{"Penicillin V", []Allergy{anaphylaxis}, "penicillins"},
		{"Amoxicillin 500 mg capsules", []Allergy{anaphylaxis}, "penicillins"},
		{"co-amoxiclav", []Allergy{{Substance: "PCN"}}, "penicillins"},
		{"Cefalexin", []Allergy{anaphylaxis}, "cross:cephalosporins"},
		{"Meropenem", []Allergy{{Substance: "penicillins"}}, "cross:carbapenems"},
		{"Septrin", []Allergy{{Substance: "Sulfa drugs"}}, "sulfonamides"},
		{"Trimethoprim", []Allergy{{Substance: "Sulfa drugs"}}, ""},
		{"Ibuprofen 400mg", []Allergy{{Substance: "Aspirin", Reaction: "bronchospasm"}}, "nsaids"},
		{"Naproxen", []Allergy{{Substance: "NSAIDs"}}, "nsaids"},
		{"Codeine phosphate", []Allergy{{Substance: "morphine"}}, "opioids"},
		{"Clarithromycin", []Allergy{{Substance: "Erythromycin"}}, "macrolides"},
		{"Ramipril", []Allergy{{Substance: "ACE inhibitors", Reaction: "angioedema"}}, "ace inhibitors"},
		{"Paracetamol", []Allergy{anaphylaxis, {Substance: "NSAIDs"}}, ""},
		{"Amoxicillin", []Allergy{{Substance: "amoxicillin"}}, "same"},
		{"Zapomycin forte", []Allergy{{Substance: "zapomycin"}}, "same"},
		{"Metformin", []Allergy{anaphylaxis, {Substance: "Latex"}}, ""},
	} {
		got := tab.conflicts(c.med, c.allergies)
		var desc string
		if len(got) > 0 {
			switch {
			case got[0].CrossReactivity:
				desc = "cross:" + got[0].Class
			case got[0].Class == "":
				desc = "same"
			default:
				desc = got[0].Class
			}
		}
		if desc != c.want {
			t.Errorf("%s with %v: %q (%v), want %q", c.med, c.allergies, desc, got, c.want)
		}
	}
}

// TestPrescribingOverAnAllergy: Penicillin V for a patient with a
// recorded penicillin anaphylaxis is refused with the allergy named;
// given a reason it is saved, the reason kept and the override audited.
func TestPrescribingOverAnAllergy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, _ := s.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err := s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "anaphylaxis", Severity: "severe"}); err != nil {
		t.Fatal(err)
	}
	err := s.AddMedication(ctx, p.MRN, Medication{Name: "Penicillin V", Dose: "500 mg"})
	var conflict *AllergyConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, ErrAllergyConflict) || !strings.Contains(err.Error(), "allergic to Penicillin (anaphylaxis, severe)") {
		t.Fatalf("Penicillin V for a penicillin anaphylaxis: %v", err)
	}
	c, _ := s.OpenChart(ctx, p.MRN)
	if len(c.Medications) != 0 {
		t.Fatal("the conflicting medication was saved")
	}
	if got, err := s.MedicationConflicts(ctx, p.MRN, "amoxicillin"); err != nil || len(got) != 1 {
		t.Fatalf("the check before saving: %v %v", got, err)
	}
	if err := s.AddMedication(ctx, p.MRN, Medication{Name: "Penicillin V", Dose: "500 mg", OverrideReason: "desensitised by the allergy clinic, letter scanned"}); err != nil {
		t.Fatal(err)
	}
	var reason string
	s.clinical.QueryRow(`SELECT allergy_override FROM medications`).Scan(&reason)
	if reason != "desensitised by the allergy clinic, letter scanned" {
		t.Errorf("override reason kept: %q", reason)
	}
	var audited int
	s.general.QueryRow(`SELECT count(*) FROM audit WHERE action = 'medication-allergy-override'`).Scan(&audited)
	if audited != 1 {
		t.Error("the override was not audited")
	}
	if err := s.AddMedication(ctx, p.MRN, Medication{Name: "Metformin"}); err != nil {
		t.Fatalf("a medication without conflict: %v", err)
	}
}
