package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// writer opens path for writing as a file dialog would hand it over.
func writer(t *testing.T, path string) fyne.URIWriteCloser {
	t.Helper()
	w, err := storage.Writer(storage.NewFileURI(path))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestImportSheet(t *testing.T) {
	g, is := receptionistImporting(t)

	sheet := filepath.Join(t.TempDir(), "old-patients.csv")
	csv := "First Name,Surname,DOB,Phone,Favourite colour\n" +
		"Ada,Quillfeather,1971-04-09,+44 20 7946 0101,green\n" +
		"Bram,Quillfeather,1999-11-30,+44 20 7946 0102,blue\n" +
		"Cora,Quillfeather,2031-01-01,+44 20 7946 0103,red\n" +
		"Dov,Quillfeather,1958-02-14,,\n"
	if err := os.WriteFile(sheet, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	is.open(sheet)
	settle(t, g)
	if is.plan == nil {
		t.Fatalf("no preview: %q", is.status.Text)
	}
	if len(is.plan.Rows) != 3 || len(is.plan.Refused) != 1 || is.plan.Refused[0].Row != 4 {
		t.Fatalf("plan: %d rows, refused %+v", len(is.plan.Rows), is.plan.Refused)
	}
	for _, want := range []string{"Surname → family name", "DOB → date of birth", "Not imported (no matching field): Favourite colour", "Refused: 1 row", "Will be imported: 3 patients"} {
		if !showsText(g, want) {
			t.Errorf("the preview does not show %q", want)
		}
	}
	refusal := kit.Sentence(is.plan.Refused[0].Problem)
	if !showsText(g, refusal) {
		t.Errorf("the refused row's reason %q is not shown", refusal)
	}
	shot(t, g, "import-preview")
	shotSizes(t, g, "import-preview")

	// Without the box, nothing goes in: the button is off and says why,
	// and the app refuses it too.
	if b := button(t, g, "Import 3 patients"); !b.Disabled() {
		t.Error("Import is on while a row is refused and not skipped")
	}
	if !showsText(g, "Nothing will be imported until the 1 refused row is fixed") {
		t.Errorf("the rule is not explained: %q", is.rule.Text)
	}
	is.runImport()
	settle(t, g)
	if !showsText(g, "Nothing was imported.") {
		t.Errorf("an import with a refused row was not refused: %q", is.status.Text)
	}
	ctx := context.Background()
	if found, _ := g.session.SearchPatients(ctx, "Quillfeather", 10); len(found) != 0 {
		t.Fatalf("%d patients imported without the skip box", len(found))
	}

	is.skip.SetChecked(true)
	plan := is.plan
	tap(t, g, "Import 3 patients")
	if is.imported != 3 || !showsText(g, "3 patients imported") {
		t.Fatalf("imported %d: %q", is.imported, is.status.Text)
	}
	if !showsText(g, app.DeleteSheetAdviceFor(plan, true)) || !showsText(g, "1 row(s) were not imported") {
		t.Error("the advice to delete the sheet is not shown")
	}
	found, err := g.session.SearchPatients(ctx, "Quillfeather", 10)
	if err != nil || len(found) != 3 {
		t.Fatalf("search after import: %d, %v", len(found), err)
	}
	shot(t, g, "import-done")

	// A file that is not a sheet says so in words.
	bad := filepath.Join(t.TempDir(), "notes.csv")
	os.WriteFile(bad, []byte("Colour,Size\nred,big\n"), 0o600)
	is.open(bad)
	settle(t, g)
	if is.plan != nil || !strings.Contains(is.status.Text, "No column for the first name was found") || strings.Contains(is.status.Text, "cannot be read as a sheet") {
		t.Errorf("unreadable sheet: %q", is.status.Text)
	}
}

func TestExportFile(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	sh := g.shell
	if !sh.openNamed("Export") {
		t.Fatal("no Export entry")
	}
	e := sh.exports
	if !e.export.Disabled() {
		t.Error("Export is on with no passphrase")
	}
	typeIn(g, e.pair.pass, newPass)
	typeIn(g, e.pair.confirm, newPass)
	if e.export.Disabled() {
		t.Fatal("Export is off with an accepted passphrase")
	}
	shot(t, g, "export")
	dir := t.TempDir()
	out := filepath.Join(dir, e.fileName(e.options()))
	if !strings.HasSuffix(out, ".json.age") {
		t.Errorf("suggested name %s", out)
	}
	e.saveTo(writer(t, out))
	settle(t, g)
	raw, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(raw), "age-encryption.org/v1") {
		t.Fatalf("the export is not an age file (%v): %.40q", err, raw)
	}
	if !showsText(g, "Exported 301 patients to "+out) {
		t.Errorf("status %q", e.status.Text)
	}

	if slices.Contains(e.protect.Options, protectNone) {
		t.Error("a clinician is offered an export without encryption")
	}
	// An export in the clear is an admin's decision: Dana exports one
	// patient as plain CSV: the warning shows, the file reads.
	tap(t, g, "Lock")
	p.clk.Add(30 * time.Second)
	signInGUI(t, g, "Dana Whitfield", adminPass, code(t, p.secrets["Dana Whitfield"], p.clk))
	settle(t, g)
	sh = g.shell
	sh.openNamed("Export")
	e = sh.exports
	e.format.SetSelected(formatCSV)
	e.scope.SetSelected(scopeOnePatien)
	typeIn(g, e.picker.search, p.jose.MRN)
	settle(t, g)
	pressEnter(t, g, e.picker.search)
	if e.patient == nil || e.patient.MRN != p.jose.MRN {
		t.Fatalf("picked %+v", e.patient)
	}
	e.protect.SetSelected(protectNone)
	if !showsText(g, "This file will NOT be encrypted") {
		t.Error("no warning for a plaintext export")
	}
	if e.export.Disabled() {
		t.Fatal("Export is off for a plaintext export")
	}
	shot(t, g, "export-plaintext")
	out = filepath.Join(dir, e.fileName(e.options()))
	if filepath.Base(out) != "clinicvault-"+p.jose.MRN+"-2026-03-02.csv" {
		t.Errorf("suggested name %s", filepath.Base(out))
	}
	e.saveTo(writer(t, out))
	settle(t, g)
	raw, err = os.ReadFile(out)
	if err != nil || !strings.Contains(string(raw), "Núñez") || strings.Count(string(raw), "\n") != 2 {
		t.Fatalf("the CSV (%v): %q", err, raw)
	}
	if !showsText(g, "Exported 1 patient to "+out) || !showsText(g, "recorded in the audit log") {
		t.Errorf("status %q", e.status.Text)
	}
	shot(t, g, "export-done")
}

func TestPrintVisitSummary(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	ctx := context.Background()
	enc, err := g.session.AddEncounter(ctx, p.jose.MRN, app.SOAP{Subjective: "Thirsty at night.", Assessment: "Type 2 diabetes.", Plan: "HbA1c in 3 months."})
	if err != nil {
		t.Fatal(err)
	}
	sh := g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	// The chart's Export… (on Demographics) opens Export for this patient alone.
	sh.chart.selectTab(tabDemographics)
	tap(t, g, "Export…")
	if sh.current != "Export" || sh.exports.patient == nil || sh.exports.patient.MRN != p.jose.MRN {
		t.Fatalf("Export… from the chart: screen %q", sh.current)
	}
	sh.openChart(p.jose.MRN)
	settle(t, g)
	c := sh.chart
	c.selectTab(tabEncounters)
	button(t, g, "Print summary…")
	if name := c.enc.summaryName(enc); name != "visit-"+p.jose.MRN+"-2026-03-02.pdf" {
		t.Errorf("suggested name %s", name)
	}
	shot(t, g, "chart-print")
	out := filepath.Join(t.TempDir(), c.enc.summaryName(enc))
	c.enc.writeSummary(enc, writer(t, out))
	settle(t, g)
	raw, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(raw), "%PDF") {
		t.Fatalf("not a PDF (%v): %.20q", err, raw)
	}
	if !showsText(g, "The PDF is not encrypted") {
		t.Errorf("no note that the PDF is not encrypted: %q", c.status.Text)
	}
}

