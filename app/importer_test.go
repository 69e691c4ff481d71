package app

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

func writeFile(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportCSV(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	s.dates = DayMonthYear
	sheet := "\xef\xbb\xbfSurname,First Name,DOB,Mobile,E-mail,Street,Town,Favourite colour\n" +
		"Núñez,José,02/03/1980,07700 900001,jose@example.org,1 High St,Riverside,blue\n" +
		"Okafor,Chiamaka,1990-06-15,,,,,green\n" +
		"Future,Baby,01/01/2999,,,,,\n" +
		",Nameless,01/01/1970,,,,,\n" +
		"Okafor,Chiamaka,15/06/1990,,,,,\n" +
		"Broken,\"Quote,01/01/1970,,,,,\n" +
		"\n"
	p := writeFile(t, "patients.csv", []byte(sheet))
	plan, err := s.PlanImport(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Unmapped) != 1 || plan.Unmapped[0] != "Favourite colour" {
		t.Fatalf("unmapped: %v", plan.Unmapped)
	}
	if len(plan.Rows) != 2 {
		t.Fatalf("valid rows: %+v", plan.Rows)
	}
	reasons := map[int]string{}
	for _, r := range plan.Refused {
		reasons[r.Row] = r.Problem
	}
	for row, want := range map[int]string{4: "future", 5: "family name is empty", 6: "same person as row 3"} {
		if !strings.Contains(reasons[row], want) {
			t.Errorf("row %d: %q, want %q (all: %v)", row, reasons[row], want, reasons)
		}
	}
	if len(plan.Refused) < 4 {
		t.Fatalf("refused: %v", reasons)
	}
	if plan.Rows[0].Patient.Address != "1 High St, Riverside" || plan.Rows[0].Patient.DOB != "1980-03-02" {
		t.Fatalf("row 2: %+v", plan.Rows[0].Patient)
	}
	// Without skipping, nothing goes in.
	if _, err := s.Import(ctx, plan, false, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("abort: %v", err)
	}
	if got, _ := s.SearchPatients(ctx, "okafor", 10); len(got) != 0 {
		t.Fatal("an aborted import wrote rows")
	}
	n, err := s.Import(ctx, plan, true, nil)
	if err != nil || n != 2 {
		t.Fatalf("import: %d %v", n, err)
	}
	if got, _ := s.SearchPatients(ctx, "jose nunez", 10); len(got) != 1 || got[0].Phone != "07700 900001" {
		t.Fatalf("imported: %+v", got)
	}
	importRows := func() []string {
		var out []string
		rows, _ := s.general.Query(`SELECT subject || ': ' || detail FROM audit WHERE action = 'import' ORDER BY seq`)
		for rows.Next() {
			var d string
			rows.Scan(&d)
			out = append(out, d)
		}
		rows.Close()
		return out
	}
	if got := importRows(); len(got) != 1 || got[0] != "patients.csv: 2 imported, 4 refused, 0 already registered" {
		t.Fatalf("import audit rows %q", got)
	}
	// The import's audit row commits with its patients or not at all.
	if _, err := s.general.Exec(`CREATE TRIGGER no_import BEFORE INSERT ON audit WHEN NEW.action = 'import'
		BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`); err != nil {
		t.Fatal(err)
	}
	plan2, err := s.PlanImport(ctx, writeFile(t, "more.csv", []byte("Surname,First Name,DOB\nQuill,Zoe,2000-01-01\n")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, plan2, false, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("import with its audit row refused: %v", err)
	}
	if got, _ := s.SearchPatients(ctx, "quill", 10); len(got) != 0 {
		t.Fatal("patients went in without their import's audit row")
	}
	s.general.Exec(`DROP TRIGGER no_import`)
}

func TestImportWindows1252Semicolons(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	s.dates = DayMonthYear
	text := "Nom;Prénom;Date of Birth\nMüller;Zoë;24.12.1965\nGarçon;René;01.02.1971\n"
	enc, _ := charmap.Windows1252.NewEncoder().Bytes([]byte(strings.ReplaceAll(text, "Nom;Prénom", "Last Name;First Name")))
	plan, err := s.PlanImport(ctx, writeFile(t, "w.csv", enc))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Rows) != 2 || plan.Rows[0].Patient.Family != "Müller" || plan.Rows[0].Patient.Given != "Zoë" || plan.Rows[0].Patient.DOB != "1965-12-24" {
		t.Fatalf("rows %+v refused %+v", plan.Rows, plan.Refused)
	}
}

func TestImportXLSX(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	x := excelize.NewFile()
	x.SetSheetRow("Sheet1", "A1", &[]any{"Last Name", "First Name", "Date of Birth", "Phone"})
	x.SetSheetRow("Sheet1", "A2", &[]any{"Wang", "Li", 29282, "555 0100"}) // 1980-03-02 as an Excel date number
	x.SetSheetRow("Sheet1", "A3", &[]any{"Smith", "Ann", "1975-05-06", ""})
	p := filepath.Join(t.TempDir(), "p.xlsx")
	if err := x.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	plan, err := s.PlanImport(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Rows) != 2 || plan.Rows[0].Patient.DOB != "1980-03-02" {
		t.Fatalf("rows %+v refused %+v", plan.Rows, plan.Refused)
	}
	locked := filepath.Join(t.TempDir(), "locked.xlsx")
	if err := x.SaveAs(locked, excelize.Options{Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanImport(ctx, locked); !errors.Is(err, ErrUnreadableSheet) || !strings.Contains(err.Error(), "password") {
		t.Fatalf("password-protected: %v", err)
	}
	if _, err := s.PlanImport(ctx, writeFile(t, "x.csv", []byte("a,b,c\n1,2,3\n"))); !errors.Is(err, ErrUnreadableSheet) {
		t.Fatalf("no name columns: %v", err)
	}
}

func FuzzPlanImportCSV(f *testing.F) {
	f.Add([]byte("Last Name,First Name,DOB\nA,B,1980-01-01\n"))
	f.Add([]byte("\"\n\"\"x"))
	f.Add([]byte("Surname;Forename;Born\nX;Y;1/2/1990\n"))
	// The fuzzer's own fixture: its temporary folder is removed with it
	// (a zero testing.T made one nobody removed, a vault per run).
	fx := newFixture(f)
	s, err := fx.signIn("Maria Admin", adminPass)
	if err != nil {
		f.Skip("sign-in for the fuzzer failed")
	}
	f.Cleanup(func() { s.Lock(context.Background()) })
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.csv")
		os.WriteFile(p, data, 0o600)
		plan, err := s.PlanImport(context.Background(), p)
		if err == nil {
			for _, r := range plan.Rows {
				if r.Patient.Given == "" || r.Patient.Family == "" || r.Patient.DOB == "" {
					t.Fatalf("an invalid row passed: %+v", r)
				}
			}
		}
	})
}

func FuzzPlanImportFHIR(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"A","given":["B"]}],"birthDate":"1980-01-01"}},{"resource":{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"urn:uuid:1"},"valueQuantity":{"value":70}}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"resource":null}]}`))
	f.Add([]byte(`[]`))
	// The fuzzer's own fixture: its temporary folder is removed with it
	// (a zero testing.T made one nobody removed, a vault per run).
	fx := newFixture(f)
	s, err := fx.signIn("Maria Admin", adminPass)
	if err != nil {
		f.Skip("sign-in for the fuzzer failed")
	}
	f.Cleanup(func() { s.Lock(context.Background()) })
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.json")
		os.WriteFile(p, data, 0o600)
		plan, err := s.PlanImport(context.Background(), p)
		if err == nil {
			for _, r := range plan.Rows {
				if r.Patient.Given == "" || r.Patient.Family == "" {
					t.Fatalf("an invalid patient passed: %+v", r)
				}
			}
		}
	})
}

// TestImportLargeXLSXLeavesNoTempFile: a workbook whose sheet unpacks to
// more than excelize's default in-memory limit (16 MiB, ~40,000 rows) is
// read without a plaintext temporary file; one that unpacks to more than
// ClinicVault reads at once is refused with a message saying so.
func TestImportLargeXLSXLeavesNoTempFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 45,000-row workbook")
	}
	ctx := context.Background()
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	_, xlsx, err := writeBenchSheets(t.TempDir(), 45000, f.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if zr, err := zip.OpenReader(xlsx); err != nil {
		t.Fatal(err)
	} else {
		var biggest uint64
		for _, zf := range zr.File {
			biggest = max(biggest, zf.UncompressedSize64)
		}
		zr.Close()
		if biggest <= 16<<20 {
			t.Fatalf("the test sheet unpacks to %d bytes, not more than excelize's 16 MiB", biggest)
		}
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	seen := make(chan string, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if es, _ := os.ReadDir(tmp); len(es) > 0 {
				select {
				case seen <- es[0].Name():
				default:
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	plan, err := s.PlanImport(ctx, xlsx)
	close(stop)
	<-done
	if err != nil || plan.Count.Import != 45000 {
		t.Fatalf("plan: %v rows, %v", plan.Count.Import, err)
	}
	select {
	case name := <-seen:
		t.Fatalf("reading the workbook wrote %s to the temporary folder", name)
	default:
	}

	old := maxWorkbookBytes
	maxWorkbookBytes = 8 << 20
	defer func() { maxWorkbookBytes = old }()
	if _, err := s.PlanImport(ctx, xlsx); !errors.Is(err, ErrUnreadableSheet) || !strings.Contains(err.Error(), "save it as CSV") {
		t.Fatalf("oversized workbook: %v", err)
	}
}

// TestGeneratorsUnderClocksAYearApart runs the synthetic-data generators
// (demo patients, benchmark sheets, the demo practice) and the importer
// under clocks a year and more apart: none of them may read the wall
// clock, or a date in the sheet would fall "in the future" of the clock
// (libfaketime does not reach Go's clock, so this is the proof).
func TestGeneratorsUnderClocksAYearApart(t *testing.T) {
	ctx := context.Background()
	for _, at := range []time.Time{
		testEpoch,
		testEpoch.AddDate(-1, 0, 0),
		testEpoch.AddDate(1, 0, 0),
		time.Date(2032, 2, 29, 23, 30, 0, 0, time.UTC),
	} {
		t.Run(at.Format("2006-01-02"), func(t *testing.T) {
			f := newFixtureAt(t, at)
			s := f.mustSignIn("Maria Admin", adminPass)
			today := at.Format("2006-01-02")
			for _, p := range DemoPatients(2000, 1, at) {
				if p.DOB >= today {
					t.Fatalf("demo patient born %s, on or after the clock's %s", p.DOB, today)
				}
			}
			csvPath, xlsxPath, err := writeBenchSheets(t.TempDir(), 3000, at)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{csvPath, xlsxPath} {
				plan, err := s.PlanImport(ctx, path)
				if err != nil {
					t.Fatal(err)
				}
				if plan.Count.Import != 3000 || plan.Count.Refused != 0 {
					t.Fatalf("%s: %d rows, %d refused (first: %+v)", filepath.Base(path), plan.Count.Import, plan.Count.Refused, plan.Refused)
				}
			}
			if err := s.Demo(ctx, 40, 3, nil); err != nil {
				t.Fatalf("demo: %v", err)
			}
		})
	}
}

// TestImportSkipsRegisteredPatientsAndReadsDatesByColumn: a row that is a
// patient already in the vault is shown as already registered and not
// imported twice; a column holding 02.03.1955 and 14/07/1988 is read day
// first (14 cannot be a month), whatever the practice's setting; a
// malformed e-mail costs the row its e-mail, not the patient.
func TestImportSkipsRegisteredPatientsAndReadsDatesByColumn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	if err := s.SetDateOrder(ctx, MonthDayYear); err != nil {
		t.Fatal(err)
	}
	ana, _, err := s.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01", Phone: "07700 900123"})
	if err != nil {
		t.Fatal(err)
	}
	sheet := filepath.Join(t.TempDir(), "patients.csv")
	os.WriteFile(sheet, []byte("First Name,Last Name,Date of Birth,Phone,Email\n"+
		"Ana,Silva,01/01/1970,,\n"+ // already registered (name and date of birth)
		"Anna,Silva,01/01/1970,07700 900123,\n"+ // same phone and date of birth: the same patient, misspelt
		"Tomás,Silva,05/06/2012,07700 900123,\n"+ // her son: same phone, another person
		"Rui,Costa,02.03.1955,,rui at example\n"+ // day first, a bad e-mail
		"Eva,Lima,14/07/1988,,eva@example.org\n"), 0o600)
	plan, err := s.PlanImport(ctx, sheet)
	if err != nil {
		t.Fatal(err)
	}
	if plan.DateOrder != DayMonthYear || plan.DateOrderSource != "column" {
		t.Errorf("dates read %s from the %s, want day first from the column", plan.DateOrder, plan.DateOrderSource)
	}
	if len(plan.Refused) != 0 {
		t.Fatalf("refused: %+v", plan.Refused)
	}
	if len(plan.Registered) != 2 || plan.Registered[0].Existing != ana.MRN || plan.Registered[1].Existing != ana.MRN {
		t.Fatalf("already registered: %+v", plan.Registered)
	}
	dobs := map[string]string{}
	for _, r := range plan.Rows {
		dobs[r.Patient.Given] = r.Patient.DOB
		if r.Patient.Given == "Rui" && (r.Patient.Email != "" || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "e-mail")) {
			t.Errorf("Rui's bad e-mail: %+v", r)
		}
	}
	if dobs["Rui"] != "1955-03-02" || dobs["Eva"] != "1988-07-14" || dobs["Tomás"] != "2012-06-05" || len(plan.Rows) != 3 {
		t.Fatalf("planned rows %v", dobs)
	}
	if n, err := s.Import(ctx, plan, false, nil); err != nil || n != 3 {
		t.Fatalf("import: %d %v", n, err)
	}
	if got, _ := s.SearchPatients(ctx, "silva", 10); len(got) != 2 {
		t.Fatalf("%d Silvas after the import, want Ana and Tomás", len(got))
	}
	// The order as chosen.
	mdy := MonthDayYear
	if plan, err := s.PlanImportWith(ctx, sheet, ImportOptions{DateOrder: &mdy}); err != nil || plan.DateOrderSource != "chosen" || len(plan.Refused) != 1 {
		t.Fatalf("month first as chosen: %v %+v", err, plan)
	}
}
