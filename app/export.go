package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"filippo.io/age"
)

// ExportFormat is what an export writes.
type ExportFormat string

// The export formats.
const (
	FormatFHIR ExportFormat = "fhir"
	FormatCSV  ExportFormat = "csv"
)

// ExportOptions say what to export and how to protect it. Exactly one of
// Passphrase, Recipient or Plaintext must be set; Plaintext is for when
// someone explicitly asks for an unencrypted file, and is audited as such.
type ExportOptions struct {
	Format     ExportFormat
	MRN        string // one patient; empty for the whole practice
	Passphrase string
	Recipient  string // an age recipient, age1…
	Plaintext  bool
}

// Export writes patients (with their charts, for clinicians) as a FHIR R4
// Bundle or CSV, encrypted with age unless Plaintext is asked for. It
// returns how many patients it wrote.
func (s *Session) Export(ctx context.Context, w io.Writer, o ExportOptions) (int, error) {
	if err := s.require(); err != nil {
		return 0, err
	}
	set := 0
	for _, b := range []bool{o.Passphrase != "", o.Recipient != "", o.Plaintext} {
		if b {
			set++
		}
	}
	if set != 1 {
		return 0, fmt.Errorf("choose one: a passphrase, an age recipient, or an explicit plaintext export: %w", ErrUsage)
	}
	// Patient data in the clear leaves the vault only on an admin's
	// decision; everyone else exports encrypted.
	if o.Plaintext && s.User().Role != Admin {
		return 0, fmt.Errorf("an export without encryption is an admin's decision; export with a passphrase or a recipient key instead: %w", ErrNotPermitted)
	}
	var mrns []string
	if o.MRN != "" {
		mrns = []string{o.MRN}
	} else {
		s.mu.Lock()
		all, err := queryAll(ctx, s.general, scanString, `SELECT mrn FROM patients WHERE archived = 0 ORDER BY family, given`)
		s.mu.Unlock()
		if err != nil {
			return 0, err
		}
		mrns = all
	}
	var charts []*Chart
	for _, m := range mrns {
		c, err := s.loadChartForExport(ctx, m)
		if err != nil {
			return 0, err
		}
		charts = append(charts, c)
	}
	var body bytes.Buffer
	switch o.Format {
	case FormatFHIR:
		b, err := FHIRBundle(charts, s.v.now())
		if err != nil {
			return 0, err
		}
		body.Write(b)
	case FormatCSV:
		if err := writePatientsCSV(&body, charts); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("format %q: use fhir or csv: %w", o.Format, ErrUsage)
	}
	out := w
	var closer io.Closer
	switch {
	case o.Passphrase != "":
		if err := s.v.CheckPassphrase(o.Passphrase, s.User().Name, s.Practice()); err != nil {
			return 0, fmt.Errorf("the export passphrase: %w", err)
		}
		r, err := age.NewScryptRecipient(o.Passphrase)
		if err != nil {
			return 0, err
		}
		enc, err := age.Encrypt(w, r)
		if err != nil {
			return 0, err
		}
		out, closer = enc, enc
	case o.Recipient != "":
		r, err := age.ParseX25519Recipient(strings.TrimSpace(o.Recipient))
		if err != nil {
			return 0, fmt.Errorf("age recipient: %v: %w", err, ErrUsage)
		}
		enc, err := age.Encrypt(w, r)
		if err != nil {
			return 0, err
		}
		out, closer = enc, enc
	}
	if _, err := out.Write(body.Bytes()); err != nil {
		return 0, err
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return 0, err
		}
	}
	protection := "age-encrypted to a passphrase"
	switch {
	case o.Recipient != "":
		protection = "age-encrypted to " + o.Recipient
	case o.Plaintext:
		protection = "PLAINTEXT, explicitly requested"
	}
	scope := "whole practice"
	if o.MRN != "" {
		scope = o.MRN
	}
	return len(charts), s.write(ctx, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "export", scope, fmt.Sprintf("%s, %d patient(s), %s", o.Format, len(charts), protection))
	})
}