// TestImportPreviewShowsRegisteredPatientsAndTheDateOrder: a sheet with a
// patient already in the vault, dates written day first (14/07/1988 in
// the column) and a malformed e-mail. The preview says which row is
// already registered, how the dates are read (and lets the person choose
// the other order), and which field is left out; the import takes the
// others only.
func TestImportPreviewShowsRegisteredPatientsAndTheDateOrder(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	g.win.Resize(fyne.NewSize(1024, 700))
	p.signIn(t, g, frontDesk)
	sh := g.shell
	sh.openNamed("Import")
	is := sh.imports
	sheet := filepath.Join(t.TempDir(), "list.csv")
	jose := p.jose
	csv := "First Name,Last Name,Date of Birth,Email\n" +
		jose.Given + "," + jose.Family + "," + jose.DOB + ",\n" +
		"Rui,Costa,02.03.1955,rui at example\n" +
		"Eva,Lima,14/07/1988,eva@example.org\n"
	os.WriteFile(sheet, []byte(csv), 0o600)
	is.open(sheet)
	settle(t, g)
	if is.plan == nil || len(is.plan.Registered) != 1 || len(is.plan.Rows) != 2 {
		t.Fatalf("plan: %+v", is.plan)
	}
	for _, want := range []string{"Already registered: 1 row", "Row 2: " + jose.Name() + " is already registered (" + jose.MRN + ")",
		"Row 3: E-mail \"rui at example\" left out", "as the column shows", "Import 2 patients"} {
		if !showsText(g, want) {
			t.Errorf("the preview does not show %q", want)
		}
	}
	if is.dateOrder.Selected != "Day first (31/12/1980)" {
		t.Errorf("date order %q", is.dateOrder.Selected)
	}
	shot(t, g, "import-preview-registered")
	is.dateOrder.SetSelected("Month first (12/31/1980)")
	settle(t, g)
	if len(is.plan.Refused) != 1 || !showsText(g, "as chosen") {
		t.Fatalf("month first as chosen: refused %+v", is.plan.Refused)
	}
	is.dateOrder.SetSelected("Day first (31/12/1980)")
	settle(t, g)
	tap(t, g, "Import 2 patients")
	settle(t, g)
	got, _ := g.session.SearchPatients(context.Background(), jose.Given+" "+jose.Family, 50)
	same := 0
	for _, q := range got {
		if q.DOB == jose.DOB {
			same++
		}
	}
	if same != 1 {
		t.Fatalf("%d patients %s born %s after the import: the registered one was imported twice", same, jose.Name(), jose.DOB)
	}
}

