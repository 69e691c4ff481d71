package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Appointment statuses, in the order a visit goes through them.
const (
	StatusBooked    = "booked"
	StatusArrived   = "arrived"
	StatusInRoom    = "in room"
	StatusDone      = "done"
	StatusCancelled = "cancelled"
	StatusNoShow    = "no-show"
)

// AppointmentStatuses lists every status.
var AppointmentStatuses = []string{StatusBooked, StatusArrived, StatusInRoom, StatusDone, StatusCancelled, StatusNoShow}

// ErrAppointmentNotFound means no appointment has that id.
var ErrAppointmentNotFound = errors.New("no such appointment")

// Appointment is one booking in the day's book.
type Appointment struct {
	ID            string
	PatientID     string
	PatientMRN    string
	PatientName   string
	Start         time.Time
	Minutes       int
	ClinicianID   string
	ClinicianName string
	Reason        string
	Status        string
}

// End is when the appointment ends.
func (a Appointment) End() time.Time { return a.Start.Add(time.Duration(a.Minutes) * time.Minute) }

func (s *Session) clinicianByName(ctx context.Context, tx *sql.Tx, name string) (User, error) {
	u, err := s.userByName(ctx, tx, name)
	if err != nil {
		return u, err
	}
	if !u.Role.Clinical() {
		return u, invalid("%s is a %s, not a clinician", u.Name, u.Role)
	}
	return u, nil
}

func checkSlot(start time.Time, minutes int) error {
	if minutes < 5 || minutes > 8*60 {
		return invalid("an appointment lasts 5 to 480 minutes, not %d", minutes)
	}
	if start.IsZero() {
		return invalid("the appointment has no start time")
	}
	return nil
}

// overlaps returns warnings for the clinician's other live appointments
// that overlap [start, start+minutes).
func overlaps(ctx context.Context, tx *sql.Tx, clinicianID, exceptID string, start time.Time, minutes int) ([]string, error) {
	end := start.Add(time.Duration(minutes) * time.Minute)
	rows, err := tx.QueryContext(ctx, `SELECT a.start_at, a.minutes, p.family, p.given FROM appointments a JOIN patients p ON p.id = a.patient_id
		WHERE a.clinician_id = ? AND a.id != ? AND a.archived = 0 AND a.status NOT IN ('cancelled', 'no-show')
		AND a.start_at < ? AND a.start_at + a.minutes * 60 > ?`, clinicianID, exceptID, end.Unix(), start.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var at int64
		var m int
		var fam, giv string
		rows.Scan(&at, &m, &fam, &giv)
		out = append(out, fmt.Sprintf("overlaps %s, %s at %s (%d min)", fam, giv, time.Unix(at, 0).Local().Format("15:04"), m))
	}
	return out, rows.Err()
}

