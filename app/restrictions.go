package app

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Restricted charts and emergency access: who may open a patient's
// clinical record beyond the default, and the audited way around it.

// RestrictChart limits a patient's clinical chart to the named clinicians
// (the clinician restricting it is always included). Clinicians and admins.
func (s *Session) RestrictChart(ctx context.Context, mrn string, clinicians []string) error {
	if err := s.requireClinical(); err != nil {
		return err
	}
	now := s.v.now()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		// Only a clinician named on an existing restriction (or an admin)
		// may change it: otherwise restricting would be a way around it.
		if allowed, restricted, err := chartAllowed(ctx, tx, p.ID, s.user.ID); err != nil {
			return err
		} else if restricted && !allowed && s.user.Role != Admin {
			return fmt.Errorf("only the clinicians named on this chart's restriction or an admin may change it: %w", ErrNotPermitted)
		}
		ids := map[string]string{s.user.ID: s.user.Name}
		for _, n := range clinicians {
			u, err := s.clinicianByName(ctx, tx, n)
			if err != nil {
				return err
			}
			ids[u.ID] = u.Name
		}
		if err := s.archiveRestriction(ctx, tx, p.ID); err != nil {
			return err
		}
		var names []string
		for id, name := range ids {
			rid := newID()
			if _, err := tx.ExecContext(ctx, `INSERT INTO chart_restrictions (id, patient_id, clinician_id, added_by, created_at) VALUES (?, ?, ?, ?, ?)`,
				rid, p.ID, id, s.user.ID, now.Unix()); err != nil {
				return err
			}
			if err := s.recordChanges(ctx, tx, "chart_restrictions", rid, map[string]any{"patient_id": p.ID, "clinician_id": id, "added_by": s.user.ID}); err != nil {
				return err
			}
			names = append(names, name)
		}
		return audit(ctx, tx, now, s.actor(), "chart-restricted", p.MRN, "to "+strings.Join(names, ", "))
	})
}

// UnrestrictChart lifts a chart's restriction (a clinician on its list, or an admin).
func (s *Session) UnrestrictChart(ctx context.Context, mrn string) error {
	if err := s.requireClinical(); err != nil {
		return err
	}
	now := s.v.now()
	return s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		allowed, restricted, err := chartAllowed(ctx, tx, p.ID, s.user.ID)
		if err != nil || !restricted {
			return err
		}
		if !allowed && s.user.Role != Admin {
			return fmt.Errorf("only the clinicians named on it or an admin may lift it: %w", ErrNotPermitted)
		}
		if err := s.archiveRestriction(ctx, tx, p.ID); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "chart-unrestricted", p.MRN, "")
	})
}

// archiveRestriction lifts a chart's current restriction rows, each as a
// change that reaches the other computers (a narrowed or lifted
// restriction must not stay wider elsewhere).
func (s *Session) archiveRestriction(ctx context.Context, tx *sql.Tx, patientID string) error {
	ids, err := queryAll(ctx, tx, scanString, `SELECT id FROM chart_restrictions WHERE patient_id = ? AND archived = 0`, patientID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE chart_restrictions SET archived = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "chart_restrictions", id, map[string]any{"archived": true}); err != nil {
			return err
		}
	}
	return nil
}

// chartAllowed reports whether a chart is restricted and whether user may
// open it. When the restriction cannot be read the chart counts as
// restricted and not allowed, whatever the caller does with err.
func chartAllowed(ctx context.Context, q querier, patientID, userID string) (allowed, restricted bool, err error) {
	named, err := queryAll(ctx, q, scanString, `SELECT clinician_id FROM chart_restrictions WHERE patient_id = ? AND archived = 0`, patientID)
	if err != nil {
		return false, true, err
	}
	return len(named) == 0 || slices.Contains(named, userID), len(named) > 0, nil
}

