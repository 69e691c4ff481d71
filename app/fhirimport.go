package app

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// fhirPlan is what a FHIR import keeps of its clinical entries: how
// many will be written (each is read again from the bundle, which must be
// the one previewed).
type fhirPlan struct {
	clinical int
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
// missing from the bundle, is refused with its entry number. The bundle
// is read as a stream, twice (the patients first, so that references
// resolve whatever the order), one entry at a time.
func (s *Session) planFHIR(path string) (*ImportPlan, error) {
	plan := &ImportPlan{File: path, Mapping: map[int]string{}, skip: map[int]struct{}{}, fhir: &fhirPlan{}}
	patients := map[string]int{} // references to the bundle's valid patients -> their entry
	shared := map[string]bool{}  // references two of its patients are known by
	first, err := fhirEntries(path, func(i int, e fhirResource) error {
		r := e.obj("resource")
		if r.str("resourceType") != "Patient" {
			return nil
		}
		row := ImportRow{Row: i + 1, Patient: fhirPatient(r)}
		if err := s.validatePatient(&row.Patient); err != nil {
			row.Problem = "Patient: " + strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())
			plan.refuse(row)
			return nil
		}
		// A reference names one patient: a second known by it is
		// refused, and so is every entry referring to it (filed in the
		// chart of the last of them, an allergy was another patient's).
		keys := fhirPatientKeys(e)
		for _, key := range keys {
			if other, ok := patients[key]; ok {
				shared[key] = true
				row.Problem = fmt.Sprintf("Patient: known by %q, as entry %d is: a reference must name one patient", key, other)
			}
		}
		if row.Problem != "" {
			plan.refuse(row)
			return nil
		}
		plan.take(row)
		for _, key := range keys {
			patients[key] = i + 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	second, err := fhirEntries(path, func(i int, e fhirResource) error {
		r := e.obj("resource")
		typ := r.str("resourceType")
		if typ == "Patient" {
			return nil
		}
		if shared[fhirSubject(r)] {
			plan.refuse(ImportRow{Row: i + 1, Problem: fmt.Sprintf("%s: refers to %q, which more than one patient in this bundle is known by", typ, fhirSubject(r))})
			return nil
		}
		if _, problem := fhirClinical(r, func(ref string) bool { _, ok := patients[ref]; return ok }); problem != "" {
			plan.refuse(ImportRow{Row: i + 1, Problem: typ + ": " + problem})
			return nil
		}
		plan.fhir.clinical++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if first != second {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), ErrImportFileChanged)
	}
	plan.digest = first
	return plan, nil
}

// fhirEntries calls fn with each entry of a bundle's "entry" array that
// is an object, and its index, decoding one at a time; it returns the
// SHA-256 of the whole file. A file that is not JSON, or not a Bundle,
// is an ErrUnreadableSheet.
func fhirEntries(path string, fn func(i int, e fhirResource) error) (digest [32]byte, err error) {
	name := filepath.Base(path)
	f, err := openImportFile(path)
	if err != nil {
		return digest, err
	}
	defer f.Close()
	h := sha256.New()
	g := &recordGuard{r: io.TeeReader(f, h), limit: maxImportEntry}
	dec := json.NewDecoder(bufio.NewReaderSize(g, 64<<10))
	notJSON := func(err error) error {
		if errors.Is(err, errRecordTooLarge) {
			return fhirTooLarge(path)
		}
		return fmt.Errorf("%s is not JSON: %v: %w", name, err, ErrUnreadableSheet)
	}
	entries := false
	if t, err := dec.Token(); err != nil {
		return digest, notJSON(err)
	} else if t != json.Delim('{') {
		return digest, fmt.Errorf("%s is not a FHIR Bundle (resourceType \"\"): %w", name, ErrUnreadableSheet)
	}
	resourceType := ""
	for dec.More() {
		g.start = dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return digest, notJSON(err)
		}
		switch t {
		case "resourceType":
			var v any
			if err := dec.Decode(&v); err != nil {
				return digest, notJSON(err)
			}
			resourceType, _ = v.(string)
		case "entry":
			// One list of entries, numbered once: a second "entry" numbered
			// its entries from 1 again (two entries, one number in the
			// preview's skip set), and a value that was not a list was left
			// half read, its own keys then read as the bundle's ("entry":
			// {"entry": [...]} hid its entries from the count).
			if entries {
				return digest, fmt.Errorf("%s is not a FHIR Bundle: it has two lists of entries: %w", name, ErrUnreadableSheet)
			}
			entries = true
			if t, err := dec.Token(); err != nil {
				return digest, notJSON(err)
			} else if t != json.Delim('[') {
				if t == nil {
					continue // "entry": null: there are none
				}
				return digest, fmt.Errorf("%s is not a FHIR Bundle: its entries are not a list: %w", name, ErrUnreadableSheet)
			}
			for i := 0; dec.More(); i++ {
				g.start = dec.InputOffset()
				var e any
				if err := dec.Decode(&e); err != nil {
					return digest, notJSON(err)
				}
				if m, ok := e.(map[string]any); ok {
					if err := fn(i, m); err != nil {
						return digest, err
					}
				}
			}
			if _, err := dec.Token(); err != nil {
				return digest, notJSON(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return digest, notJSON(err)
			}
		}
		if resourceType != "" && resourceType != "Bundle" {
			return digest, fmt.Errorf("%s is not a FHIR Bundle (resourceType %q): %w", name, resourceType, ErrUnreadableSheet)
		}
	}
	if _, err := dec.Token(); err != nil {
		return digest, notJSON(err)
	}
	if resourceType != "Bundle" {
		return digest, fmt.Errorf("%s is not a FHIR Bundle (resourceType %q): %w", name, resourceType, ErrUnreadableSheet)
	}
	io.Copy(h, f) // whatever follows the bundle
	h.Sum(digest[:0])
	return digest, nil
}

// fhirPatientKeys are the references an entry's patient is known by.
func fhirPatientKeys(e fhirResource) []string {
	var keys []string
	for _, key := range []string{e.str("fullUrl"), "Patient/" + e.obj("resource").str("id")} {
		if key != "" && key != "Patient/" {
			keys = append(keys, key)
		}
	}
	return keys
}

// fhirPatient is the patient a Patient resource describes.
func fhirPatient(r fhirResource) Patient {
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
	return p
}

// fhirClinicalEntry is a clinical entry read from a bundle, for the
// patient it refers to: one of SOAP, Problem, Allergy, Medication or
// Vitals.
type fhirClinicalEntry struct {
	patient string // the reference
	entry   any
}

// fhirClinical reads a clinical resource whose patient is one the bundle
// holds (known says which references are), or says why it is refused.
func fhirClinical(r fhirResource, known func(ref string) bool) (fhirClinicalEntry, string) {
	typ := r.str("resourceType")
	ref := fhirSubject(r)
	switch typ {
	case "Encounter", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation":
		if !known(ref) {
			return fhirClinicalEntry{}, fmt.Sprintf("refers to %q, which is not a patient in this bundle", ref)
		}
	default:
		return fhirClinicalEntry{}, "this kind of resource is not imported"
	}
	out := fhirClinicalEntry{patient: ref}
	switch typ {
	case "Encounter":
		note := SOAP{Subjective: strings.TrimSpace(stripTags(r.obj("text").str("div")))}
		if note.Subjective == "" {
			note.Subjective = "Encounter imported from FHIR"
		}
		out.entry = note
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
			return fhirClinicalEntry{}, "has no code or text"
		}
		out.entry = pr
	case "AllergyIntolerance":
		a := Allergy{Substance: codeText(r.obj("code"))}
		if rs := r.list("reaction"); len(rs) > 0 {
			a.Severity = rs[0].str("severity")
			if ms := rs[0].list("manifestation"); len(ms) > 0 {
				a.Reaction = codeText(ms[0])
			}
		}
		if a.Substance == "" {
			return fhirClinicalEntry{}, "has no substance"
		}
		out.entry = a
	case "MedicationStatement":
		m := Medication{Name: codeText(r.obj("medicationCodeableConcept")), Start: fhirDate(r.obj("effectivePeriod").str("start")), Stop: fhirDate(r.obj("effectivePeriod").str("end"))}
		if ds := r.list("dosage"); len(ds) > 0 {
			m.Dose = ds[0].str("text")
		}
		if m.Name == "" {
			return fhirClinicalEntry{}, "has no medication"
		}
		out.entry = m
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
			return fhirClinicalEntry{}, "only vital signs (LOINC " + strings.Join([]string{loincBPPanel, loincPulse, loincTemp, loincWeight, loincHeight, loincSpO2}, ", ") + ") are imported, not " + strconv.Quote(code)
		}
		out.entry = v
	}
	return out, ""
}

// fhirSubject is the reference of the patient a clinical resource is
// about.
func fhirSubject(r fhirResource) string {
	if r.str("resourceType") == "AllergyIntolerance" {
		return r.obj("patient").str("reference")
	}
	return r.obj("subject").str("reference")
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

// importFHIR writes a planned FHIR import: the bundle's patients in one
// transaction, read again from the file (which must be the one
// previewed, checked before they commit), then their clinical entries,
// each checked against what that read saw before it is written.
func (s *Session) importFHIR(ctx context.Context, plan *ImportPlan, progress func(done, total int)) (int, error) {
	name := filepath.Base(plan.File)
	changed := fmt.Errorf("%s: %w", name, ErrImportFileChanged)
	mrns := map[string]string{} // patient reference -> MRN given
	// What each clinical entry read holds, to check the second read by.
	var entrySums [][16]byte
	n := 0
	type patientKeys struct {
		p    *Patient
		keys []string
	}
	var last patientKeys
	work := make(chan patientKeys)
	result := make(chan error, 1)
	// The bundle is read on its own goroutine and handed over patient by
	// patient, so that the writer takes them as a stream.
	go func() {
		digest, err := fhirEntries(plan.File, func(i int, e fhirResource) error {
			r := e.obj("resource")
			if r.str("resourceType") != "Patient" {
				entrySums = append(entrySums, fhirEntrySum(e))
				return nil
			}
			if _, skip := plan.skip[i+1]; skip {
				return nil
			}
			p := fhirPatient(r)
			if err := s.validatePatient(&p); err != nil {
				return changed
			}
			select {
			case work <- patientKeys{&p, fhirPatientKeys(e)}:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
		if err == nil && digest != plan.digest {
			err = changed
		}
		result <- err
		close(work)
	}()
	next := func() (*Patient, error) {
		if last.p != nil { // given its MRN when it was added
			for _, k := range last.keys {
				mrns[k] = last.p.MRN
			}
		}
		pk, ok := <-work
		last = pk
		if ok && n == plan.Count.Import { // more patients than previewed
			last = patientKeys{}
			return nil, changed
		}
		if !ok {
			if err := <-result; err != nil {
				return nil, err
			}
			if n != plan.Count.Import {
				return nil, changed
			}
			return nil, nil
		}
		n++
		return pk.p, nil
	}
	err := s.addPatients(ctx, plan.Count.Import, next, progress, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "import", name, importAuditDetail(plan))
	})
	if err != nil {
		for range work { // let the reader finish
		}
		return 0, err
	}
	if plan.fhir.clinical == 0 {
		return n, nil
	}
	k, written := 0, 0
	_, err = fhirEntries(plan.File, func(i int, e fhirResource) error {
		r := e.obj("resource")
		if r.str("resourceType") == "Patient" {
			return nil
		}
		if k >= len(entrySums) || fhirEntrySum(e) != entrySums[k] {
			return fmt.Errorf("%s changed after it was previewed: %d of its %d clinical entries were written, the rest were not", name, written, plan.fhir.clinical)
		}
		k++
		if _, skip := plan.skip[i+1]; skip {
			return nil // refused in the preview
		}
		c, problem := fhirClinical(r, func(ref string) bool { _, ok := mrns[ref]; return ok })
		if problem != "" {
			return fmt.Errorf("%s: entry %d was not refused in the preview: %s", name, i+1, problem)
		}
		if err := s.addFHIRClinical(ctx, mrns[c.patient], c.entry); err != nil {
			return err
		}
		written++
		return nil
	})
	if err == nil && k != len(entrySums) {
		// Cut short after the patients were read: what is missing was
		// previewed, and must not go unsaid.
		// Not ErrImportFileChanged, whose sentence says nothing was
		// imported: the patients and some entries were.
		err = fmt.Errorf("%s changed after it was previewed: %d of its %d clinical entries were written, the rest were not", name, written, plan.fhir.clinical)
	}
	if err != nil {
		return n, fmt.Errorf("patients imported, but a clinical entry failed: %w", err)
	}
	return n, nil
}

// fhirEntrySum is a digest of an entry as decoded.
func fhirEntrySum(e fhirResource) (sum [16]byte) {
	b, _ := json.Marshal(e) // maps marshal with sorted keys: the same entry, the same bytes
	full := sha256.Sum256(b)
	copy(sum[:], full[:])
	return sum
}

// addFHIRClinical writes one clinical entry to a patient's chart.
func (s *Session) addFHIRClinical(ctx context.Context, mrn string, entry any) error {
	var err error
	switch e := entry.(type) {
	case SOAP:
		_, err = s.AddEncounter(ctx, mrn, e)
	case Problem:
		err = s.AddProblem(ctx, mrn, e)
	case Allergy:
		err = s.AddAllergy(ctx, mrn, e)
	case Medication:
		err = s.AddMedication(ctx, mrn, e)
	case Vitals:
		err = s.AddVitals(ctx, mrn, e)
	}
	return err
}