// loadChartForExport reads a chart without auditing each view (the export
// itself is audited once).
func (s *Session) loadChartForExport(ctx context.Context, mrn string) (*Chart, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.patientByMRN(ctx, s.general, mrn)
	if err != nil {
		return nil, err
	}
	c := &Chart{Patient: p}
	if s.clinical != nil && s.user.Role.Clinical() {
		if err := s.mayOpenClinical(ctx, p.ID); err != nil {
			return c, nil // restricted: demographics only
		}
		ids, err := patientIDs(ctx, s.general, p.ID)
		if err != nil {
			return nil, err
		}
		c.Clinical = true
		if err := s.loadClinical(ctx, c, placeholders(len(ids)), anySlice(ids)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// writePatientsCSV writes one row per patient: the fields patientTable
// gives an export header, in its order (a new field's column comes after
// the others: the columns of earlier exports keep their places). Yes/no
// fields are written yes or no.
func writePatientsCSV(w io.Writer, charts []*Chart) error {
	var cols []*patientField
	var header []string
	for i := range patientTable {
		if f := &patientTable[i]; f.export != "" {
			cols, header = append(cols, f), append(header, f.export)
		}
	}
	cw := csv.NewWriter(w)
	cw.Write(header)
	for _, c := range charts {
		row := make([]string, len(cols))
		for i, f := range cols {
			switch v := f.value(&c.Patient).(type) {
			case string:
				row[i] = v
			case bool:
				row[i] = map[bool]string{true: "yes", false: "no"}[v]
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// LOINC codes of the vital signs, as FHIR's vital-signs profile names them.
const (
	loincBPPanel   = "85354-9"
	loincSystolic  = "8480-6"
	loincDiastolic = "8462-4"
	loincPulse     = "8867-4"
	loincTemp      = "8310-5"
	loincWeight    = "29463-7"
	loincHeight    = "8302-2"
	loincSpO2      = "59408-5"
)

type fhirObj = map[string]any

func coding(system, code, display string) fhirObj {
	return fhirObj{"system": system, "code": code, "display": display}
}

func quantity(v float64, unit, code string) fhirObj {
	return fhirObj{"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}
}

func ref(id string) fhirObj { return fhirObj{"reference": "urn:uuid:" + id} }

// v2IdentifierTypes is HL7's code system of identifier types (v2 table
// 0203); NH is a national health number.
const v2IdentifierTypes = "http://terminology.hl7.org/CodeSystem/v2-0203"

// FHIRBundle renders charts as a FHIR R4 Bundle of type collection: a
// Patient per chart and, for clinical charts, Encounter, Condition,
// AllergyIntolerance, MedicationStatement and vital-sign Observations
// (LOINC-coded), referencing each other by their full URLs.
func FHIRBundle(charts []*Chart, now time.Time) ([]byte, error) {
	var entries []fhirObj
	add := func(id string, res fhirObj) {
		res["id"] = id
		entries = append(entries, fhirObj{"fullUrl": "urn:uuid:" + id, "resource": res})
	}
	vitalsCat := []fhirObj{{"coding": []fhirObj{coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")}}}
	for _, c := range charts {
		p := c.Patient
		ids := []fhirObj{{"system": "urn:clinicvault:mrn", "value": p.MRN}}
		if p.NationalNumber != "" {
			// The number's system depends on the country, which the
			// practice does not record: typed as a national health number.
			ids = append(ids, fhirObj{"use": "official", "value": p.NationalNumber,
				"type": fhirObj{"coding": []fhirObj{coding(v2IdentifierTypes, "NH", "National Health Plan Identifier")}, "text": "National health number"}})
		}
		pat := fhirObj{"resourceType": "Patient",
			"identifier": ids,
			"name":       []fhirObj{{"use": "official", "family": p.Family, "given": []string{p.Given}}},
			"birthDate":  p.DOB,
			"active":     !p.Archived,
		}
		if p.Preferred != "" {
			pat["name"] = append(pat["name"].([]fhirObj), fhirObj{"use": "usual", "given": []string{p.Preferred}})
		}
		if p.Sex != "" {
			pat["gender"] = p.Sex
		}
		var telecom []fhirObj
		for _, ph := range []struct{ v, use string }{{p.Phone, "mobile"}, {p.Phone2, "home"}} {
			if ph.v != "" {
				telecom = append(telecom, fhirObj{"system": "phone", "value": ph.v, "use": ph.use})
			}
		}
		if p.Email != "" {
			telecom = append(telecom, fhirObj{"system": "email", "value": p.Email})
		}
		if len(telecom) > 0 {
			pat["telecom"] = telecom
		}
		if p.Address != "" || p.Postcode != "" {
			addr := fhirObj{}
			if p.Address != "" {
				addr["text"] = p.Address
			}
			if p.Postcode != "" {
				addr["postalCode"] = p.Postcode
			}
			pat["address"] = []fhirObj{addr}
		}
		if p.Language != "" { // as typed: the practice does not code it
			pat["communication"] = []fhirObj{{"language": fhirObj{"text": p.Language}, "preferred": true}}
		}
		add(p.ID, pat)
		subject := ref(p.ID)
		for _, e := range c.Encounters {
			var div strings.Builder
			div.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
			for _, sec := range []struct{ k, v string }{{"Subjective", e.Subjective}, {"Objective", e.Objective}, {"Assessment", e.Assessment}, {"Plan", e.Plan}} {
				if sec.v != "" {
					fmt.Fprintf(&div, "<p><b>%s:</b> %s</p>", sec.k, html.EscapeString(sec.v))
				}
			}
			for _, a := range e.Addenda {
				fmt.Fprintf(&div, "<p><b>Addendum %s:</b> %s</p>", a.Created.UTC().Format(time.RFC3339), html.EscapeString(a.Text))
			}
			div.WriteString("</div>")
			enc := fhirObj{"resourceType": "Encounter", "status": "finished",
				"class":   coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
				"subject": subject, "period": fhirObj{"start": e.SeenAt.UTC().Format(time.RFC3339)},
				"text": fhirObj{"status": "generated", "div": div.String()}}
			add(e.ID, enc)
		}
		for _, pr := range c.Problems {
			code := fhirObj{"text": pr.Description}
			if pr.ICD10 != "" {
				code["coding"] = []fhirObj{coding("http://hl7.org/fhir/sid/icd-10", pr.ICD10, pr.Description)}
			}
			status := map[string]string{"active": "active", "inactive": "inactive", "resolved": "resolved"}[pr.Status]
			cond := fhirObj{"resourceType": "Condition", "subject": subject, "code": code,
				"clinicalStatus": fhirObj{"coding": []fhirObj{coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, status)}}}
			if pr.Onset != "" {
				cond["onsetDateTime"] = pr.Onset
			}
			add(pr.ID, cond)
		}
		for _, a := range c.Allergies {
			al := fhirObj{"resourceType": "AllergyIntolerance", "patient": subject, "code": fhirObj{"text": a.Substance}}
			if a.Reaction != "" || a.Severity != "" {
				r := fhirObj{"manifestation": []fhirObj{{"text": orDash(a.Reaction)}}}
				if a.Severity != "" {
					r["severity"] = a.Severity
				}
				al["reaction"] = []fhirObj{r}
			}
			add(a.ID, al)
		}
		for _, m := range c.Medications {
			status := "active"
			if m.Stop != "" {
				status = "completed"
			}
			ms := fhirObj{"resourceType": "MedicationStatement", "status": status, "subject": subject,
				"medicationCodeableConcept": fhirObj{"text": m.Name}}
			if dose := strings.TrimSpace(strings.Join([]string{m.Dose, m.Route, m.Frequency}, " ")); dose != "" {
				ms["dosage"] = []fhirObj{{"text": dose}}
			}
			if m.Start != "" || m.Stop != "" {
				per := fhirObj{}
				if m.Start != "" {
					per["start"] = m.Start
				}
				if m.Stop != "" {
					per["end"] = m.Stop
				}
				ms["effectivePeriod"] = per
			}
			add(m.ID, ms)
		}
		for _, v := range c.Vitals {
			at := v.TakenAt.UTC().Format(time.RFC3339)
			obs := func(id string, code fhirObj, extra fhirObj) {
				o := fhirObj{"resourceType": "Observation", "status": "final", "category": vitalsCat, "code": code, "subject": subject, "effectiveDateTime": at}
				for k, x := range extra {
					o[k] = x
				}
				add(id, o)
			}
			loinc := func(code, display string) fhirObj {
				return fhirObj{"coding": []fhirObj{coding("http://loinc.org", code, display)}, "text": display}
			}
			if v.Systolic != nil && v.Diastolic != nil {
				obs(v.ID+"-bp", loinc(loincBPPanel, "Blood pressure panel"), fhirObj{"component": []fhirObj{
					{"code": loinc(loincSystolic, "Systolic blood pressure"), "valueQuantity": quantity(float64(*v.Systolic), "mmHg", "mm[Hg]")},
					{"code": loinc(loincDiastolic, "Diastolic blood pressure"), "valueQuantity": quantity(float64(*v.Diastolic), "mmHg", "mm[Hg]")},
				}})
			}
			if v.Pulse != nil {
				obs(v.ID+"-pulse", loinc(loincPulse, "Heart rate"), fhirObj{"valueQuantity": quantity(float64(*v.Pulse), "beats/minute", "/min")})
			}
			if v.TempC != nil {
				obs(v.ID+"-temp", loinc(loincTemp, "Body temperature"), fhirObj{"valueQuantity": quantity(*v.TempC, "C", "Cel")})
			}
			if v.WeightKg != nil {
				obs(v.ID+"-weight", loinc(loincWeight, "Body weight"), fhirObj{"valueQuantity": quantity(*v.WeightKg, "kg", "kg")})
			}
			if v.HeightCm != nil {
				obs(v.ID+"-height", loinc(loincHeight, "Body height"), fhirObj{"valueQuantity": quantity(*v.HeightCm, "cm", "cm")})
			}
			if v.SpO2 != nil {
				obs(v.ID+"-spo2", loinc(loincSpO2, "Oxygen saturation in Blood"), fhirObj{"valueQuantity": quantity(float64(*v.SpO2), "%", "%")})
			}
		}
	}
	bundle := fhirObj{"resourceType": "Bundle", "type": "collection", "timestamp": now.UTC().Format(time.RFC3339), "entry": entries}
	if entries == nil {
		bundle["entry"] = []fhirObj{}
	}
	return json.MarshalIndent(bundle, "", "  ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
