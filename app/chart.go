package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on clinical content.
const (
	maxNoteRunes    = 100_000  // one SOAP section; longer text belongs in a document
	MaxDocumentSize = 25 << 20 // 25 MB
)

// ErrNotFound means a chart item does not exist.
var ErrNotFound = errors.New("not found")

// SOAP is the four sections of an encounter note.
type SOAP struct {
	Subjective, Objective, Assessment, Plan string
}

// Encounter is one visit's note.
type Encounter struct {
	ID          string
	PatientID   string
	SeenAt      time.Time
	ClinicianID string
	Clinician   string
	SOAP
	SignedAt time.Time // zero until signed off
	SignedBy string
	Addenda  []Addendum
	// AppointmentID is the visit the note was written during, if any.
	AppointmentID string
}

// Signed reports whether the encounter was signed off.
func (e Encounter) Signed() bool { return !e.SignedAt.IsZero() }

// Addendum is text added to a signed encounter.
type Addendum struct {
	ID      string
	Text    string
	Author  string
	Created time.Time
}

// Problem is an entry of the problem list.
type Problem struct {
	ID, Description, ICD10, Onset, Status string
}

// Allergy is a recorded allergy.
type Allergy struct {
	ID, Substance, Reaction, Severity string
}

// Medication is a medication the patient takes or took.
type Medication struct {
	ID, Name, Dose, Route, Frequency, Start, Stop string
	// OverrideReason is why it is prescribed despite a recorded allergy
	// it conflicts with (required then, kept with it).
	OverrideReason string
}

// Vitals is one set of measurements; nil fields were not taken.
type Vitals struct {
	ID        string
	TakenAt   time.Time
	Systolic  *int
	Diastolic *int
	Pulse     *int
	TempC     *float64
	WeightKg  *float64
	HeightCm  *float64
	SpO2      *int
}

// Summary renders the measurements taken, in words and units:
// "BP 128/82 mmHg, pulse 72/min, temperature 37.9 °C".
func (v Vitals) Summary() string {
	var parts []string
	if v.Systolic != nil && v.Diastolic != nil {
		parts = append(parts, fmt.Sprintf("BP %d/%d mmHg", *v.Systolic, *v.Diastolic))
	}
	if v.Pulse != nil {
		parts = append(parts, fmt.Sprintf("pulse %d/min", *v.Pulse))
	}
	if v.TempC != nil {
		parts = append(parts, fmt.Sprintf("temperature %.1f °C", *v.TempC))
	}
	if v.WeightKg != nil {
		parts = append(parts, fmt.Sprintf("weight %.1f kg", *v.WeightKg))
	}
	if v.HeightCm != nil {
		parts = append(parts, fmt.Sprintf("height %.0f cm", *v.HeightCm))
	}
	if v.SpO2 != nil {
		parts = append(parts, fmt.Sprintf("SpO2 %d%%", *v.SpO2))
	}
	if bmi, ok := v.BMI(); ok {
		parts = append(parts, fmt.Sprintf("BMI %.1f", bmi))
	}
	return strings.Join(parts, ", ")
}

// BMI is the body-mass index from this set's weight and height (kg/m²).
func (v Vitals) BMI() (float64, bool) {
	if v.WeightKg == nil || v.HeightCm == nil || *v.HeightCm <= 0 {
		return 0, false
	}
	m := *v.HeightCm / 100
	return math.Round(*v.WeightKg/(m*m)*10) / 10, true
}

