package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// fhirPlan holds the clinical part of a FHIR import, keyed by the index
// of the patient row it belongs to.
type fhirPlan struct {
	encounters  map[int][]SOAP
	encTimes    map[int][]time.Time
	problems    map[int][]Problem
	allergies   map[int][]Allergy
	medications map[int][]Medication
	vitals      map[int][]Vitals
	clinical    int
}

type fhirResource map[string]any

func (r fhirResource) str(k string) string {
	s, _ := r[k].(string)
	return s
}

func (r fhirResource) obj(k string) fhirResource {
	m, _ := r[k].(map[string]any)
	return m
}

func (r fhirResource) list(k string) []fhirResource {
	arr, _ := r[k].([]any)
	var out []fhirResource
	for _, x := range arr {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func codeText(cc fhirResource) string {
	if t := cc.str("text"); t != "" {
		return t
	}
	for _, c := range cc.list("coding") {
		if d := c.str("display"); d != "" {
			return d
		}
		if c.str("code") != "" {
			return c.str("code")
		}
	}
	return ""
}

func loincOf(cc fhirResource) string {
	for _, c := range cc.list("coding") {
		if c.str("system") == "http://loinc.org" {
			return c.str("code")
		}
	}
	return ""
}

func fhirDate(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// nationalIdentifierSystems are the identifier systems of national health
// numbers (NHS England and Wales, Scotland's CHI, Australia's IHI, New
// Zealand's NHI, the Dutch BSN).
var nationalIdentifierSystems = map[string]bool{
	"https://fhir.nhs.uk/Id/nhs-number":               true,
	"https://fhir.nhs.scot/Id/chi-number":             true,
	"http://ns.electronichealth.net.au/id/hi/ihi/1.0": true,
	"https://standards.digital.health.nz/ns/nhi-id":   true,
	"http://fhir.nl/fhir/NamingSystem/bsn":            true,
	"urn:oid:2.16.840.1.113883.2.4.6.3":               true,
}

// nationalIdentifierTypes are the identifier types (HL7 v2 table 0203)
// of a national or jurisdictional health number; the export writes NH.
var nationalIdentifierTypes = map[string]bool{"NH": true, "JHN": true, "NI": true}

// fhirNationalNumber is the national health number among a Patient's
// identifiers: by its system, or by its type.
func fhirNationalNumber(ids []fhirResource) string {
	for _, id := range ids {
		if nationalIdentifierSystems[id.str("system")] && id.str("value") != "" {
			return id.str("value")
		}
	}
	for _, id := range ids {
		for _, c := range id.obj("type").list("coding") {
			if c.str("system") == v2IdentifierTypes && nationalIdentifierTypes[c.str("code")] && id.str("value") != "" {
				return id.str("value")
			}
		}
	}
	return ""
}

// fhirLanguage is the language a Patient prefers among its communication
// entries (the preferred one, else the first), as its text or coding.
func fhirLanguage(comms []fhirResource) string {
	for _, c := range comms {
		if pref, _ := c["preferred"].(bool); pref {
			return codeText(c.obj("language"))
		}
	}
	if len(comms) > 0 {
		return codeText(comms[0].obj("language"))
	}
	return ""
}

// planFHIR reads a FHIR R4 Bundle: Patient, Encounter, Condition,
// AllergyIntolerance, MedicationStatement and vital-sign Observation
// entries. Any entry that is not understood, or that refers to a patient
// missing from the bundle, is refused with its entry number.
func (s *Session) planFHIR(path string) (*ImportPlan, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b fhirResource
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%s is not JSON: %v: %w", filepath.Base(path), err, ErrUnreadableSheet)
	}
	if b.str("resourceType") != "Bundle" {
		return nil, fmt.Errorf("%s is not a FHIR Bundle (resourceType %q): %w", filepath.Base(path), b.str("resourceType"), ErrUnreadableSheet)
	}
	plan := &ImportPlan{File: path, Mapping: map[int]string{}}
	fp := &fhirPlan{encounters: map[int][]SOAP{}, encTimes: map[int][]time.Time{}, problems: map[int][]Problem{},
		allergies: map[int][]Allergy{}, medications: map[int][]Medication{}, vitals: map[int][]Vitals{}}
	plan.fhir = fp
	entries := b.list("entry")
	patientIndex := map[string]int{}
	// First the patients, so references resolve whatever the order.
	for i, e := range entries {
		r := e.obj("resource")
		if r.str("resourceType") != "Patient" {
			continue
		}
		p := Patient{DOB: r.str("birthDate"), Sex: r.str("gender")}
		names := r.list("name")
		for _, n := range names {
			if n.str("use") == "official" || p.Family == "" {
				p.Family = n.str("family")
				if g, ok := n["given"].([]any); ok && len(g) > 0 {
					p.Given, _ = g[0].(string)
				}
			}
			if n.str("use") == "usual" {
				if g, ok := n["given"].([]any); ok && len(g) > 0 {
					p.Preferred, _ = g[0].(string)
				}
			}
		}
		// Phones: use mobile (or an sms contact) is the mobile, use home
		// the home phone, any other fills what is left, in order.
		var phones []string
		for _, t := range r.list("telecom") {
			v := t.str("value")
			switch sys := t.str("system"); {
			case (sys == "phone" || sys == "sms") && v != "":
				switch {
				case (t.str("use") == "mobile" || sys == "sms") && p.Phone == "":
					p.Phone = v
				case t.str("use") == "home" && p.Phone2 == "":
					p.Phone2 = v
				default:
					phones = append(phones, v)
				}
			case sys == "email":
				p.Email = v
			}
		}
		for _, ph := range phones {
			if p.Phone == "" {
				p.Phone = ph
			} else if p.Phone2 == "" && ph != p.Phone {
				p.Phone2 = ph
			}
		}
		p.NationalNumber = fhirNationalNumber(r.list("identifier"))
		if a := r.list("address"); len(a) > 0 {
			p.Postcode = a[0].str("postalCode")
			p.Address = a[0].str("text")
			if p.Address == "" {
				var parts []string
				if lines, ok := a[0]["line"].([]any); ok {
					for _, l := range lines {
						if s, ok := l.(string); ok {
							parts = append(parts, s)
						}
					}
				}
				for _, k := range []string{"city", "country"} { // the postal code is its own field
					if v := a[0].str(k); v != "" {
						parts = append(parts, v)
					}
				}
				p.Address = strings.Join(parts, ", ")
			}
		}
		p.Language = fhirLanguage(r.list("communication"))
		row := ImportRow{Row: i + 1, Patient: p}
		if err := s.validatePatient(&row.Patient); err != nil {
			row.Problem = "Patient: " + strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
			plan.Refused = append(plan.Refused, row)
			continue
		}
		idx := len(plan.Rows)
		plan.Rows = append(plan.Rows, row)
		for _, key := range []string{e.str("fullUrl"), "Patient/" + r.str("id")} {
			if key != "" && key != "Patient/" {
				patientIndex[key] = idx
			}
		}
	}
	resolve := func(ref fhirResource) (int, bool) {
		i, ok := patientIndex[ref.str("reference")]
		return i, ok
	}
	for i, e := range entries {
		r := e.obj("resource")
		typ := r.str("resourceType")
		if typ == "Patient" {
			continue
		}
		refuse := func(msg string) {
			plan.Refused = append(plan.Refused, ImportRow{Row: i + 1, Problem: typ + ": " + msg})
		}
		subject := r.obj("subject")
		if typ == "AllergyIntolerance" {
			subject = r.obj("patient")
		}
		pi, ok := resolve(subject)
		switch typ {
		case "Encounter", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation":
			if !ok {
				refuse(fmt.Sprintf("refers to %q, which is not a patient in this bundle", subject.str("reference")))
				continue
			}
		default:
			refuse("this kind of resource is not imported")
			continue
		}
		fp.clinical++
		switch typ {
		case "Encounter":
			note := SOAP{Subjective: strings.TrimSpace(stripTags(r.obj("text").str("div")))}
			if note.Subjective == "" {
				note.Subjective = "Encounter imported from FHIR"
			}
			fp.encounters[pi] = append(fp.encounters[pi], note)
			t, _ := time.Parse(time.RFC3339, r.obj("period").str("start"))
			fp.encTimes[pi] = append(fp.encTimes[pi], t)
		case "Condition":
			pr := Problem{Description: codeText(r.obj("code")), Onset: fhirDate(r.str("onsetDateTime"))}
			for _, c := range r.obj("code").list("coding") {
				if strings.Contains(c.str("system"), "icd-10") {
					pr.ICD10 = c.str("code")
				}
			}
			if st := codeText(r.obj("clinicalStatus")); st == "resolved" || st == "inactive" {
				pr.Status = st
			}
			if pr.Description == "" {
				refuse("has no code or text")
				continue
			}
			fp.problems[pi] = append(fp.problems[pi], pr)
		case "AllergyIntolerance":
			a := Allergy{Substance: codeText(r.obj("code"))}
			if rs := r.list("reaction"); len(rs) > 0 {
				a.Severity = rs[0].str("severity")
				if ms := rs[0].list("manifestation"); len(ms) > 0 {
					a.Reaction = codeText(ms[0])
				}
			}
			if a.Substance == "" {
				refuse("has no substance")
				continue
			}
			fp.allergies[pi] = append(fp.allergies[pi], a)
		case "MedicationStatement":
			m := Medication{Name: codeText(r.obj("medicationCodeableConcept")), Start: fhirDate(r.obj("effectivePeriod").str("start")), Stop: fhirDate(r.obj("effectivePeriod").str("end"))}
			if ds := r.list("dosage"); len(ds) > 0 {
				m.Dose = ds[0].str("text")
			}
			if m.Name == "" {
				refuse("has no medication")
				continue
			}
			fp.medications[pi] = append(fp.medications[pi], m)
		case "Observation":
			v := Vitals{}
			v.TakenAt, _ = time.Parse(time.RFC3339, r.str("effectiveDateTime"))
			val := func(o fhirResource) (float64, bool) {
				q := o.obj("valueQuantity")
				f, ok := q["value"].(float64)
				return f, ok
			}
			code := loincOf(r.obj("code"))
			x, has := val(r)
			toInt := func(f float64) *int { n := int(f + 0.5); return &n }
			switch code {
			case loincBPPanel:
				for _, c := range r.list("component") {
					if f, ok := val(c); ok {
						switch loincOf(c.obj("code")) {
						case loincSystolic:
							v.Systolic = toInt(f)
						case loincDiastolic:
							v.Diastolic = toInt(f)
						}
					}
				}
			case loincPulse:
				if has {
					v.Pulse = toInt(x)
				}
			case loincTemp:
				if has {
					v.TempC = &x
				}
			case loincWeight:
				if has {
					v.WeightKg = &x
				}
			case loincHeight:
				if has {
					v.HeightCm = &x
				}
			case loincSpO2, "2708-6":
				if has {
					v.SpO2 = toInt(x)
				}
			default:
				refuse("only vital signs (LOINC " + strings.Join([]string{loincBPPanel, loincPulse, loincTemp, loincWeight, loincHeight, loincSpO2}, ", ") + ") are imported, not " + strconv.Quote(code))
				continue
			}
			fp.vitals[pi] = append(fp.vitals[pi], v)
		}
	}
	return plan, nil
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	out := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(b.String())
	return strings.Join(strings.Fields(out), " ")
}

// importFHIRClinical writes the clinical entries of a FHIR import for the
// patients just created (mrns in plan row order).
func (s *Session) importFHIRClinical(ctx context.Context, fp *fhirPlan, mrns []string) error {
	for i, mrn := range mrns {
		for _, n := range fp.encounters[i] {
			if _, err := s.AddEncounter(ctx, mrn, n); err != nil {
				return err
			}
		}
		for _, p := range fp.problems[i] {
			if err := s.AddProblem(ctx, mrn, p); err != nil {
				return err
			}
		}
		for _, a := range fp.allergies[i] {
			if err := s.AddAllergy(ctx, mrn, a); err != nil {
				return err
			}
		}
		for _, m := range fp.medications[i] {
			if err := s.AddMedication(ctx, mrn, m); err != nil {
				return err
			}
		}
		for _, v := range fp.vitals[i] {
			if err := s.AddVitals(ctx, mrn, v); err != nil {
				return err
			}
		}
	}
	return nil
}
