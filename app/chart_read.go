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
	return s.mayOpenClinicalIDs(ctx, s.general, patientID, ids, func(id string) (bool, bool, error) {
		return chartAllowed(ctx, s.general, id, s.user.ID)
	})
}

// mayOpenClinicalIDs is mayOpenClinical for a patient whose merged ids
// are known, asking allowed (chartAllowed, or a reading of it) about each.
func (s *Session) mayOpenClinicalIDs(ctx context.Context, q querier, patientID string, ids []string, allowed func(id string) (allowed, restricted bool, err error)) error {
	for _, id := range ids {
		ok, restricted, err := allowed(id)
		if err != nil {
			return err
		}
		if !restricted || ok {
			continue
		}
		had, err := s.emergencyAccessed(ctx, q, patientID, id)
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
	return loadClinicalInto(ctx, s.general, s.clinical, func(string) *Chart { return c }, in, args)
}

// loadClinicalInto reads the clinical sections of the patients in (their
// ids as placeholders and args) and gives each row to the chart owner
// names for its patient (nil: dropped): one query per section however
// many charts are read, each chart's rows in the order one chart shows.
func loadClinicalInto(ctx context.Context, general, db querier, owner func(patientID string) *Chart, in string, args []any) error {
	type user struct{ id, name string }
	users, err := queryAll(ctx, general, func(r row) (u user, err error) {
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
	// each runs query and hands every row, scanned after its patient_id
	// column, to the owner's chart.
	each := func(query string, scan func(c *Chart, r row, pid *string) error) error {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pid string
			var c Chart
			if err := scan(&c, rows, &pid); err != nil {
				return err
			}
			if to := owner(pid); to != nil {
				appendSections(to, &c)
			}
		}
		return rows.Err()
	}
	if err := each(`SELECT patient_id, id, seen_at, clinician_id, subjective, objective, assessment, plan, signed_at, signed_by, appointment_id
		FROM encounters WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY seen_at DESC`, func(c *Chart, r row, pid *string) error {
		var e Encounter
		var seen int64
		var signed sql.NullInt64
		err := r.Scan(pid, &e.ID, &seen, &e.ClinicianID, &e.Subjective, &e.Objective, &e.Assessment, &e.Plan, &signed, &e.SignedBy, &e.AppointmentID)
		e.PatientID = *pid
		e.SeenAt, e.Clinician, e.SignedBy = time.Unix(seen, 0), names[e.ClinicianID], names[e.SignedBy]
		if signed.Valid {
			e.SignedAt = time.Unix(signed.Int64, 0)
		}
		c.Encounters = append(c.Encounters, e)
		return err
	}); err != nil {
		return err
	}
	type at struct {
		c *Chart
		i int
	}
	encounter := map[string]at{}
	if err := each(`SELECT patient_id, id, encounter_id, text, author_id, created_at FROM addenda WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, func(_ *Chart, r row, pid *string) error {
		var a Addendum
		var enc, author string
		var created int64
		if err := r.Scan(pid, &a.ID, &enc, &a.Text, &author, &created); err != nil {
			return err
		}
		a.Author, a.Created = names[author], time.Unix(created, 0)
		if len(encounter) == 0 {
			for _, id := range args {
				if c := owner(id.(string)); c != nil {
					for i, e := range c.Encounters {
						encounter[e.ID] = at{c, i}
					}
				}
			}
		}
		if e, ok := encounter[enc]; ok {
			e.c.Encounters[e.i].Addenda = append(e.c.Encounters[e.i].Addenda, a)
		}
		*pid = "" // attached to its encounter, not to a chart
		return nil
	}); err != nil {
		return err
	}
	if err := each(`SELECT patient_id, id, description, icd10, onset, status FROM problems WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY status, created_at`, func(c *Chart, r row, pid *string) error {
		var p Problem
		err := r.Scan(pid, &p.ID, &p.Description, &p.ICD10, &p.Onset, &p.Status)
		c.Problems = append(c.Problems, p)
		return err
	}); err != nil {
		return err
	}
	if err := each(`SELECT patient_id, id, substance, reaction, severity FROM allergies WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, func(c *Chart, r row, pid *string) error {
		var a Allergy
		err := r.Scan(pid, &a.ID, &a.Substance, &a.Reaction, &a.Severity)
		c.Allergies = append(c.Allergies, a)
		return err
	}); err != nil {
		return err
	}
	if err := each(`SELECT patient_id, id, name, dose, route, frequency, start_date, stop_date FROM medications WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at`, func(c *Chart, r row, pid *string) error {
		var m Medication
		err := r.Scan(pid, &m.ID, &m.Name, &m.Dose, &m.Route, &m.Frequency, &m.Start, &m.Stop)
		c.Medications = append(c.Medications, m)
		return err
	}); err != nil {
		return err
	}
	if err := each(`SELECT patient_id, id, taken_at, systolic, diastolic, pulse, temp_c, weight_kg, height_cm, spo2 FROM vitals
		WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY taken_at`, func(c *Chart, r row, pid *string) error {
		var v Vitals
		var taken int64
		var sys, dia, pulse, spo2 sql.NullInt64
		var temp, weight, height sql.NullFloat64
		err := r.Scan(pid, &v.ID, &taken, &sys, &dia, &pulse, &temp, &weight, &height, &spo2)
		v.TakenAt = time.Unix(taken, 0)
		v.Systolic, v.Diastolic, v.Pulse, v.SpO2 = nullInt(sys), nullInt(dia), nullInt(pulse), nullInt(spo2)
		v.TempC, v.WeightKg, v.HeightCm = nullFloat(temp), nullFloat(weight), nullFloat(height)
		c.Vitals = append(c.Vitals, v)
		return err
	}); err != nil {
		return err
	}
	return each(`SELECT patient_id, id, title, mime, size, created_at FROM documents WHERE archived = 0 AND patient_id IN (`+in+`) ORDER BY created_at DESC`, func(c *Chart, r row, pid *string) error {
		var d Document
		var added int64
		err := r.Scan(pid, &d.ID, &d.Title, &d.MIME, &d.Size, &added)
		d.Added = time.Unix(added, 0)
		c.Documents = append(c.Documents, d)
		return err
	})
}

// appendSections adds the rows of one section read into from to c.
func appendSections(c, from *Chart) {
	c.Encounters = append(c.Encounters, from.Encounters...)
	c.Problems = append(c.Problems, from.Problems...)
	c.Allergies = append(c.Allergies, from.Allergies...)
	c.Medications = append(c.Medications, from.Medications...)
	c.Vitals = append(c.Vitals, from.Vitals...)
	c.Documents = append(c.Documents, from.Documents...)
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
