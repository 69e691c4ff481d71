package app

import (
	"context"
	"errors"
	"testing"
)

// TestCorrectingTheChart: an allergy recorded on the wrong patient is
// marked entered in error (it leaves the chart and the allergy check, and
// its history keeps it and the reason); a medication is stopped; a
// problem resolved; renaming a medication into one the patient is
// allergic to needs a reason, as a new one does.
func TestCorrectingTheChart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, _ := s.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "rash"}))
	must(s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Latex"}))
	must(s.AddMedication(ctx, p.MRN, Medication{Name: "Metformin", Dose: "500 mg"}))
	must(s.AddProblem(ctx, p.MRN, Problem{Description: "Type 2 diabetes"}))
	c, _ := s.OpenChart(ctx, p.MRN)
	pen, med, prob := c.Allergies[0], c.Medications[0], c.Problems[0]
	if pen.Substance != "Penicillin" {
		pen = c.Allergies[1]
	}

	// The penicillin allergy belonged to another patient.
	if err := s.CorrectRecord(ctx, p.MRN, "allergies", pen.ID, Correction{EnteredInError: "x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("entered in error without a reason: %v", err)
	}
	must(s.CorrectRecord(ctx, p.MRN, "allergies", pen.ID, Correction{EnteredInError: "recorded on the wrong patient (her sister)"}))
	c, _ = s.OpenChart(ctx, p.MRN)
	if len(c.Allergies) != 1 || c.Allergies[0].Substance != "Latex" {
		t.Fatalf("allergies after the correction: %+v", c.Allergies)
	}
	if got, _ := s.MedicationConflicts(ctx, p.MRN, "Amoxicillin"); len(got) != 0 {
		t.Errorf("an allergy entered in error still stops prescribing: %v", got)
	}
	hist, err := s.History(ctx, "allergies", pen.ID)
	if err != nil || len(hist) < 2 {
		t.Fatalf("the allergy's history: %v %+v", err, hist)
	}
	if err := s.CorrectRecord(ctx, p.MRN, "allergies", pen.ID, Correction{Set: map[string]string{"reaction": "hives"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a record entered in error was corrected again: %v", err)
	}

	// Stop the medication, resolve the problem.
	must(s.CorrectRecord(ctx, p.MRN, "medications", med.ID, Correction{Set: map[string]string{"stop_date": "2026-02-01"}}))
	must(s.CorrectRecord(ctx, p.MRN, "problems", prob.ID, Correction{Set: map[string]string{"status": "resolved"}}))
	c, _ = s.OpenChart(ctx, p.MRN)
	if c.Medications[0].Stop != "2026-02-01" || c.Problems[0].Status != "resolved" {
		t.Fatalf("after stopping and resolving: %+v %+v", c.Medications, c.Problems)
	}

	// Latex is real; a medication renamed to a latex... no drug: use a
	// penicillin allergy recorded again, properly.
	must(s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "anaphylaxis"}))
	var conflict *AllergyConflictError
	if err := s.CorrectRecord(ctx, p.MRN, "medications", med.ID, Correction{Set: map[string]string{"name": "Amoxicillin"}}); !errors.As(err, &conflict) {
		t.Fatalf("renaming into a conflicting drug: %v", err)
	}
	if err := s.CorrectRecord(ctx, p.MRN, "patients", p.ID, Correction{Set: map[string]string{"given": "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a patient corrected through this door: %v", err)
	}
}