// ParseTemperature reads a body temperature as typed: 37.9, 37,9, 37.9 °C,
// 100.4 °F or 100.4F; a bare number over 50 is taken as °F (a body
// temperature in °C is 25–45, in °F 77–113). It returns °C to a tenth.
func ParseTemperature(s string) (float64, bool) {
	t := strings.ToUpper(strings.TrimSpace(strings.ReplaceAll(s, ",", ".")))
	t = strings.TrimSpace(strings.TrimPrefix(t, "+"))
	fahrenheit := false
	switch {
	case strings.HasSuffix(t, "°F"), strings.HasSuffix(t, "F"):
		fahrenheit = true
		t = strings.TrimSuffix(strings.TrimSuffix(t, "F"), "°")
	case strings.HasSuffix(t, "°C"), strings.HasSuffix(t, "C"):
		t = strings.TrimSuffix(strings.TrimSuffix(t, "C"), "°")
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil {
		return 0, false
	}
	if fahrenheit || x > 50 {
		x = (x - 32) * 5 / 9
	}
	return math.Round(x*10) / 10, true
}

// Document is a stored file's description (its content is fetched apart).
type Document struct {
	ID, Title, MIME string
	Size            int64
	Added           time.Time
}

// Chart is everything a clinician sees of a patient.
type Chart struct {
	Patient      Patient
	Appointments []Appointment
	Clinical     bool // false for a receptionist: the lists below are empty
	Encounters   []Encounter
	Problems     []Problem
	Allergies    []Allergy
	Medications  []Medication
	Vitals       []Vitals // oldest first, for trends
	Documents    []Document
}

// requireClinical checks the session may read and write clinical.db.
func (s *Session) requireClinical() error {
	if err := s.require(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clinical == nil || !s.user.Role.Clinical() {
		return fmt.Errorf("clinical records are for clinicians: %w", ErrNotPermitted)
	}
	return nil
}

// clinicalWrite runs fn in a clinical.db transaction and then audits in
// general.db. The audit row names the record, never its clinical content.
func (s *Session) clinicalWrite(ctx context.Context, mrn string, fn func(tx *sql.Tx, p Patient) (action, detail string, err error)) error {
	if err := s.requireClinical(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return ErrLocked
	}
	p, err := s.patientByMRN(ctx, s.general, mrn)
	if err != nil {
		return err
	}
	if err := s.mayOpenClinical(ctx, p.ID); err != nil {
		return err
	}
	var action, detail string
	if err := inTx(ctx, s.clinical, func(tx *sql.Tx) error {
		var err error
		action, detail, err = fn(tx, p)
		return err
	}); err != nil {
		return err
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), action, p.MRN, detail)
	})
}

func (s *Session) insertClinical(ctx context.Context, tx *sql.Tx, table, id string, cols map[string]any) error {
	names := make([]string, 0, len(cols)+1)
	for c := range cols {
		names = append(names, c)
	}
	sort.Strings(names)
	args := []any{id}
	for _, c := range names {
		args = append(args, cols[c])
	}
	names = append([]string{"id"}, names...)
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, table, strings.Join(names, ", "), placeholders(len(names))), args...); err != nil {
		return err
	}
	return s.recordChanges(ctx, tx, table, id, cols)
}

func checkNote(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid text", field)
	}
	if n := utf8.RuneCountInString(s); n > maxNoteRunes {
		return "", invalid("%s is %d characters long; the limit is %d — attach long text as a document", field, n, maxNoteRunes)
	}
	return strings.TrimSpace(s), nil
}

// AddEncounter records a visit note (clinicians and admins).
func (s *Session) AddEncounter(ctx context.Context, mrn string, note SOAP) (Encounter, error) {
	var err error
	for _, f := range []struct {
		name string
		v    *string
	}{{"subjective", &note.Subjective}, {"objective", &note.Objective}, {"assessment", &note.Assessment}, {"plan", &note.Plan}} {
		if *f.v, err = checkNote(f.name, *f.v); err != nil {
			return Encounter{}, err
		}
	}
	if note == (SOAP{}) {
		return Encounter{}, invalid("the note is empty")
	}
	now := s.v.now()
	e := Encounter{ID: newID(), SeenAt: now, SOAP: note}
	err = s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		e.PatientID, e.ClinicianID, e.Clinician = p.ID, s.user.ID, s.user.Name
		visit, err := s.visitNow(ctx, p.ID, now)
		if err != nil {
			return "", "", err
		}
		e.AppointmentID = visit
		detail := e.ID
		if visit != "" {
			detail += " (visit " + visit + ")"
		}
		return "encounter-created", detail, s.insertClinical(ctx, tx, "encounters", e.ID, map[string]any{
			"patient_id": p.ID, "seen_at": now.Unix(), "clinician_id": s.user.ID, "subjective": note.Subjective,
			"objective": note.Objective, "assessment": note.Assessment, "plan": note.Plan, "archived": 0,
			"created_at": now.Unix(), "updated_at": now.Unix(), "appointment_id": visit,
		})
	})
	return e, err
}

