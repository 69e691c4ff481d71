package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestFHIRExportIsValidR4 validates an export with every resource type
// ClinicVault writes against the official HL7 R4 JSON schema.
func TestFHIRExportIsValidR4(t *testing.T) {
	schema := r4Schema(t)

	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, _ := s.AddPatient(ctx, Patient{Given: "José", Family: "Núñez", Preferred: "Pepe", DOB: "1980-03-02", Sex: "male",
		Phone: "555 0100", Phone2: "555 0101", Email: "j@example.org", Address: "1 High St, Riverside"})
	e, _ := s.AddEncounter(ctx, p.MRN, SOAP{Subjective: "cough <3 days> & fever", Plan: "fluids"})
	s.SignEncounter(ctx, p.MRN, e.ID)
	s.AddAddendum(ctx, p.MRN, e.ID, "culture negative")
	s.AddProblem(ctx, p.MRN, Problem{Description: "Hypertension", ICD10: "I10", Onset: "2015-01-01"})
	s.AddProblem(ctx, p.MRN, Problem{Description: "Old fracture", Status: "resolved"})
	s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin", Reaction: "rash", Severity: "severe"})
	s.AddAllergy(ctx, p.MRN, Allergy{Substance: "Latex"})
	s.AddMedication(ctx, p.MRN, Medication{Name: "Amlodipine", Dose: "5 mg", Route: "oral", Frequency: "daily", Start: "2015-01-01", Stop: "2020-01-01"})
	s.AddVitals(ctx, p.MRN, Vitals{Systolic: ip(130), Diastolic: ip(85), Pulse: ip(70), TempC: fp(37.2), WeightKg: fp(80), HeightCm: fp(178), SpO2: ip(98)})
	s.AddPatient(ctx, Patient{Given: "Li", Family: "Wěi", DOB: "2001-12-31"})
	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("the export is not valid FHIR R4:\n%v", err)
	}
	// And the schema does reject what is not FHIR (the check has teeth).
	var bad map[string]any
	json.Unmarshal(buf.Bytes(), &bad)
	bad["type"] = "not-a-bundle-type"
	b, _ := json.Marshal(bad)
	inst, _ = jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err := schema.Validate(inst); err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("an invalid bundle passed: %v", err)
	}
}

// r4Schema is the official HL7 R4 JSON schema, compiled.
func r4Schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile("testdata/fhir.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("fhir.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("fhir.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

// validR4 checks a bundle against the official HL7 R4 JSON schema.
func validR4(t *testing.T, bundle []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if err := r4Schema(t).Validate(inst); err != nil {
		t.Fatalf("not valid FHIR R4:\n%v", err)
	}
}
