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

// ErrNotBookable means the person named does not see patients: the day
// book does not offer them (an admin can mark them so on the Staff
// screen).
var ErrNotBookable = errors.New("does not see patients")

// bookableSQL is whether a users row is offered when booking: a
// clinician unless marked otherwise, an admin only when marked.
const bookableSQL = `(role IN ('clinician', 'admin') AND coalesce(bookable, role = 'clinician'))`

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
	// CancelReason is why it was cancelled, when it was.
	CancelReason string
}

// End is when the appointment ends.
func (a Appointment) End() time.Time { return a.Start.Add(time.Duration(a.Minutes) * time.Minute) }

func (s *Session) clinicianByName(ctx context.Context, q querier, name string) (User, error) {
	u, err := s.userByName(ctx, q, name)
	if err != nil {
		return u, err
	}
	if !u.Role.Clinical() {
		return u, invalid("%s is a %s, not a clinician", u.Name, u.Role)
	}
	if !u.Bookable {
		return u, fmt.Errorf("%s %w: an admin can mark them as seeing patients on the Staff screen", u.Name, ErrNotBookable)
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
// that overlap [start, start+minutes), and for the patient's own
// appointments with anyone at that time.
func overlaps(ctx context.Context, q querier, clinicianID, patientID, exceptID string, start time.Time, minutes int) ([]string, error) {
	end := start.Add(time.Duration(minutes) * time.Minute)
	return queryAll(ctx, q, func(r row) (string, error) {
		var same bool
		var clin, fam, giv string
		var at int64
		var m int
		if err := r.Scan(&same, &clin, &at, &m, &fam, &giv); err != nil {
			return "", err
		}
		when := time.Unix(at, 0).Local().Format("15:04")
		if same {
			return fmt.Sprintf("overlaps %s, %s's appointment with %s at %s (%d min)", fam, giv, clin, when, m), nil
		}
		return fmt.Sprintf("%s, %s already has an appointment with %s at %s (%d min)", fam, giv, clin, when, m), nil
	}, `SELECT a.clinician_id = ?, coalesce(u.name, '?'), a.start_at, a.minutes, p.family, p.given
		FROM appointments a JOIN patients p ON p.id = a.patient_id LEFT JOIN users u ON u.id = a.clinician_id
		WHERE (a.clinician_id = ? OR a.patient_id = ?) AND a.id != ? AND a.archived = 0 AND a.status NOT IN ('cancelled', 'no-show')
		AND a.start_at < ? AND a.start_at + a.minutes * 60 > ? ORDER BY a.start_at`, clinicianID, clinicianID, patientID, exceptID, end.Unix(), start.Unix())
}

// Slot is a proposed time for an appointment, to check before saving.
type Slot struct {
	ExceptID  string // the appointment being moved, if any
	MRN       string // the patient, if chosen
	Clinician string
	Start     time.Time
	Minutes   int
}

// CheckSlot says, before anything is saved, what a booking or a move to
// this slot would overlap. An error means it could not be booked at all.
func (s *Session) CheckSlot(ctx context.Context, sl Slot) ([]string, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	if err := checkSlot(sl.Start, sl.Minutes); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.clinicianByName(ctx, s.general, sl.Clinician)
	if err != nil {
		return nil, err
	}
	patientID := ""
	if sl.MRN != "" {
		p, err := s.patientByMRN(ctx, s.general, sl.MRN)
		if err != nil {
			return nil, err
		}
		patientID = p.ID
	}
	return overlaps(ctx, s.general, c.ID, patientID, sl.ExceptID, sl.Start.Truncate(time.Minute), sl.Minutes)
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
		if warnings, err = overlaps(ctx, tx, c.ID, p.ID, "", start.Truncate(time.Minute), minutes); err != nil {
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

const appointmentSelect = `SELECT a.id, a.patient_id, p.mrn, p.family || ', ' || p.given, a.start_at, a.minutes, a.clinician_id, coalesce(u.name, '?'), a.reason, a.status, a.cancel_reason
	FROM appointments a JOIN patients p ON p.id = a.patient_id LEFT JOIN users u ON u.id = a.clinician_id`

// scanAppointment reads one row of appointmentSelect.
func scanAppointment(r row) (Appointment, error) {
	var a Appointment
	var at int64
	err := r.Scan(&a.ID, &a.PatientID, &a.PatientMRN, &a.PatientName, &at, &a.Minutes, &a.ClinicianID, &a.ClinicianName, &a.Reason, &a.Status, &a.CancelReason)
	a.Start = time.Unix(at, 0)
	return a, err
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
	return queryAll(ctx, s.general, scanAppointment, appointmentSelect+` WHERE a.archived = 0 AND a.start_at >= ? AND a.start_at < ?
		ORDER BY coalesce(u.name, ''), a.start_at`, from.Unix(), to.Unix())
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
	return queryAll(ctx, s.general, scanAppointment, appointmentSelect+` WHERE a.archived = 0 AND a.patient_id IN (`+placeholders(len(ids))+`) ORDER BY a.start_at DESC`, anySlice(ids)...)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// appointmentIn reads one live appointment through q (the database or
// a transaction).
func appointmentIn(ctx context.Context, q querier, id string) (Appointment, error) {
	a, err := scanAppointment(q.QueryRowContext(ctx, appointmentSelect+` WHERE a.id = ? AND a.archived = 0`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Appointment{}, fmt.Errorf("%s: %w", id, ErrAppointmentNotFound)
	}
	return a, err
}

// AppointmentByID returns one appointment.
func (s *Session) AppointmentByID(ctx context.Context, id string) (Appointment, error) {
	if err := s.require(); err != nil {
		return Appointment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return appointmentIn(ctx, s.general, id)
}

// MoveAppointment changes an appointment's time and length, and its
// clinician when clinician is not empty; overlaps are returned as
// warnings (CheckSlot shows them before saving).
func (s *Session) MoveAppointment(ctx context.Context, id string, start time.Time, minutes int, clinician string) ([]string, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	if err := checkSlot(start, minutes); err != nil {
		return nil, err
	}
	now := s.v.now()
	var warnings []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		a, err := appointmentIn(ctx, tx, id)
		if err != nil {
			return err
		}
		switch a.Status {
		case StatusDone, StatusCancelled, StatusNoShow:
			return invalid("the appointment is %s; book a new one instead", statusPhrase(a.Status))
		}
		clinID, clinName := a.ClinicianID, a.ClinicianName
		if clinician != "" && !strings.EqualFold(clinician, a.ClinicianName) {
			c, err := s.clinicianByName(ctx, tx, clinician)
			if err != nil {
				return err
			}
			clinID, clinName = c.ID, c.Name
		}
		start = start.Truncate(time.Minute)
		if warnings, err = overlaps(ctx, tx, clinID, a.PatientID, a.ID, start, minutes); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE appointments SET start_at = ?, minutes = ?, clinician_id = ?, updated_at = ? WHERE id = ?`,
			start.Unix(), minutes, clinID, now.Unix(), id); err != nil {
			return err
		}
		changes := map[string]any{"start_at": start.Unix(), "minutes": minutes}
		detail := fmt.Sprintf("from %s to %s", a.Start.Local().Format("2006-01-02 15:04"), start.Local().Format("2006-01-02 15:04"))
		if clinID != a.ClinicianID {
			changes["clinician_id"] = clinID
			detail += fmt.Sprintf(", from %s to %s", a.ClinicianName, clinName)
		}
		if err := s.recordChanges(ctx, tx, "appointments", id, changes); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "appointment-moved", a.PatientMRN, detail)
	})
	return warnings, err
}

// statusPhrase is how a status reads in a sentence.
func statusPhrase(status string) string {
	switch status {
	case StatusDone:
		return "done"
	case StatusNoShow:
		return "marked as a no-show"
	}
	return status
}

// ErrCancelReason means a cancellation was asked for without a reason.
var ErrCancelReason = errors.New("say why the appointment is cancelled")

// CancelAppointment cancels an appointment with the reason the front
// desk gives; it stays in the day book as cancelled, with the reason.
func (s *Session) CancelAppointment(ctx context.Context, id, reason string) error {
	if err := s.require(); err != nil {
		return err
	}
	reason, err := cleanText("reason", reason, maxShortRunes, false)
	if err != nil {
		return err
	}
	if reason == "" {
		return ErrCancelReason
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		a, err := appointmentIn(ctx, tx, id)
		if err != nil {
			return err
		}
		switch a.Status {
		case StatusCancelled:
			return invalid("the appointment is already cancelled")
		case StatusDone:
			return invalid("the appointment is done and cannot be cancelled")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE appointments SET status = ?, cancel_reason = ?, updated_at = ? WHERE id = ?`,
			StatusCancelled, reason, now.Unix(), id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "appointments", id, map[string]any{"status": StatusCancelled, "cancel_reason": reason}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "appointment-cancelled", a.PatientMRN, a.Start.Local().Format("2006-01-02 15:04")+": "+reason)
	})
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
		a, err := appointmentIn(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.Status == status {
			return nil
		}
		action := "appointment-" + strings.ReplaceAll(status, " ", "-")
		if a.Status == StatusArrived && status == StatusBooked {
			action = "appointment-check-in-undone"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE appointments SET status = ?, updated_at = ? WHERE id = ?`, status, now.Unix(), id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "appointments", id, map[string]any{"status": status}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), action, a.PatientMRN, a.Start.Local().Format("2006-01-02 15:04"))
	})
}

// Clinicians lists the staff who can be booked: those who see patients
// (clinicians, and admins marked so).
func (s *Session) Clinicians(ctx context.Context) ([]string, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return queryAll(ctx, s.general, scanString, `SELECT name FROM users WHERE removed_at IS NULL AND `+bookableSQL+` ORDER BY name COLLATE NOCASE`)
}

// SetBookable marks whether a clinician or an admin sees patients, that
// is whether the day book offers them (admins only). Receptionists never
// do: they have no clinical access.
func (s *Session) SetBookable(ctx context.Context, name string, bookable bool) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		u, err := s.userByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if !u.Role.Clinical() {
			return invalid("%s is a %s and has no clinical access: make them a clinician first", u.Name, u.Role)
		}
		if u.Bookable == bookable {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET bookable = ? WHERE id = ?`, bookable, u.ID); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "users", u.ID, map[string]any{"bookable": bookable}); err != nil {
			return err
		}
		detail := "sees patients: offered when booking"
		if !bookable {
			detail = "does not see patients: no longer offered when booking"
		}
		return audit(ctx, tx, now, s.actor(), "user-bookable", u.Name, detail)
	})
}
