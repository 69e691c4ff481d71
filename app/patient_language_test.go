package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

// TestPreferredLanguage: a patient's preferred language is kept as typed
// (trimmed), changed with its history, refused by field when it is not
// text, imported from a "Language" or "Preferred language" column (left
// out, with a warning, when too long), exported in the CSV's last column
// and in FHIR as Patient.communication.language.text, and read back from
// both. (Sync: TestEveryPatientFieldReachesTheOtherComputer.)
func TestPreferredLanguage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	p, _, err := s.AddPatient(ctx, Patient{Given: "Ewa", Family: "Nowak", DOB: "1961-04-09", Language: "  Polish "})
	if err != nil || p.Language != "Polish" {
		t.Fatalf("registered: %v %+v", err, p)
	}
	if p, err = s.EditPatient(ctx, p.MRN, PatientChanges{Language: Str("Polish (reads English)")}); err != nil || p.Language != "Polish (reads English)" {
		t.Fatalf("edited: %v %+v", err, p)
	}
	if _, err := s.EditPatient(ctx, p.MRN, PatientChanges{Language: Str("Pol\x00ish")}); fieldOf(err) != FieldLanguage {
		t.Fatalf("a control character: %v (field %q)", err, fieldOf(err))
	}
	hist, _ := s.History(ctx, "patients", p.ID)
	var langs []string
	for _, h := range hist {
		if h.Column == "language" {
			langs = append(langs, *h.Value)
		}
	}
	if strings.Join(langs, "|") != "Polish|Polish (reads English)" {
		t.Errorf("history of the language: %q", langs)
	}

	var buf bytes.Buffer
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v %q", err, buf.String())
	}
	if last := len(recs[0]) - 1; recs[0][last] != "Preferred Language" || recs[1][last] != "Polish (reads English)" {
		t.Errorf("csv: %q / %q", recs[0], recs[1])
	}
	// Planned again here, the exported patient is one already registered.
	plan, err := s.PlanImport(ctx, writeFile(t, "export.csv", buf.Bytes()))
	if err != nil || len(plan.Registered) != 1 || plan.Registered[0].Patient.Language != "Polish (reads English)" {
		t.Fatalf("re-import of the CSV: %v %+v", err, plan)
	}

	sheet := "First Name,Last Name,DOB,Language\n" +
		"Tesfay,Haile,1988-01-02,Tigrinya\n" +
		"Long,Winded,1988-01-03," + strings.Repeat("x", maxNameRunes+1) + "\n"
	plan, err = s.PlanImport(ctx, writeFile(t, "langs.csv", []byte(sheet)))
	if err != nil || len(plan.Rows) != 2 {
		t.Fatalf("sheet: %v %+v", err, plan)
	}
	if got := plan.Rows[0].Patient.Language; got != "Tigrinya" {
		t.Errorf("a Language column: %q", got)
	}
	if r := plan.Rows[1]; r.Patient.Language != "" || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "preferred language") {
		t.Errorf("too long a language: %q %v", r.Patient.Language, r.Warnings)
	}
	plan, err = s.PlanImport(ctx, writeFile(t, "pref.csv", []byte("Surname,Forename,Date of Birth,Preferred language\nHaile,Ruta,1990-02-03,Amharic\n")))
	if err != nil || len(plan.Rows) != 1 || plan.Rows[0].Patient.Language != "Amharic" {
		t.Fatalf("a Preferred language column: %v %+v", err, plan)
	}

	buf.Reset()
	if _, err := s.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, MRN: p.MRN, Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Communication []struct {
					Language  struct{ Text string }
					Preferred bool
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &bundle); err != nil || len(bundle.Entry) != 1 {
		t.Fatalf("bundle: %v", err)
	}
	if c := bundle.Entry[0].Resource.Communication; len(c) != 1 || c[0].Language.Text != "Polish (reads English)" || !c[0].Preferred {
		t.Errorf("communication %+v", c)
	}
	validR4(t, buf.Bytes())
	plan, err = s.PlanImport(ctx, writeFile(t, "bundle.json", buf.Bytes()))
	if err != nil || len(plan.Rows) != 1 || plan.Rows[0].Patient.Language != "Polish (reads English)" {
		t.Fatalf("the bundle read back: %v %+v", err, plan)
	}
	coded := `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient",
		"name":[{"family":"Tran","given":["Minh"]}],"birthDate":"1975-02-03",
		"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en"}]}},
			{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"vi","display":"Vietnamese"}]},"preferred":true}]}}]}`
	plan, err = s.PlanImport(ctx, writeFile(t, "coded.json", []byte(coded)))
	if err != nil || len(plan.Rows) != 1 || plan.Rows[0].Patient.Language != "Vietnamese" {
		t.Fatalf("a coded, preferred language: %v %+v", err, plan)
	}
}