// visitNow finds the appointment a note written now belongs to: the
// patient's appointment today that is under way (in room, then checked
// in), preferring the writer's own, else the writer's appointment whose
// time covers now. "" when the note is written outside a visit. Call
// with s.mu held.
func (s *Session) visitNow(ctx context.Context, patientID string, now time.Time) (string, error) {
	ids, err := patientIDs(ctx, s.general, patientID)
	if err != nil {
		return "", err
	}
	day := now.Local()
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.Local)
	args := append([]any{s.user.ID, now.Unix(), now.Unix(), from.Unix(), from.AddDate(0, 0, 1).Unix()}, anySlice(ids)...)
	type visit struct {
		id, status   string
		mine, covers bool
	}
	visits, err := queryAll(ctx, s.general, func(r row) (v visit, err error) {
		err = r.Scan(&v.id, &v.status, &v.mine, &v.covers)
		return v, err
	}, `SELECT id, status, clinician_id = ?, start_at <= ? + 600 AND start_at + minutes * 60 >= ? - 600
		FROM appointments WHERE archived = 0 AND start_at >= ? AND start_at < ? AND patient_id IN (`+placeholders(len(ids))+`)
		AND status NOT IN ('cancelled', 'no-show') ORDER BY start_at`, args...)
	if err != nil {
		return "", err
	}
	best, bestRank := "", 0
	for _, v := range visits {
		rank := 0
		switch {
		case v.status == StatusInRoom:
			rank = 6
		case v.status == StatusArrived:
			rank = 4
		case v.covers:
			rank = 2
		}
		if rank > 0 && v.mine {
			rank++
		}
		if rank > bestRank {
			best, bestRank = v.id, rank
		}
	}
	return best, nil
}

