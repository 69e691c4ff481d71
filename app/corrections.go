package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Corrections to a chart's allergies, medications and problems: a field
// edited, a medication stopped, a problem resolved, or a record marked
// "entered in error" (it leaves the lists and the allergy check, and
// stays, with the reason, in its history: History shows every change).

// Correction is what changes in one record. Only the fields named in Set
// change; EnteredInError, when not empty, is the reason the record was a
// mistake.
type Correction struct {
	Set            map[string]string
	EnteredInError string
	// OverrideReason: a medication renamed into a drug that conflicts
	// with a recorded allergy needs one, as a new one does.
	OverrideReason string
}

// correctable are the fields each kind of record may have corrected.
var correctable = map[string]map[string]bool{
	"allergies":   {"substance": true, "reaction": true, "severity": true},
	"medications": {"name": true, "dose": true, "route": true, "frequency": true, "start_date": true, "stop_date": true},
	"problems":    {"description": true, "icd10": true, "onset": true, "status": true},
}

// CorrectRecord corrects one allergy, medication or problem of the
// patient mrn (clinicians and admins), audited as <kind>-corrected or
// <kind>-entered-in-error.
func (s *Session) CorrectRecord(ctx context.Context, mrn, table, id string, c Correction) error {
	fields, ok := correctable[table]
	if !ok {
		return invalid("%q records cannot be corrected here (allergies, medications, problems)", table)
	}
	set := map[string]any{}
	for col, v := range c.Set {
		if !fields[col] {
			return invalid("%s has no field %q to correct", table, col)
		}
		v, err := cleanText(strings.ReplaceAll(col, "_", " "), v, 500, false)
		if err != nil {
			return err
		}
		switch col {
		case "start_date", "stop_date", "onset":
			if v != "" {
				if _, err := time.Parse("2006-01-02", v); err != nil {
					return invalid("%s %q is not a date in the form YYYY-MM-DD", strings.ReplaceAll(col, "_", " "), v)
				}
			}
		case "status":
			if v != "active" && v != "resolved" && v != "inactive" {
				return invalid("problem status %q is not active, inactive or resolved", v)
			}
		case "icd10":
			v = strings.ToUpper(v)
			if v != "" && !icd10.MatchString(v) {
				return invalid("ICD-10 code %q is not of the form A00 or A00.0", v)
			}
		case "substance", "name", "description":
			if v == "" {
				return invalid("the %s cannot be empty", col)
			}
		}
		set[col] = v
	}
	reason := strings.TrimSpace(c.EnteredInError)
	if c.EnteredInError != "" {
		if len([]rune(reason)) < 5 {
			return invalid("say why it was entered in error, in a few words")
		}
		set["entered_in_error"] = reason
		set["archived"] = 1
	}
	if len(set) == 0 {
		return invalid("nothing to correct")
	}
	now := s.v.now()
	set["updated_at"] = now.Unix()
	kind := map[string]string{"allergies": "allergy", "medications": "medication", "problems": "problem"}[table]
	return s.clinicalWrite(ctx, mrn, func(tx *sql.Tx, p Patient) (string, string, error) {
		ids, err := patientIDs(ctx, s.general, p.ID)
		if err != nil {
			return "", "", err
		}
		var archived int
		err = tx.QueryRowContext(ctx, `SELECT archived FROM `+table+` WHERE id = ? AND patient_id IN (`+placeholders(len(ids))+`)`,
			append([]any{id}, anySlice(ids)...)...).Scan(&archived)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", fmt.Errorf("%s %s of %s: %w", kind, id, p.MRN, ErrNotFound)
		}
		if err != nil {
			return "", "", err
		}
		if archived != 0 {
			return "", "", invalid("that %s was entered in error already; record a new one", kind)
		}
		if name, ok := c.Set["name"]; ok && table == "medications" {
			allergies, err := s.allergiesOf(ctx, tx, p.ID)
			if err != nil {
				return "", "", err
			}
			if conflicts := theDrugTable().conflicts(name, allergies); len(conflicts) > 0 {
				if len([]rune(strings.TrimSpace(c.OverrideReason))) < 5 {
					return "", "", &AllergyConflictError{Medication: name, Conflicts: conflicts}
				}
				set["allergy_override"] = strings.TrimSpace(c.OverrideReason)
			}
		}
		cols := make([]string, 0, len(set))
		for col := range set {
			cols = append(cols, col)
		}
		sort.Strings(cols)
		var assigns []string
		args := []any{}
		for _, col := range cols {
			assigns = append(assigns, col+" = ?")
			args = append(args, set[col])
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET `+strings.Join(assigns, ", ")+` WHERE id = ?`, append(args, id)...); err != nil {
			return "", "", err
		}
		if err := s.recordChanges(ctx, tx, table, id, set); err != nil {
			return "", "", err
		}
		if reason != "" {
			return kind + "-entered-in-error", id, nil
		}
		return kind + "-corrected", id, nil
	})
}
