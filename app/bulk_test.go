package app

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAddPatientsInBulk: a bulk insert (large enough for the in-memory
// checks and the writer goroutine) finds duplicates of existing patients
// and within itself, gives every patient a distinct MRN, indexes them for
// search, writes a change record and an audit row each, and keeps the
// audit chain whole.
func TestAddPatientsInBulk(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	old, _, err := a.AddPatient(ctx, Patient{Given: "José", Family: "Núñez", DOB: "1980-03-02", Phone: "+44 20 7946 0001"})
	if err != nil {
		t.Fatal(err)
	}
	ps := DemoPatients(bulkChunk*4+17, 11, a.v.now())
	ps[5] = Patient{Given: "jose", Family: "NUNEZ", DOB: "1980-03-02"}                                         // same name and DOB as an existing patient
	ps[bulkChunk+1] = Patient{Given: "Ada", Family: "Lovelace", DOB: "1915-12-10", Phone: "0044 20 7946 0001"} // different digits: no
	ps[bulkChunk+2] = Patient{Given: "Ada", Family: "Byron", DOB: "1915-12-10", Phone: "+44 20 7946 0001"}     // same phone
	ps[2*bulkChunk+3] = Patient{Given: "Zoë", Family: "Quill", DOB: "2000-01-01"}
	ps[2*bulkChunk+4] = Patient{Given: "Zoe", Family: "Quill", DOB: "2000-01-01"} // duplicates the row before it
	indexes := func() string {
		var out []string
		rows, _ := a.general.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients' ORDER BY name`)
		for rows.Next() {
			var name string
			var q sql.NullString
			rows.Scan(&name, &q)
			out = append(out, name+": "+q.String)
		}
		rows.Close()
		return strings.Join(out, "\n")
	}
	before := indexes()
	var done []int
	if err := a.AddPatients(ctx, ps, func(n, total int) { done = append(done, n) }); err != nil {
		t.Fatal(err)
	}
	// A bulk larger than the table rebuilds the secondary indexes at the
	// end: they are all back, and used.
	if after := indexes(); after != before || !strings.Contains(after, "patients_mrn") {
		t.Fatalf("indexes before:\n%s\nafter:\n%s", before, after)
	}
	var plan string
	var x1, x2 int
	a.general.QueryRow(`EXPLAIN QUERY PLAN SELECT id FROM patients WHERE mrn = ?`, "X").Scan(&x1, &x2, &x1, &plan)
	if !strings.Contains(plan, "patients_mrn") {
		t.Fatalf("MRN look-up plan: %q", plan)
	}
	mrns := map[string]bool{old.MRN: true}
	for _, p := range ps {
		if mrns[p.MRN] || !mrnPattern.MatchString(p.MRN) {
			t.Fatalf("MRN %q repeated or malformed", p.MRN)
		}
		mrns[p.MRN] = true
	}
	var patients, changes, created int
	a.general.QueryRow(`SELECT count(*) FROM patients`).Scan(&patients)
	a.general.QueryRow(`SELECT count(*) FROM changes WHERE tbl = 'patients'`).Scan(&changes)
	a.general.QueryRow(`SELECT count(*) FROM audit WHERE action = 'patient-created'`).Scan(&created)
	if patients != len(ps)+1 || changes != len(ps)+1 || created != len(ps)+1 {
		t.Fatalf("%d patients, %d change records, %d audit rows for %d", patients, changes, created, len(ps)+1)
	}
	if n, err := a.AuditVerify(ctx); err != nil || n == 0 {
		t.Fatalf("audit chain: %d %v", n, err)
	}
	detail := func(mrn string) string {
		var d string
		a.general.QueryRow(`SELECT detail FROM audit WHERE action = 'patient-created' AND subject = ?`, mrn).Scan(&d)
		return d
	}
	for _, c := range []struct {
		i    int
		want string
	}{{5, old.MRN}, {bulkChunk + 1, ""}, {bulkChunk + 2, old.MRN}, {2*bulkChunk + 3, ""}, {2*bulkChunk + 4, ps[2*bulkChunk+3].MRN}} {
		got := detail(ps[c.i].MRN)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("row %d: duplicate note %q, want %q", c.i, got, c.want)
		}
	}
	for _, p := range []Patient{ps[0], ps[len(ps)-1], ps[2*bulkChunk+4]} {
		hits, err := a.SearchPatients(ctx, p.MRN, 5)
		if err != nil || len(hits) != 1 || hits[0].ID != p.ID {
			t.Fatalf("search %s: %v %v", p.MRN, hits, err)
		}
	}
	hist, err := a.History(ctx, "patients", ps[7].ID)
	if err != nil || len(hist) < 4 {
		t.Fatalf("history of a bulk-inserted patient: %v %v", hist, err)
	}
	if len(done) == 0 || done[len(done)-1] != len(ps)/1000*1000 {
		t.Fatalf("progress %v", done)
	}
	// The bulk's pages reached the database file by the background
	// checkpoint, and no pooled connection was left without automatic
	// checkpoints.
	a.waitBackground()
	if st, err := os.Stat(a.general.Path); err != nil || st.Size() < 2<<20 {
		t.Fatalf("general.db after the background checkpoint: %v %v", st.Size(), err)
	}
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := a.general.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var n int
		if err := c.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&n); err != nil || n != 1000 {
			t.Fatalf("connection %d: wal_autocheckpoint %d %v", i, n, err)
		}
	}
}

