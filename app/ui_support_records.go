package app

import "context"

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
	rows, err := s.general.QueryContext(ctx, `SELECT coalesce(u.name, '?') FROM chart_restrictions r LEFT JOIN users u ON u.id = r.clinician_id
		WHERE r.patient_id = ? AND r.archived = 0 ORDER BY 1`, p.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