// OpenChartEmergency opens a restricted chart for a clinician not named on
// it (HIPAA's emergency access procedure): the reason is required, the
// access is audited and waits for an admin's review.
func (s *Session) OpenChartEmergency(ctx context.Context, mrn, reason string) (*Chart, error) {
	if err := s.requireClinical(); err != nil {
		return nil, err
	}
	reason, err := cleanText("reason", reason, 500, false)
	if err != nil {
		return nil, err
	}
	if len([]rune(reason)) < 10 {
		return nil, invalid("give the reason for emergency access in a sentence (at least 10 characters)")
	}
	now := s.v.now()
	err = s.writePatient(ctx, mrn, func(tx *sql.Tx, p Patient) error {
		id := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO emergency_access (id, patient_id, user_id, reason, at) VALUES (?, ?, ?, ?, ?)`, id, p.ID, s.user.ID, reason, now.Unix()); err != nil {
			return err
		}
		if err := s.recordChanges(ctx, tx, "emergency_access", id, map[string]any{"patient_id": p.ID, "user_id": s.user.ID, "reason": reason, "at": now.Unix()}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "emergency-access", p.MRN, reason)
	})
	if err != nil {
		return nil, err
	}
	return s.openChart(ctx, mrn, true)
}

// EmergencyAccess is one use of emergency access.
type EmergencyAccess struct {
	ID         string
	PatientMRN string
	Patient    string
	User       string
	Reason     string
	At         time.Time
	ReviewedBy string
	ReviewedAt time.Time
	Note       string
}

// EmergencyAccesses lists emergency accesses, those awaiting review first (admins).
func (s *Session) EmergencyAccesses(ctx context.Context, pendingOnly bool) ([]EmergencyAccess, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := `SELECT e.id, p.mrn, p.family || ', ' || p.given, coalesce(u.name, '?'), e.reason, e.at, coalesce(r.name, ''), e.reviewed_at, e.review_note
		FROM emergency_access e JOIN patients p ON p.id = e.patient_id LEFT JOIN users u ON u.id = e.user_id LEFT JOIN users r ON r.id = e.reviewed_by`
	if pendingOnly {
		q += ` WHERE e.reviewed_at IS NULL`
	}
	return queryAll(ctx, s.general, func(r row) (e EmergencyAccess, err error) {
		var at int64
		var rev sql.NullInt64
		err = r.Scan(&e.ID, &e.PatientMRN, &e.Patient, &e.User, &e.Reason, &at, &e.ReviewedBy, &rev, &e.Note)
		e.At = time.Unix(at, 0)
		if rev.Valid {
			e.ReviewedAt = time.Unix(rev.Int64, 0)
		}
		return e, err
	}, q+` ORDER BY e.reviewed_at IS NOT NULL, e.at DESC`)
}

// ReviewEmergencyAccess marks an emergency access as reviewed (admins).
func (s *Session) ReviewEmergencyAccess(ctx context.Context, id, note string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	note, err := cleanText("review note", note, 500, false)
	if err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE emergency_access SET reviewed_by = ?, reviewed_at = ?, review_note = ? WHERE id = ? AND reviewed_at IS NULL`,
			s.user.ID, now.Unix(), note, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("emergency access %s: %w", id, ErrNotFound)
		}
		if err := s.recordChanges(ctx, tx, "emergency_access", id, map[string]any{"reviewed_by": s.user.ID, "reviewed_at": now.Unix(), "review_note": note}); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "emergency-access-reviewed", id, note)
	})
}

// ChartRestriction returns the names of the clinicians a patient's chart
// is restricted to, sorted, or none when it is not restricted. Any
// signed-in role may ask: the chart screen says who may open it.
func (s *Session) ChartRestriction(ctx context.Context, mrn string) ([]string, error) {
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
	return queryAll(ctx, s.general, scanString, `SELECT coalesce(u.name, '?') FROM chart_restrictions r LEFT JOIN users u ON u.id = r.clinician_id
		WHERE r.patient_id = ? AND r.archived = 0 ORDER BY 1`, p.ID)
}