// EditEncounter changes an unsigned encounter's note. A signed encounter
// is never changed: add an addendum.
func (s *Session) EditEncounter(ctx context.Context, mrn, id string, note SOAP) error {
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		var signed sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT signed_at FROM encounters WHERE id = ? AND patient_id = ?`, id, p.ID).Scan(&signed)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", fmt.Errorf("encounter %s: %w", id, ErrNotFound)
		} else if err != nil {
			return "", "", err
		}
		if signed.Valid {
			return "", "", invalid("the encounter is signed off; add an addendum instead")
		}
		cols := map[string]any{}
		for _, f := range []struct {
			col string
			v   string
		}{{"subjective", note.Subjective}, {"objective", note.Objective}, {"assessment", note.Assessment}, {"plan", note.Plan}} {
			v, err := checkNote(f.col, f.v)
			if err != nil {
				return "", "", err
			}
			cols[f.col] = v
		}
		if _, err := tx.ExecContext(ctx, `UPDATE encounters SET subjective = ?, objective = ?, assessment = ?, plan = ?, updated_at = ? WHERE id = ?`,
			cols["subjective"], cols["objective"], cols["assessment"], cols["plan"], now.Unix(), id); err != nil {
			return "", "", err
		}
		return "encounter-updated", id, s.recordChanges(ctx, tx, "encounters", id, cols)
	})
}

// SignEncounter signs off an encounter; afterwards it only takes addenda.
func (s *Session) SignEncounter(ctx context.Context, mrn, id string) error {
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		res, err := tx.ExecContext(ctx, `UPDATE encounters SET signed_at = ?, signed_by = ?, updated_at = ? WHERE id = ? AND patient_id = ? AND signed_at IS NULL`,
			now.Unix(), s.user.ID, now.Unix(), id, p.ID)
		if err != nil {
			return "", "", err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return "", "", invalid("encounter %s does not exist for this patient or is already signed", id)
		}
		return "encounter-signed", id, s.recordChanges(ctx, tx, "encounters", id, map[string]any{"signed_at": now.Unix(), "signed_by": s.user.ID})
	})
}

// AddAddendum adds text to a signed encounter; the original stays as signed.
func (s *Session) AddAddendum(ctx context.Context, mrn, encounterID, text string) error {
	text, err := checkNote("addendum", text)
	if err != nil {
		return err
	}
	if text == "" {
		return invalid("the addendum is empty")
	}
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		n, err := scalar[int](ctx, tx, `SELECT count(*) FROM encounters WHERE id = ? AND patient_id = ?`, encounterID, p.ID)
		if err != nil {
			return "", "", err
		}
		if n == 0 {
			return "", "", fmt.Errorf("encounter %s: %w", encounterID, ErrNotFound)
		}
		id := newID()
		return "addendum-created", encounterID, s.insertClinical(ctx, tx, "addenda", id, map[string]any{
			"encounter_id": encounterID, "patient_id": p.ID, "text": text, "author_id": s.user.ID, "created_at": now.Unix(), "archived": 0,
		})
	})
}

// AddProblem adds to the problem list.
func (s *Session) AddProblem(ctx context.Context, mrn string, pr Problem) error {
	var err error
	if pr.Description, err = cleanText("problem", pr.Description, 500, false); err != nil {
		return err
	}
	if pr.Description == "" {
		return invalid("the problem has no description")
	}
	pr.ICD10 = strings.ToUpper(strings.TrimSpace(pr.ICD10))
	if pr.ICD10 != "" && !icd10.MatchString(pr.ICD10) {
		return invalid("ICD-10 code %q is not of the form A00 or A00.0", pr.ICD10)
	}
	if pr.Onset != "" {
		if _, err := time.Parse("2006-01-02", pr.Onset); err != nil {
			return invalid("onset %q is not a date in the form YYYY-MM-DD", pr.Onset)
		}
	}
	if pr.Status == "" {
		pr.Status = "active"
	}
	if pr.Status != "active" && pr.Status != "resolved" && pr.Status != "inactive" {
		return invalid("problem status %q is not active, inactive or resolved", pr.Status)
	}
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		id := newID()
		return "problem-created", id, s.insertClinical(ctx, tx, "problems", id, map[string]any{
			"patient_id": p.ID, "description": pr.Description, "icd10": pr.ICD10, "onset": pr.Onset, "status": pr.Status,
			"archived": 0, "created_at": now.Unix(), "updated_at": now.Unix(),
		})
	})
}

// AddAllergy records an allergy.
func (s *Session) AddAllergy(ctx context.Context, mrn string, a Allergy) error {
	var err error
	if a.Substance, err = cleanText("substance", a.Substance, maxShortRunes, false); err != nil {
		return err
	}
	if a.Substance == "" {
		return invalid("the allergy has no substance")
	}
	if a.Reaction, err = cleanText("reaction", a.Reaction, 500, false); err != nil {
		return err
	}
	a.Severity = strings.ToLower(strings.TrimSpace(a.Severity))
	if a.Severity != "" && a.Severity != "mild" && a.Severity != "moderate" && a.Severity != "severe" {
		return invalid("severity %q is not mild, moderate or severe", a.Severity)
	}
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		id := newID()
		return "allergy-created", id, s.insertClinical(ctx, tx, "allergies", id, map[string]any{
			"patient_id": p.ID, "substance": a.Substance, "reaction": a.Reaction, "severity": a.Severity,
			"archived": 0, "created_at": now.Unix(), "updated_at": now.Unix(),
		})
	})
}

// AddMedication records a medication. It is first checked against the
// patient's recorded allergies, by substance and by drug class: a
// conflict refuses it (*AllergyConflictError) unless m.OverrideReason
// says why to go on, which is kept with it and audited.
func (s *Session) AddMedication(ctx context.Context, mrn string, m Medication) error {
	var err error
	for _, f := range []struct {
		name string
		v    *string
	}{{"medication", &m.Name}, {"dose", &m.Dose}, {"route", &m.Route}, {"frequency", &m.Frequency}} {
		if *f.v, err = cleanText(f.name, *f.v, maxShortRunes, false); err != nil {
			return err
		}
	}
	if m.Name == "" {
		return invalid("the medication has no name")
	}
	for _, d := range []struct{ name, v string }{{"start", m.Start}, {"stop", m.Stop}} {
		if d.v != "" {
			if _, err := time.Parse("2006-01-02", d.v); err != nil {
				return invalid("%s date %q is not in the form YYYY-MM-DD", d.name, d.v)
			}
		}
	}
	if m.OverrideReason, err = cleanText("reason", m.OverrideReason, 500, false); err != nil {
		return err
	}
	now := s.v.now()
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		allergies, err := s.allergiesOf(ctx, tx, p.ID)
		if err != nil {
			return "", "", err
		}
		conflicts := theDrugTable().conflicts(m.Name, allergies)
		override := ""
		if len(conflicts) > 0 {
			if len([]rune(m.OverrideReason)) < 5 {
				return "", "", &AllergyConflictError{Medication: m.Name, Conflicts: conflicts}
			}
			override = m.OverrideReason
		}
		id := newID()
		if err := s.insertClinical(ctx, tx, "medications", id, map[string]any{
			"patient_id": p.ID, "name": m.Name, "dose": m.Dose, "route": m.Route, "frequency": m.Frequency,
			"start_date": m.Start, "stop_date": m.Stop, "archived": 0, "created_at": now.Unix(), "updated_at": now.Unix(),
			"allergy_override": override,
		}); err != nil {
			return "", "", err
		}
		if override != "" {
			// The audit names the record and that a warning was overridden;
			// the reason stays with the medication, in clinical.db.
			return "medication-allergy-override", id, nil
		}
		return "medication-created", id, nil
	})
}

// AddVitals records a set of measurements, checking each is plausible.
func (s *Session) AddVitals(ctx context.Context, mrn string, v Vitals) error {
	checkI := func(name string, x *int, lo, hi int) error {
		if x != nil && (*x < lo || *x > hi) {
			return invalid("%s %d is outside %d–%d", name, *x, lo, hi)
		}
		return nil
	}
	checkF := func(name string, x *float64, lo, hi float64) error {
		if x != nil && (*x < lo || *x > hi) {
			return invalid("%s %g is outside %g–%g", name, *x, lo, hi)
		}
		return nil
	}
	for _, err := range []error{
		checkI("systolic pressure", v.Systolic, 40, 300), checkI("diastolic pressure", v.Diastolic, 20, 200),
		checkI("pulse", v.Pulse, 20, 250), checkF("temperature", v.TempC, 25, 45), checkF("weight", v.WeightKg, 0.2, 500),
		checkF("height", v.HeightCm, 20, 260), checkI("SpO2", v.SpO2, 50, 100),
	} {
		if err != nil {
			return err
		}
	}
	if (v.Systolic == nil) != (v.Diastolic == nil) {
		return invalid("blood pressure needs both numbers, as 120/80")
	}
	if v.Systolic == nil && v.Pulse == nil && v.TempC == nil && v.WeightKg == nil && v.HeightCm == nil && v.SpO2 == nil {
		return invalid("no measurement was given")
	}
	now := s.v.now()
	if v.TakenAt.IsZero() {
		v.TakenAt = now
	}
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		id := newID()
		return "vitals-created", id, s.insertClinical(ctx, tx, "vitals", id, map[string]any{
			"patient_id": p.ID, "taken_at": v.TakenAt.Unix(), "systolic": v.Systolic, "diastolic": v.Diastolic, "pulse": v.Pulse,
			"temp_c": v.TempC, "weight_kg": v.WeightKg, "height_cm": v.HeightCm, "spo2": v.SpO2,
			"archived": 0, "created_at": now.Unix(), "updated_at": now.Unix(),
		})
	})
}

// AddDocument stores a file (up to 25 MB) encrypted inside clinical.db.
// The change log records its size and hash, not its bytes.
func (s *Session) AddDocument(ctx context.Context, mrn, title, mime string, content []byte) (Document, error) {
	var err error
	if title, err = cleanText("document title", title, maxShortRunes, false); err != nil {
		return Document{}, err
	}
	if title == "" {
		return Document{}, invalid("the document has no title")
	}
	if len(content) == 0 {
		return Document{}, invalid("the document is empty")
	}
	if len(content) > MaxDocumentSize {
		return Document{}, invalid("the document is %.1f MB; the limit is 25 MB", float64(len(content))/(1<<20))
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	now := s.v.now()
	d := Document{ID: newID(), Title: title, MIME: mime, Size: int64(len(content)), Added: now}
	err = s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents (id, patient_id, title, mime, size, content, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, p.ID, title, mime, d.Size, content, now.Unix(), now.Unix()); err != nil {
			return "", "", err
		}
		return "document-added", d.ID, s.recordChanges(ctx, tx, "documents", d.ID, map[string]any{
			"patient_id": p.ID, "title": title, "mime": mime, "size": d.Size, "archived": 0,
		})
	})
	return d, err
}

// icd10 is the shape of an ICD-10 code: a letter, two digits, and an
// optional dot with up to four more characters.
var icd10 = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$`)
