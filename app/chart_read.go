package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Reading a chart: who may open its clinical part (restrictions,
// emergency access), and loading and auditing it.

// clinicalRead runs fn on clinical.db for a patient the signed-in
// clinician may open, under the session lock, without auditing (a check,
// not a view of the record).
func (s *Session) clinicalRead(ctx context.Context, mrn string, fn func(q querier, p Patient) error) error {
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
	return fn(s.clinical, p)
}

// DocumentContent returns a stored document's bytes, and audits the view.
func (s *Session) DocumentContent(ctx context.Context, mrn, id string) ([]byte, error) {
	var content []byte
	err := s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		// The document must belong to this patient (or a record merged
		// into it): the restriction check above was for this MRN.
		ids, err := patientIDs(ctx, s.general, p.ID)
		if err != nil {
			return "", "", err
		}
		err = tx.QueryRowContext(ctx, `SELECT content FROM documents WHERE id = ? AND patient_id IN (`+placeholders(len(ids))+`)`,
			append([]any{id}, anySlice(ids)...)...).Scan(&content)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		return "document-viewed", id, err
	})
	return content, err
}

// OpenChart returns a patient's chart and audits the view. Receptionists
// get demographics and appointments only. A restricted chart opens for a
// clinician not named on it only through OpenChartEmergency.
func (s *Session) OpenChart(ctx context.Context, mrn string) (*Chart, error) {
	return s.openChart(ctx, mrn, false)
}

// mayOpenClinical checks a chart's restriction for the signed-in
// clinician: allowed if named, or after emergency access in the last day.
// A chart shows the records merged into it too, so the restriction of
// each of them counts: a restricted chart merged into another stays
// restricted there.
func (s *Session) mayOpenClinical(ctx context.Context, patientID string) error {
	ids, err := patientIDs(ctx, s.general, patientID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		allowed, restricted, err := chartAllowed(ctx, s.general, id, s.user.ID)
		if err != nil {
			return err
		}
		if !restricted || allowed {
			continue
		}
		had, err := s.emergencyAccessed(ctx, s.general, patientID, id)
		if err != nil {
			return err
		}
		if !had {
			return ErrRestricted
		}
	}
	return nil
}

// emergencyAccessed reports whether the signed-in person used emergency
// access, in the last day, to the chart of any of the given patients.
func (s *Session) emergencyAccessed(ctx context.Context, q querier, patientIDs ...string) (bool, error) {
	since := s.v.now().Add(-24 * time.Hour).Unix()
	for _, id := range patientIDs {
		n, err := scalar[int](ctx, q, `SELECT count(*) FROM emergency_access WHERE patient_id = ? AND user_id = ? AND at > ?`, id, s.user.ID, since)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

// hadEmergencyAccess is emergencyAccessed for callers that take a yes or
// no (patients.go, being rewritten elsewhere): a read error is a no, so
// the chart stays closed.
func (s *Session) hadEmergencyAccess(ctx context.Context, q querier, patientIDs ...string) bool {
	had, err := s.emergencyAccessed(ctx, q, patientIDs...)
	return had && err == nil
}

func (s *Session) openChart(ctx context.Context, mrn string, emergency bool) (*Chart, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	p, err := s.patientByMRN(ctx, s.general, mrn)
	if err != nil {
		return nil, err
	}
	c := &Chart{Patient: p}
	ids, err := patientIDs(ctx, s.general, p.ID)
	if err != nil {
		return nil, err
	}
	in, args := placeholders(len(ids)), anySlice(ids)
	if c.Appointments, err = queryAll(ctx, s.general, scanAppointment, appointmentSelect+` WHERE a.archived = 0 AND a.patient_id IN (`+in+`) ORDER BY a.start_at DESC`, args...); err != nil {
		return nil, err
	}
	detail := "demographics"
	if s.clinical != nil && s.user.Role.Clinical() {
		if err := s.mayOpenClinical(ctx, p.ID); err != nil {
			return nil, err
		}
		c.Clinical = true
		detail = "full chart"
		if emergency {
			detail = "full chart, emergency access"
		}
		if err := s.loadClinical(ctx, c, in, args); err != nil {
			return nil, err
		}
	}
	err = inTx(ctx, s.general, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "chart-viewed", p.MRN, detail)
	})
	return c, err
}