// TestAddPatientsInBulkAllOrNothing: when the database refuses a row
// part-way (here a trigger stands in for a full disk), the bulk insert
// stops with that error and nothing of it remains.
func TestAddPatientsInBulkAllOrNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	if _, err := a.general.Exec(`CREATE TRIGGER boom BEFORE INSERT ON patients WHEN NEW.given = 'Boom'
		BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END`); err != nil {
		t.Fatal(err)
	}
	var audits, changes, indexes int
	a.general.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients'`).Scan(&indexes)
	a.general.QueryRow(`SELECT count(*) FROM audit`).Scan(&audits)
	a.general.QueryRow(`SELECT count(*) FROM changes`).Scan(&changes)
	ps := DemoPatients(bulkChunk*8, 12, a.v.now())
	ps[bulkChunk*3+9].Given = "Boom"
	err := a.AddPatients(ctx, ps, nil)
	if err == nil || !strings.Contains(err.Error(), "disk is full") {
		t.Fatalf("got %v", err)
	}
	var n, audits2, changes2 int
	a.general.QueryRow(`SELECT count(*) FROM patients`).Scan(&n)
	a.general.QueryRow(`SELECT count(*) FROM audit`).Scan(&audits2)
	a.general.QueryRow(`SELECT count(*) FROM changes`).Scan(&changes2)
	if n != 0 || audits2 != audits || changes2 != changes {
		t.Fatalf("half-imported: %d patients, audit %d→%d, changes %d→%d", n, audits, audits2, changes, changes2)
	}
	var indexes2 int
	a.general.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients'`).Scan(&indexes2)
	if indexes2 != indexes || indexes < 3 {
		t.Fatalf("indexes of patients: %d before, %d after a refused bulk insert", indexes, indexes2)
	}
	if hits, _ := a.SearchPatients(ctx, ps[0].Family, 5); len(hits) != 0 {
		t.Fatal("index entries of a refused bulk insert remain")
	}
	// The session still works afterwards.
	if _, _, err := a.AddPatient(ctx, Patient{Given: "After", Family: "Wards", DOB: "1970-01-01"}); err != nil {
		t.Fatal(err)
	}
}

// TestPatientCreationRecord: the creation record the writer makes from
// patientTable is byte for byte what the general encoder makes of the
// same columns, listed here by hand as the change log has always held
// them: records from computers with the older code still read the same,
// and their hashes still match.
func TestPatientCreationRecord(t *testing.T) {
	ps := DemoPatients(300, 5, testEpoch)
	ps = append(ps,
		Patient{MRN: "K7QM-2X4P", Given: `Zoë "Zo"`, Family: "O'Brien\\Núñez", DOB: "1980-03-02", AdminNotes: "line\nbreak\ttab\x01", Address: "東京 🙂", Phone2: "\xff bad utf-8"},
		Patient{MRN: "ONLY-ONE1"},
		Patient{MRN: "K7QM-2X4Q", Given: "Ana", Phone: "07700 900123", Postcode: "SW1A 1AA", NationalNumber: "943 476 5919", SMSConsent: true},
	)
	for i := range ps {
		p := &ps[i]
		p.Created = time.Unix(1795895002, 0)
		wantCol, wantVal, err := encodeColumns(changeValues(newRowChanges(map[string]any{
			"mrn": p.MRN, "given": p.Given, "family": p.Family, "preferred": p.Preferred, "dob": p.DOB, "sex": p.Sex,
			"phone": p.Phone, "phone2": p.Phone2, "email": p.Email, "address": p.Address, "insurance": p.Insurance,
			"emergency_contact": p.EmergencyContact, "admin_notes": p.AdminNotes, "postcode": p.Postcode,
			"national_number": p.NationalNumber, "sms_consent": p.SMSConsent, "created_at": int64(1795895002),
		})))
		if err != nil {
			t.Fatal(err)
		}
		if col, val := patientCreation(p); col != wantCol || *val != *wantVal {
			t.Fatalf("patient %d: (%q, %q), want (%q, %q)", i, col, *val, wantCol, *wantVal)
		}
	}
	// One column set: the record is that column, as records of one
	// column have always been.
	if col, val := patientCreation(&Patient{Created: time.Unix(1795895002, 0)}); col != "created_at" || *val != "1795895002" {
		t.Fatalf("one column: (%q, %q)", col, *val)
	}
}

// newRowChanges is the change set of a new row: its non-empty columns (an
// absent column means the column's default), the rule patientCreation
// follows.
func newRowChanges(cols map[string]any) map[string]any {
	for c, v := range cols {
		if v == "" || v == false {
			delete(cols, c)
		}
	}
	return cols
}

func changeValues(cols map[string]any) map[string]*string {
	out := make(map[string]*string, len(cols))
	for c, v := range cols {
		out[c] = changeValue(v)
	}
	return out
}
