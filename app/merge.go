package app

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/clinicvault/clinicvault/store"
)

// MergePatients joins duplicate into keep: the duplicate is archived and
// points at keep, its appointments move to keep, and the chart of keep
// shows the clinical history of both. Both records stay in full.
func (s *Session) MergePatients(ctx context.Context, keepMRN, duplicateMRN string) error {
	if err := s.require(); err != nil {
		return err
	}
	w := s.patientWriter()
	return s.write(ctx, func(tx *sql.Tx) error {
		keep, err := s.patientByMRN(ctx, tx, keepMRN)
		if err != nil {
			return err
		}
		dup, err := s.patientByMRN(ctx, tx, duplicateMRN)
		if err != nil {
			return err
		}
		if keep.ID == dup.ID {
			return invalid("a patient cannot be merged into itself")
		}
		if keep.Archived {
			return invalid("%s is archived; merge into a current record", keep.MRN)
		}
		// A restricted chart keeps its restriction through a merge (the
		// kept chart shows both histories), and merging it takes someone
		// who may open it: a clinician named on it, or one who used
		// emergency access to it.
		for _, p := range []Patient{keep, dup} {
			ids, err := patientIDsIn(ctx, tx, p.ID)
			if err != nil {
				return err
			}
			for _, id := range ids {
				allowed, restricted, err := chartAllowed(ctx, tx, id, s.user.ID)
				if err != nil {
					return err
				}
				if restricted && !(allowed && s.user.Role.Clinical()) && !(s.user.Role.Clinical() && s.hadEmergencyAccess(ctx, tx, p.ID, id)) {
					return fmt.Errorf("%s's chart is restricted: merging it takes a clinician named on the restriction (or one who used emergency access to it): %w", p.MRN, ErrRestricted)
				}
			}
		}
		dup.Archived, dup.MergedInto = true, keep.ID
		if err := w.update(ctx, tx, &dup, colArchived, colMergedInto); err != nil {
			return err
		}
		appts, err := queryAll(ctx, tx, scanString, `SELECT id FROM appointments WHERE patient_id = ?`, dup.ID)
		if err != nil {
			return err
		}
		for _, id := range appts {
			if err := w.setRow(ctx, tx, "appointments", id, map[string]any{"patient_id": keep.ID}); err != nil {
				return err
			}
		}
		return audit(ctx, tx, w.now, s.actor(), "patients-merged", keep.MRN, fmt.Sprintf("%s merged into %s; %d appointments moved", dup.MRN, keep.MRN, len(appts)))
	})
}

// patientIDs returns the id of the patient and of every record merged
// into it (transitively), so a chart shows both histories.
func patientIDs(ctx context.Context, db *store.DB, id string) ([]string, error) {
	return patientIDsIn(ctx, db, id)
}

// patientIDsIn is patientIDs within a transaction or on a database.
func patientIDsIn(ctx context.Context, db querier, id string) ([]string, error) {
	ids := []string{id}
	for i := 0; i < len(ids) && i < 100; i++ {
		merged, err := queryAll(ctx, db, scanString, `SELECT id FROM patients WHERE merged_into = ?`, ids[i])
		if err != nil {
			return nil, err
		}
		ids = append(ids, merged...)
	}
	return ids, nil
}
