package app

import (
	"context"
	"errors"
	"slices"
)

// exportIDsPerRead is how many patient ids (merged records included) an
// export reads the clinical sections of in one query per section: well
// under SQLite's oldest limit of 999 bound parameters.
const exportIDsPerRead = 900

// exportQueriers gives an export the databases it reads; a test wraps
// them to count the queries an export makes.
var exportQueriers = func(general, clinical querier) (querier, querier) { return general, clinical }

// eachExportChart calls fn with the chart of each patient an export
// writes, in the export's order (family, then given name): the patient
// mrn names, or the whole practice. The practice's patients are read in
// one scan, and so are its merged records and chart restrictions; the
// clinical sections (when withClinical, for a clinician) are read a few
// hundred patients at a time, one query per section. Nothing is read
// once per patient: a per-patient look-up that scans a table made
// exports quadratic (225 s for 52,000 patients).
func (s *Session) eachExportChart(ctx context.Context, mrn string, withClinical bool, fn func(*Chart) error) error {
	if mrn != "" {
		c, err := s.loadChartForExport(ctx, mrn)
		if err != nil {
			return err
		}
		return fn(c)
	}
	s.mu.Lock()
	var clinicalDB querier
	withClinical = withClinical && s.clinical != nil && s.user.Role.Clinical()
	if withClinical {
		clinicalDB = s.clinical
	}
	general, clinicalDB := exportQueriers(s.general, clinicalDB)
	patients, err := queryAll(ctx, general, scanPatient, `SELECT `+patientColumns+` FROM patients WHERE archived = 0 ORDER BY family, given`)
	var merged, restricted map[string][]string
	if err == nil && withClinical {
		merged, err = pairsByFirst(ctx, general, `SELECT merged_into, id FROM patients WHERE merged_into != ''`)
	}
	if err == nil && withClinical {
		restricted, err = pairsByFirst(ctx, general, `SELECT patient_id, clinician_id FROM chart_restrictions WHERE archived = 0`)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var batch []*Chart
	ids := 0
	flush := func() error {
		if withClinical {
			if err := s.loadExportClinical(ctx, general, clinicalDB, batch, merged, restricted); err != nil {
				return err
			}
		}
		for _, c := range batch {
			if err := fn(c); err != nil {
				return err
			}
		}
		batch, ids = batch[:0], 0
		return nil
	}
	for i := range patients {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := &Chart{Patient: patients[i]}
		patients[i] = Patient{} // written once: let it go with its chart
		batch = append(batch, c)
		if withClinical {
			ids += len(mergedIDs(c.Patient.ID, merged))
		}
		if ids >= exportIDsPerRead || len(batch) >= exportIDsPerRead {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// loadExportClinical reads the clinical sections of the charts their
// clinician may open (the others stay demographics only, as in
// loadChartForExport), in one query per section for them all.
func (s *Session) loadExportClinical(ctx context.Context, general, clinical querier, charts []*Chart, merged, restricted map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	owners := map[string]*Chart{}
	var ids []string
	for _, c := range charts {
		all := mergedIDs(c.Patient.ID, merged)
		err := s.mayOpenClinicalIDs(ctx, general, c.Patient.ID, all, func(id string) (bool, bool, error) {
			named := restricted[id]
			return len(named) == 0 || slices.Contains(named, s.user.ID), len(named) > 0, nil
		})
		if errors.Is(err, ErrRestricted) {
			continue // restricted: demographics only
		}
		if err != nil {
			return err
		}
		c.Clinical = true
		for _, id := range all {
			owners[id] = c
		}
		ids = append(ids, all...)
	}
	if len(ids) == 0 {
		return nil
	}
	return loadClinicalInto(ctx, general, clinical, func(id string) *Chart { return owners[id] }, placeholders(len(ids)), anySlice(ids))
}

// mergedIDs is patientIDs read from merged (each patient's id to the ids
// of the records merged into it), as one scan of the patients gave it.
func mergedIDs(id string, merged map[string][]string) []string {
	ids := []string{id}
	for i := 0; i < len(ids) && i < 100; i++ {
		ids = append(ids, merged[ids[i]]...)
	}
	return ids
}

// pairsByFirst runs a query of two text columns and groups the second by
// the first.
func pairsByFirst(ctx context.Context, q querier, query string) (map[string][]string, error) {
	pairs, err := queryAll(ctx, q, func(r row) (p [2]string, err error) {
		err = r.Scan(&p[0], &p[1])
		return p, err
	}, query)
	if err != nil {
		return nil, err
	}
	m := make(map[string][]string, len(pairs))
	for _, p := range pairs {
		m[p[0]] = append(m[p[0]], p[1])
	}
	return m, nil
}