func (s *Session) loadClinical(ctx context.Context, c *Chart, in string, args []any) error {
	type user struct{ id, name string }
	users, err := queryAll(ctx, s.general, func(r row) (u user, err error) {
		err = r.Scan(&u.id, &u.name)
		return u, err
	}, `SELECT id, name FROM users`)
	if err != nil {
		return err
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.id] = u.name
	}
	db := s.clinical
	if c.Encounters, err = queryAll(ctx, db, func(r row) (e Encounter, err error) {
		var seen int64
		var signed sql.NullInt64
		err = r.Scan(&e.ID, &e.PatientID, &seen, &e.ClinicianID, &e.Subjective, &e.Objective, &e.Assessment, &e.Plan, &signed, &e.SignedBy, &e.AppointmentID)
		e.SeenAt, e.Clinician, e.SignedBy = time.Unix(seen, 0), names[e.ClinicianID], names[e.SignedBy]
		if signed.Valid {
			e.SignedAt = time.Unix(signed.Int64, 0)
		}
		return e, err
	}, `SELECT id, patient_id, seen_at, clinician_id, subjective, objective, assessment, plan, signed_at, signed_by, appointment_id
		FROM encounters WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY seen_at DESC`, args...); err != nil {
		return err
	}
	index := map[string]int{}
	for i, e := range c.Encounters {
		index[e.ID] = i
	}
	type addendum struct {
		Addendum
		encounter string
	}
	addenda, err := queryAll(ctx, db, func(r row) (a addendum, err error) {
		var author string
		var at int64
		err = r.Scan(&a.ID, &a.encounter, &a.Text, &author, &at)
		a.Author, a.Created = names[author], time.Unix(at, 0)
		return a, err
	}, `SELECT id, encounter_id, text, author_id, created_at FROM addenda WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, args...)
	if err != nil {
		return err
	}
	for _, a := range addenda {
		if i, ok := index[a.encounter]; ok {
			c.Encounters[i].Addenda = append(c.Encounters[i].Addenda, a.Addendum)
		}
	}
	if c.Problems, err = queryAll(ctx, db, func(r row) (p Problem, err error) {
		err = r.Scan(&p.ID, &p.Description, &p.ICD10, &p.Onset, &p.Status)
		return p, err
	}, `SELECT id, description, icd10, onset, status FROM problems WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY status, created_at`, args...); err != nil {
		return err
	}
	if c.Allergies, err = queryAll(ctx, db, scanAllergy,
		`SELECT id, substance, reaction, severity FROM allergies WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, args...); err != nil {
		return err
	}
	if c.Medications, err = queryAll(ctx, db, func(r row) (m Medication, err error) {
		err = r.Scan(&m.ID, &m.Name, &m.Dose, &m.Route, &m.Frequency, &m.Start, &m.Stop)
		return m, err
	}, `SELECT id, name, dose, route, frequency, start_date, stop_date FROM medications WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, args...); err != nil {
		return err
	}
	if c.Vitals, err = queryAll(ctx, db, func(r row) (v Vitals, err error) {
		var at int64
		var sys, dia, pulse, spo2 sql.NullInt64
		var temp, weight, height sql.NullFloat64
		err = r.Scan(&v.ID, &at, &sys, &dia, &pulse, &temp, &weight, &height, &spo2)
		v.TakenAt = time.Unix(at, 0)
		v.Systolic, v.Diastolic, v.Pulse, v.SpO2 = nullInt(sys), nullInt(dia), nullInt(pulse), nullInt(spo2)
		v.TempC, v.WeightKg, v.HeightCm = nullFloat(temp), nullFloat(weight), nullFloat(height)
		return v, err
	}, `SELECT id, taken_at, systolic, diastolic, pulse, temp_c, weight_kg, height_cm, spo2 FROM vitals
		WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY taken_at`, args...); err != nil {
		return err
	}
	c.Documents, err = queryAll(ctx, db, func(r row) (d Document, err error) {
		var at int64
		err = r.Scan(&d.ID, &d.Title, &d.MIME, &d.Size, &at)
		d.Added = time.Unix(at, 0)
		return d, err
	}, `SELECT id, title, mime, size, created_at FROM documents WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at DESC`, args...)
	return err
}

func nullInt(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

func nullFloat(n sql.NullFloat64) *float64 {
	if !n.Valid {
		return nil
	}
	return &n.Float64
}