// BookAppointment books a patient with a clinician. Overlaps with the
// clinician's other appointments are returned as warnings, not refused:
// the front desk double-books on purpose sometimes.
func (s *Session) BookAppointment(ctx context.Context, mrn string, start time.Time, minutes int, clinician, reason string) (Appointment, []string, error) {
	if err := s.require(); err != nil {
		return Appointment{}, nil, err
	}
	if err := checkSlot(start, minutes); err != nil {
		return Appointment{}, nil, err
	}
	reason, err := cleanText("reason", reason, maxShortRunes, false)
	if err != nil {
		return Appointment{}, nil, err
	}
	now := s.v.now()
	var a Appointment
	var warnings []string
	err = s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		if p.Archived {
			return invalid("%s is archived", p.MRN)
		}
		c, err := s.clinicianByName(ctx, tx, clinician)
		if err != nil {
			return err
		}
		if warnings, err = overlaps(ctx, tx, c.ID, "", start, minutes); err != nil {
			return err
		}
		a = Appointment{ID: newID(), PatientID: p.ID, PatientMRN: p.MRN, PatientName: p.Name(), Start: start.Truncate(time.Minute), Minutes: minutes,
			ClinicianID: c.ID, ClinicianName: c.Name, Reason: reason, Status: StatusBooked}
		if _, err := tx.ExecContext(ctx, `INSERT INTO appointments (id, patient_id, start_at, minutes, clinician_id, reason, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.PatientID, a.Start.Unix(), a.Minutes, a.ClinicianID, a.Reason, a.Status, now.Unix(), now.Unix()); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "appointments", a.ID, map[string]any{"patient_id": a.PatientID, "start_at": a.Start.Unix(),
			"minutes": a.Minutes, "clinician_id": a.ClinicianID, "reason": a.Reason, "status": a.Status, "archived": false}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "appointment-booked", p.MRN, fmt.Sprintf("%s with %s", a.Start.Local().Format("2006-01-02 15:04"), c.Name))
	})
	return a, warnings, err
}

const appointmentSelect = `SELECT a.id, a.patient_id, p.mrn, p.family || ', ' || p.given, a.start_at, a.minutes, a.clinician_id, coalesce(u.name, '?'), a.reason, a.status
	FROM appointments a JOIN patients p ON p.id = a.patient_id LEFT JOIN users u ON u.id = a.clinician_id`

func scanAppointments(rows *sql.Rows) ([]Appointment, error) {
	defer rows.Close()
	var out []Appointment
	for rows.Next() {
		var a Appointment
		var at int64
		if err := rows.Scan(&a.ID, &a.PatientID, &a.PatientMRN, &a.PatientName, &at, &a.Minutes, &a.ClinicianID, &a.ClinicianName, &a.Reason, &a.Status); err != nil {
			return nil, err
		}
		a.Start = time.Unix(at, 0)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Day returns the appointments of the local day that contains day, by
// clinician then time; cancelled ones are included (their status says so).
func (s *Session) Day(ctx context.Context, day time.Time) ([]Appointment, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	day = day.Local()
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.Local)
	to := from.AddDate(0, 0, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.general.QueryContext(ctx, appointmentSelect+` WHERE a.archived = 0 AND a.start_at >= ? AND a.start_at < ?
		ORDER BY coalesce(u.name, ''), a.start_at`, from.Unix(), to.Unix())
	if err != nil {
		return nil, err
	}
	return scanAppointments(rows)
}

// PatientAppointments returns a patient's appointments, newest first.
func (s *Session) PatientAppointments(ctx context.Context, mrn string) ([]Appointment, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.patientByMRN(ctx, s.general, mrn)
	if err != nil {
		return nil, err
	}
	ids, err := patientIDs(ctx, s.general, p.ID)
	if err != nil {
		return nil, err
	}
	rows, err := s.general.QueryContext(ctx, appointmentSelect+` WHERE a.archived = 0 AND a.patient_id IN (`+placeholders(len(ids))+`) ORDER BY a.start_at DESC`, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	return scanAppointments(rows)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *Session) appointmentTx(ctx context.Context, tx *sql.Tx, id string) (Appointment, error) {
	rows, err := tx.QueryContext(ctx, appointmentSelect+` WHERE a.id = ?`, id)
	if err != nil {
		return Appointment{}, err
	}
	list, err := scanAppointments(rows)
	if err != nil {
		return Appointment{}, err
	}
	if len(list) == 0 {
		return Appointment{}, fmt.Errorf("%s: %w", id, ErrAppointmentNotFound)
	}
	return list[0], nil
}

// MoveAppointment changes an appointment's time and length; overlaps are
// returned as warnings.
func (s *Session) MoveAppointment(ctx context.Context, id string, start time.Time, minutes int) ([]string, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	if err := checkSlot(start, minutes); err != nil {
		return nil, err
	}
	now := s.v.now()
	var warnings []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, err := s.appointmentTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if warnings, err = overlaps(ctx, tx, a.ClinicianID, a.ID, start, minutes); err != nil {
			return err
		}
		start = start.Truncate(time.Minute)
		if _, err := tx.ExecContext(ctx, `UPDATE appointments SET start_at = ?, minutes = ?, updated_at = ? WHERE id = ?`, start.Unix(), minutes, now.Unix(), id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "appointments", id, map[string]any{"start_at": start.Unix(), "minutes": minutes}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "appointment-moved", a.PatientMRN, fmt.Sprintf("from %s to %s", a.Start.Local().Format("2006-01-02 15:04"), start.Local().Format("2006-01-02 15:04")))
	})
	return warnings, err
}

// SetAppointmentStatus moves an appointment along: arrived (checked in),
// in room, done, cancelled or no-show.
func (s *Session) SetAppointmentStatus(ctx context.Context, id, status string) error {
	if err := s.require(); err != nil {
		return err
	}
	valid := false
	for _, st := range AppointmentStatuses {
		if st == status {
			valid = true
		}
	}
	if !valid {
		return invalid("status %q is not one of %s", status, strings.Join(AppointmentStatuses, ", "))
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		a, err := s.appointmentTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.Status == status {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE appointments SET status = ?, updated_at = ? WHERE id = ?`, status, now.Unix(), id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "appointments", id, map[string]any{"status": status}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "appointment-"+strings.ReplaceAll(status, " ", "-"), a.PatientMRN, a.Start.Local().Format("2006-01-02 15:04"))
	})
}

// Clinicians lists the staff who can be booked: clinicians and admins.
func (s *Session) Clinicians(ctx context.Context) ([]string, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.general.QueryContext(ctx, `SELECT name FROM users WHERE removed_at IS NULL AND role IN ('clinician', 'admin') ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out, rows.Err()
}
