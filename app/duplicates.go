package app

import "context"

// Duplicate is an existing patient that looks like the one being entered.
type Duplicate struct {
	Patient Patient
	Reason  string // "same name and date of birth" or "same phone"
}

// FindDuplicates returns current patients with the same name and date of
// birth, or the same phone number, as p.
func (s *Session) FindDuplicates(ctx context.Context, p Patient) ([]Duplicate, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return findDuplicates(ctx, s.general, p)
}

// maxDuplicates bounds how many look-alikes are returned.
const maxDuplicates = 20

func findDuplicates(ctx context.Context, q querier, p Patient) ([]Duplicate, error) {
	// Candidates by the indexed date of birth, then by phone digits (two
	// queries: an OR across two indexes would scan the table). Names
	// compare in Go, folded for case and accents (NOCASE folds ASCII only).
	family, given, phone := foldAccents(p.Family), foldAccents(p.Given), digits(p.Phone)
	var out []Duplicate
	seen := map[string]bool{}
	scan := func(query string, arg string, keep func(Patient) (string, bool)) error {
		found, err := queryAll(ctx, q, scanPatient, `SELECT `+patientColumns+` FROM patients WHERE `+query+` AND archived = 0 AND id != ? LIMIT 2000`, arg, p.ID)
		if err != nil {
			return err
		}
		for _, d := range found {
			if reason, ok := keep(d); ok && !seen[d.ID] && len(out) < maxDuplicates {
				seen[d.ID] = true
				out = append(out, Duplicate{d, reason})
			}
		}
		return nil
	}
	if err := scan("dob = ?", p.DOB, func(d Patient) (string, bool) {
		return "same name and date of birth", foldAccents(d.Family) == family && foldAccents(d.Given) == given
	}); err != nil {
		return nil, err
	}
	if phone != "" {
		if err := scan("phone_key = ? AND phone_key != ''", phone, func(Patient) (string, bool) { return "same phone", true }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// duplicateNote is what a new patient's audit row says of its look-alikes.
func duplicateNote(dups []Duplicate) string {
	if len(dups) == 0 {
		return ""
	}
	return "possible duplicate of " + dups[0].Patient.MRN
}
