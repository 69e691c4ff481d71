package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

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
	var b bytes.Buffer
	f := newFHIRStream(&b, now)
	for _, c := range charts {
		if err := f.add(c); err != nil {
			return nil, err
		}
	}
	if err := f.close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fhirStream writes a FHIR Bundle a chart at a time, byte for byte as
// json.MarshalIndent(bundle, "", "  ") would write it whole (its keys
// sorted: entry comes before the bundle's other fields).
type fhirStream struct {
	w       io.Writer
	now     time.Time
	entries int
	err     error
}

func newFHIRStream(w io.Writer, now time.Time) *fhirStream {
	f := &fhirStream{w: w, now: now}
	_, f.err = io.WriteString(w, "{\n  \"entry\": [")
	return f
}

func (f *fhirStream) add(c *Chart) error {
	chartResources(c, func(id string, res fhirObj) {
		if f.err != nil {
			return
		}
		res["id"] = id
		b, err := json.MarshalIndent(fhirObj{"fullUrl": "urn:uuid:" + id, "resource": res}, "    ", "  ")
		if err != nil {
			f.err = err
			return
		}
		sep := ",\n    "
		if f.entries == 0 {
			sep = "\n    "
		}
		f.entries++
		if _, err := io.WriteString(f.w, sep); err != nil {
			f.err = err
			return
		}
		_, f.err = f.w.Write(b)
	})
	return f.err
}

func (f *fhirStream) close() error {
	if f.err != nil {
		return f.err
	}
	end := "\n  ]"
	if f.entries == 0 {
		end = "]"
	}
	ts, _ := json.Marshal(f.now.UTC().Format(time.RFC3339))
	_, f.err = fmt.Fprintf(f.w, "%s,\n  \"resourceType\": \"Bundle\",\n  \"timestamp\": %s,\n  \"type\": \"collection\"\n}", end, ts)
	return f.err
}

// vitalsCategory is the category of every vital-sign Observation.
var vitalsCategory = []fhirObj{{"coding": []fhirObj{coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")}}}

// chartResources gives add the FHIR resources of one chart, each with its id.
func chartResources(c *Chart, add func(id string, res fhirObj)) {
	vitalsCat := vitalsCategory
	{
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
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