// TestImportLargeSheetPreview: a sheet of 3,000 rows, 1,200 of them
// refused, previews with the counts of the whole file and the first rows
// of each list, says how many of the refused rows it shows, and imports
// the rest with the box ticked.
func TestImportLargeSheetPreview(t *testing.T) {
	g, is := receptionistImporting(t)
	var b strings.Builder
	b.WriteString("First Name,Surname,DOB,E-mail\n")
	for i := range 3000 {
		dob := fmt.Sprintf("%d-05-%02d", 1930+i%80, 1+i%28)
		if i%5 < 2 {
			dob = "unknown"
		}
		email := ""
		if i == 2903 { // a row kept, after the first 200
			email = "at nowhere"
		}
		fmt.Fprintf(&b, "Given%d,Family%d,%s,%s\n", i, i, dob, email)
	}
	sheet := filepath.Join(t.TempDir(), "large.csv")
	if err := os.WriteFile(sheet, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	is.open(sheet)
	settle(t, g)
	if is.plan == nil {
		t.Fatalf("no preview: %q", is.status.Text)
	}
	if is.plan.Count.Import != 1800 || is.plan.Count.Refused != 1200 {
		t.Fatalf("counts %+v", is.plan.Count)
	}
	for _, want := range []string{"Will be imported: 1800 patients (the first 20 shown)", "Refused: 1200 rows (the first 1000 shown)",
		"Imported without a field that is not valid: 1 field", "Row 2905: E-mail \"at nowhere\" left out"} {
		if !showsText(g, want) {
			t.Errorf("the preview does not show %q", want)
		}
	}
	if is.skip == nil || is.skip.Text != "Skip the 1200 refused rows and import the others" {
		t.Errorf("the box to skip the refused rows: %+v", is.skip)
	}
	shotSizes(t, g, "import-preview-large")
	is.skip.SetChecked(true)
	is.runImport()
	settle(t, g)
	if !showsText(g, "1800 patients imported") {
		t.Errorf("not imported: %q", is.status.Text)
	}
}

// receptionistImporting signs the front desk in and opens Import.
func receptionistImporting(t *testing.T) (*gui, *importScreen) {
	t.Helper()
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	if !g.shell.openNamed("Import") {
		t.Fatal("no Import entry for the receptionist")
	}
	return g, g.shell.imports
}
