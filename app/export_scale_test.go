package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// countingQuerier counts the queries made through it.
type countingQuerier struct {
	querier
	mu      *sync.Mutex
	queries *[]string
}

func (c countingQuerier) note(q string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.queries = append(*c.queries, q)
}

func (c countingQuerier) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.note(q)
	return c.querier.QueryContext(ctx, q, args...)
}

func (c countingQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	c.note(q)
	return c.querier.QueryRowContext(ctx, q, args...)
}

// countExportQueries makes exports count their queries (both databases)
// until the test ends.
func countExportQueries(t *testing.T) *[]string {
	var mu sync.Mutex
	queries := new([]string)
	orig := exportQueriers
	exportQueriers = func(general, clinical querier) (querier, querier) {
		g, c := orig(general, clinical)
		g = countingQuerier{g, &mu, queries}
		if c != nil {
			c = countingQuerier{c, &mu, queries}
		}
		return g, c
	}
	t.Cleanup(func() { exportQueriers = orig })
	return queries
}

// TestExportReadsThePracticeInScansNotPerPatient: an export of the whole
// practice made queries per patient, one of which scanned the patients
// table (records merged into a patient, on an unindexed column), so it
// grew with the square of the practice (225 s for 52,000 patients). Now
// it reads the patients in one scan and the charts a few hundred at a
// time: the number of queries must not grow with each patient. The
// charts are still whole: a merged record's vitals are in its survivor's
// chart, and a chart restricted to another clinician is demographics only.
func TestExportReadsThePracticeInScansNotPerPatient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	const n = 2000
	ps := DemoPatients(n, 3, f.clk.Now())
	if err := a.AddPatients(ctx, ps, nil); err != nil {
		t.Fatal(err)
	}
	var keep, dup, private Patient
	for i, p := range []*Patient{&keep, &dup, &private} {
		got, err := a.GetPatient(ctx, ps[i].MRN)
		if err != nil {
			t.Fatal(err)
		}
		*p = got
	}
	for _, p := range []Patient{keep, dup, private} {
		if err := a.AddVitals(ctx, p.MRN, Vitals{Pulse: ip(70)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.MergePatients(ctx, keep.MRN, dup.MRN); err != nil {
		t.Fatal(err)
	}
	omar := signInOn(t, f, f.v, "Dr Omar Haddad", docPass)
	defer omar.Lock(ctx)
	if err := omar.RestrictChart(ctx, private.MRN, nil); err != nil {
		t.Fatal(err)
	}

	queries := countExportQueries(t)
	var buf bytes.Buffer
	got, err := a.Export(ctx, &buf, ExportOptions{Format: FormatFHIR, Plaintext: true})
	if err != nil || got != n-1 { // the merged record is archived
		t.Fatalf("exported %d of %d: %v", got, n-1, err)
	}
	scans := 0
	for _, q := range *queries {
		if strings.Contains(q, "FROM patients WHERE archived = 0") {
			scans++
		}
		if strings.Contains(q, "merged_into = ?") || strings.Contains(q, "mrn = ?") {
			t.Fatalf("a per-patient look-up in the export: %s", q)
		}
	}
	if scans != 1 {
		t.Errorf("the export read the patients in %d scans, not one", scans)
	}
	if len(*queries) > 40 || len(*queries)*20 > n {
		t.Errorf("the export of %d patients made %d queries: per patient, not per few hundred", n, len(*queries))
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
				Subject      struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(buf.Bytes(), &bundle); err != nil {
		t.Fatal(err)
	}
	pulses := map[string]int{}
	patients := 0
	for _, e := range bundle.Entry {
		switch e.Resource.ResourceType {
		case "Patient":
			patients++
		case "Observation":
			pulses[strings.TrimPrefix(e.Resource.Subject.Reference, "urn:uuid:")]++
		}
	}
	if patients != n-1 || pulses[keep.ID] != 2 || pulses[private.ID] != 0 || len(pulses) != 1 {
		t.Fatalf("%d patients; pulses by patient %v (want 2 for the survivor of the merge, none for the restricted chart)", patients, pulses)
	}

	*queries = nil
	if got, err := a.Export(ctx, &buf, ExportOptions{Format: FormatCSV, Plaintext: true}); err != nil || got != n-1 {
		t.Fatalf("csv: %d %v", got, err)
	}
	if len(*queries) != 1 {
		t.Errorf("a CSV export needs one scan of the patients; it made %d queries: %q", len(*queries), *queries)
	}
}
