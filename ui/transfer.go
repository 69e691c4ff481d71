package ui

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// importPreviewRows is how many of the rows that will go in the preview
// lists.
const importPreviewRows = 20

// importColumns and refusedColumns are the weights of the preview's
// tables.
var (
	importColumns  = kit.Columns{0.45, 0.25, 0.30}
	refusedColumns = kit.Columns{0.10, 0.30, 0.60}
)

// fieldWords names the patient fields an import column can fill.
var fieldWords = map[string]string{
	"given": "given name", "family": "family name", "preferred": "preferred name", "dob": "date of birth",
	"sex": "sex", "phone": "phone (mobile, then home)", "email": "email", "address": "address", "insurance": "insurance",
	"emergency_contact": "emergency contact", "admin_notes": "admin notes",
	"mobile": "mobile", "phone2": "home phone", "postcode": "postcode", "national_number": "national number", "sms_consent": "SMS consent",
	"language": "preferred language",
}

// importScreen turns a spreadsheet (CSV or XLSX) or a FHIR bundle of
// patients into records: choose the file, check the preview, import.
type importScreen struct {
	g  *gui
	s  *app.Session
	sh *shell

	view   fyne.CanvasObject
	body   *fyne.Container
	intro  *widget.Label
	file   *widget.Label
	choose *widget.Button
	status *kit.StatusText
	busy   *widget.Activity

	// The preview of plan, for tests.
	plan     *app.ImportPlan
	skip     *widget.Check
	rule     *kit.StatusText
	doImport *widget.Button
	cancel   *widget.Button
	progress *widget.ProgressBar
	// imported is how many patients the last import brought in.
	imported int
	// dateOrder is the preview's date-order choice, for tests.
	dateOrder *widget.Select
}

func newImportScreen(g *gui, sh *shell, s *app.Session) *importScreen {
	is := &importScreen{g: g, s: s, sh: sh, status: kit.NewStatus(widget.MediumImportance), busy: widget.NewActivity(), body: container.NewStack()}
	is.choose = widget.NewButtonWithIcon("Choose file…", theme.FolderOpenIcon(), g.act(is.pickFile))
	is.choose.Importance = widget.HighImportance
	is.busy.Hide()
	is.intro = kit.Wrapped("Bring the patients of a spreadsheet (.csv or .xlsx, one patient a row, with a header row) or of a FHIR bundle (.json) into ClinicVault. " +
		"You see what will be imported before anything is written.")
	is.file = kit.Subheading("")
	is.file.Truncation = fyne.TextTruncateEllipsis
	top := container.NewVBox(
		kit.Heading("Import patients"),
		is.intro,
		container.NewBorder(nil, nil, container.NewHBox(is.choose, is.busy), nil, is.file),
		is.status,
	)
	is.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, is.body))
	return is
}

// pickFile asks for the sheet with the system's file dialog.
func (is *importScreen) pickFile() {
	g := is.g
	fd := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		g.activity()
		if err != nil {
			g.showError("The file could not be opened", err)
			return
		}
		if r == nil {
			return // cancelled
		}
		path := r.URI().Path()
		r.Close()
		is.open(path)
	}, g.win)
	fd.SetFilter(storage.NewExtensionFileFilter([]string{".csv", ".xlsx", ".json"}))
	kit.StartIn(fd, "")
	fd.Resize(fileDialogSize)
	g.showDialog(fd)
}

// open reads and checks the file at path off the UI thread, then shows
// the preview.
func (is *importScreen) open(path string) {
	is.openWith(path, app.ImportOptions{})
}

// openWith is open with options (a date order chosen in the preview).
func (is *importScreen) openWith(path string, opts app.ImportOptions) {
	g := is.g
	is.reset()
	is.choose.Disable()
	is.busy.Show()
	is.busy.Start()
	is.status.Say(widget.MediumImportance, "Reading "+filepath.Base(path)+"…")
	var plan *app.ImportPlan
	var err error
	g.background(func() {
		plan, err = is.s.PlanImportWith(g.ctx, path, opts)
	}, func() {
		is.busy.Stop()
		is.busy.Hide()
		is.choose.Enable()
		if err != nil {
			is.status.Say(widget.DangerImportance, filepath.Base(path)+" cannot be imported. "+plain.Error(err))
			return
		}
		is.status.SetText("")
		is.preview(plan)
	})
}

// reset forgets the preview.
func (is *importScreen) reset() {
	is.plan, is.skip, is.rule, is.doImport, is.cancel, is.progress = nil, nil, nil, nil, nil, nil
	is.status.SetText("")
	is.file.SetText("")
	is.intro.Show()
	is.body.Objects = nil
	is.body.Refresh()
}

// mappingText says which column fills which field, in the sheet's order.
func mappingText(plan *app.ImportPlan) string {
	var cols []int
	for i := range plan.Mapping {
		cols = append(cols, i)
	}
	sort.Ints(cols)
	var parts []string
	for _, i := range cols {
		if i < len(plan.Headers) {
			parts = append(parts, strings.TrimSpace(plan.Headers[i])+" → "+fieldWords[plan.Mapping[i]])
		}
	}
	return strings.Join(parts, "   ·   ")
}

// preview shows what plan would import and what it refuses.
func (is *importScreen) preview(plan *app.ImportPlan) {
	g := is.g
	is.plan = plan
	n, m := plan.Count.Import, plan.Count.Refused
	name := filepath.Base(plan.File)

	var top []fyne.CanvasObject
	is.file.SetText(name)
	is.intro.Hide()
	if len(plan.Headers) > 0 {
		top = append(top, kit.Wrapped("Columns: "+mappingText(plan)))
		if len(plan.Unmapped) > 0 {
			l := kit.Wrapped("Not imported (no matching field): " + strings.Join(plan.Unmapped, ", "))
			l.Importance = widget.WarningImportance
			top = append(top, l)
		}
		// How dates like 02/03/1955 are read: decided from the column when
		// it tells, else the practice's setting; changeable here.
		orders := []string{"Day first (31/12/1980)", "Month first (12/31/1980)"}
		pick := widget.NewSelect(orders, nil)
		if plan.DateOrder == app.MonthDayYear {
			pick.SetSelected(orders[1])
		} else {
			pick.SetSelected(orders[0])
		}
		pick.OnChanged = func(choice string) {
			g.activity()
			o := app.DayMonthYear
			if choice == orders[1] {
				o = app.MonthDayYear
			}
			if o != plan.DateOrder {
				is.openWith(plan.File, app.ImportOptions{DateOrder: &o})
			}
		}
		is.dateOrder = pick
		from := map[string]string{"column": "as the column shows", "practice setting": "the practice's setting (the column does not tell)", "chosen": "as chosen"}[plan.DateOrderSource]
		top = append(top, container.NewHBox(widget.NewLabel("Dates of birth:"), container.New(kit.FixedWidth(250), pick), widget.NewLabel(from)))
	} else {
		what := "A FHIR bundle"
		if c := plan.ClinicalEntries(); c > 0 {
			entries := "clinical entries"
			if c == 1 {
				entries = "clinical entry"
			}
			what += fmt.Sprintf(" with %d %s (notes, problems, allergies, medications, vitals)", c, entries)
			if !is.s.User().Role.Clinical() {
				what += ". A clinician or admin must import it"
			}
		}
		top = append(top, kit.Wrapped(what+"."))
	}

	var rows [][]string
	for _, r := range plan.Rows[:min(len(plan.Rows), importPreviewRows)] {
		rows = append(rows, []string{r.Patient.Name(), dateText(r.Patient.DOB), orDash(r.Patient.Phone)})
	}
	head := fmt.Sprintf("Will be imported: %s", kit.Plural(n, "patient"))
	if n > importPreviewRows {
		head += fmt.Sprintf(" (the first %d shown)", importPreviewRows)
	}
	_, valid := textList(g, importColumns, []string{"Name", "Date of birth", "Phone"}, rows, "No row of this file can be imported.")
	// Each list shows several rows; the page scrolls when they do not
	// all fit (at 1024×700 a grid of two lists showed one row each).
	rowsHigh := func(n int) kit.MinHeight { return kit.MinHeight(float32(min(max(n, 1), 6)+1) * 40) }
	tables := []fyne.CanvasObject{container.NewBorder(widget.NewLabelWithStyle(head, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, nil, nil,
		container.New(rowsHigh(len(rows)), valid))}
	if m > 0 {
		var bad [][]string
		for _, r := range plan.Refused {
			who := strings.TrimSpace(r.Patient.Given + " " + r.Patient.Family)
			bad = append(bad, []string{fmt.Sprintf("%d", r.Row), orDash(who), kit.Sentence(r.Problem)})
		}
		refusedText := fmt.Sprintf("Refused: %s", kit.Plural(m, "row"))
		if len(bad) < m {
			refusedText += fmt.Sprintf(" (the first %d shown)", len(bad))
		}
		refusedHead := widget.NewLabelWithStyle(refusedText, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		refusedHead.Importance = widget.DangerImportance
		_, refused := textList(g, refusedColumns, []string{"Row", "Name", "Why it is refused"}, bad, "")
		tables = append(tables, container.NewBorder(refusedHead, nil, nil, nil, container.New(rowsHigh(len(bad)), refused)))
	}

	// Already in the vault, and fields left out: said in a few lines.
	var notes []string
	for i, r := range plan.Registered {
		if i == 3 {
			notes = append(notes, fmt.Sprintf("… and %d more", plan.Count.Registered-3))
			break
		}
		notes = append(notes, fmt.Sprintf("Row %d: %s is already registered (%s): not imported again.", r.Row, r.Patient.Name(), r.Existing))
	}
	warned := 0
	for _, r := range append(plan.Rows[:len(plan.Rows):len(plan.Rows)], plan.Noted...) {
		for _, w := range r.Warnings {
			if warned < 3 {
				notes = append(notes, fmt.Sprintf("Row %d: %s", r.Row, kit.Sentence(w)))
			}
			warned++
		}
	}
	if warned > 3 {
		notes = append(notes, fmt.Sprintf("… and %d more fields left out", warned-3))
	}
	if len(notes) > 0 {
		var heads []string
		if plan.Count.Registered > 0 {
			heads = append(heads, fmt.Sprintf("Already registered: %s.", kit.Plural(plan.Count.Registered, "row")))
		}
		if warned > 0 {
			heads = append(heads, fmt.Sprintf("Imported without a field that is not valid: %s.", kit.Plural(warned, "field")))
		}
		head := strings.Join(heads, " ")
		l := kit.Wrapped(head + "\n" + strings.Join(notes, "\n"))
		l.Importance = widget.WarningImportance
		top = append(top, l)
	}

	if l := importTextNotes(plan); l != nil {
		top = append(top, l)
	}

	is.doImport = widget.NewButtonWithIcon("", theme.ConfirmIcon(), g.act(is.runImport))
	is.doImport.Importance = widget.HighImportance
	is.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), g.act(is.reset))
	is.rule = kit.NewStatus(widget.WarningImportance)
	is.progress = widget.NewProgressBar()
	is.progress.Max = float64(max(n, 1))
	is.progress.Hide()
	var bottom, skipBox []fyne.CanvasObject
	if m > 0 {
		is.skip = widget.NewCheck(fmt.Sprintf("Skip the %s and import the others", kit.Plural(m, "refused row")), func(bool) {
			g.activity()
			is.update()
		})
		skipBox = append(skipBox, is.skip)
	}
	bottom = append(bottom, is.rule, is.progress)
	bottom = append(bottom, container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0),
		container.NewHBox(append(skipBox, layout.NewSpacer(), is.cancel, is.doImport)...)))
	is.update()

	is.body.Objects = []fyne.CanvasObject{container.NewBorder(
		nil, container.NewVBox(bottom...), nil, nil,
		container.NewVScroll(container.NewVBox(append(top, tables...)...)))}
	is.body.Refresh()
}

// update sets the Import button and the rule under it: like app.Import,
// nothing goes in while rows are refused, unless they are skipped.
func (is *importScreen) update() {
	n, m := is.plan.Count.Import, is.plan.Count.Refused
	skip := is.skip != nil && is.skip.Checked
	is.doImport.SetText("Import " + kit.Plural(n, "patient"))
	switch {
	case n == 0:
		is.rule.Say(widget.DangerImportance, "Nothing can be imported from this file. Fix the refused rows in the sheet and choose it again.")
		is.doImport.Disable()
	case m > 0 && !skip:
		is.rule.Say(widget.WarningImportance, fmt.Sprintf("Nothing will be imported until the %s fixed in the sheet (then choose it again), "+
			"or you tick the box to skip %s.", kit.Plural(m, "refused row")+map[bool]string{true: " is", false: " are"}[m == 1], map[bool]string{true: "it", false: "them"}[m == 1]))
		is.doImport.Disable()
	default:
		is.rule.SetText("")
		is.doImport.Enable()
	}
}

// runImport writes the previewed rows off the UI thread, with progress.
func (is *importScreen) runImport() {
	g := is.g
	plan := is.plan
	if plan == nil {
		return
	}
	skip := is.skip != nil && is.skip.Checked
	is.doImport.Disable()
	is.cancel.Disable()
	is.choose.Disable()
	if is.skip != nil {
		is.skip.Disable()
	}
	is.progress.SetValue(0)
	is.progress.Show()
	is.status.Say(widget.MediumImportance, "Importing…")
	var n int
	var err error
	bar := is.progress
	g.background(func() {
		n, err = is.s.Import(g.ctx, plan, skip, func(done, total int) {
			g.post(func() {
				bar.Max = float64(max(total, 1))
				bar.SetValue(float64(done))
			})
		})
	}, func() {
		is.choose.Enable()
		if is.plan != plan {
			return
		}
		if err != nil && n == 0 {
			is.progress.Hide()
			is.cancel.Enable()
			if is.skip != nil {
				is.skip.Enable()
			}
			is.update()
			is.status.Say(widget.DangerImportance, "Nothing was imported. "+plain.Error(err))
			return
		}
		is.done(plan, n, err)
	})
}

// done shows the result of an import and the advice to delete the sheet.
func (is *importScreen) done(plan *app.ImportPlan, n int, err error) {
	is.imported = n
	is.status.SetText("")
	result := widget.NewLabelWithStyle(kit.Plural(n, "patient")+" imported", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	result.SizeName = theme.SizeNameSubHeadingText
	result.Importance = widget.SuccessImportance
	parts := []fyne.CanvasObject{result}
	if m := plan.Count.Refused; m > 0 {
		were := " were"
		if m == 1 {
			were = " was"
		}
		parts = append(parts, kit.Wrapped(kit.Plural(m, "refused row")+were+" skipped and not imported."))
	}
	if err != nil {
		l := kit.Wrapped("The patients were imported, but the import did not finish. " + plain.Error(err))
		l.Importance = widget.DangerImportance
		parts = append(parts, l)
	}
	parts = append(parts,
		newBanner(bannerWarning, app.DeleteSheetAdviceFor(plan, plan.Count.Refused > 0)),
		kit.Wrapped("The sheet: "+plan.File),
		buttonRow(widget.NewButtonWithIcon("Find them in Patients", theme.SearchIcon(), is.g.act(func() { is.sh.openNamed("Patients") }))),
	)
	is.plan = nil
	is.body.Objects = []fyne.CanvasObject{container.NewVBox(parts...)}
	is.body.Refresh()
}

// Export protections.
const (
	protectPassphrase = "A passphrase"
	protectRecipient  = "An age recipient (age1…)"
	protectNone       = "No encryption (I understand this file will hold patient data in the clear)"
)

// Export formats and scopes, as offered.
const (
	formatFHIR     = "FHIR R4 bundle (.json)"
	formatCSV      = "CSV spreadsheet (.csv)"
	scopePractice  = "The whole practice"
	scopeOnePatien = "One patient"
)

// exportScreen writes the practice's patients, or one patient, to a file
// another system can read, encrypted unless the user explicitly says not.
type exportScreen struct {
	g  *gui
	s  *app.Session
	sh *shell

	view      fyne.CanvasObject
	format    *widget.RadioGroup
	scope     *widget.RadioGroup
	picker    *patientPicker
	pickerBox *fyne.Container
	patient   *app.Patient
	chosen    *widget.Label
	change    *widget.Button
	search    *fyne.Container
	protect   *widget.RadioGroup
	pair      *passphrasePair
	passBox   *fyne.Container
	recipient *kit.Entry
	recipBox  *fyne.Container
	clear     *banner
	export    *widget.Button
	status    *kit.StatusText
	busy      *widget.Activity
	// saved is the path of the last file written, for tests.
	saved string
}

func newExportScreen(g *gui, sh *shell, s *app.Session) *exportScreen {
	e := &exportScreen{g: g, s: s, sh: sh, status: kit.NewStatus(widget.MediumImportance), busy: widget.NewActivity(), chosen: widget.NewLabel("")}
	e.chosen.TextStyle.Bold = true
	e.format = widget.NewRadioGroup([]string{formatFHIR, formatCSV}, func(string) { g.activity() })
	e.format.Horizontal = true
	e.format.Required = true
	e.format.SetSelected(formatFHIR)
	e.picker = newPatientPicker(g, s)
	e.picker.onPick = func(p app.Patient) { e.setPatient(&p) }
	e.change = widget.NewButtonWithIcon("Change…", theme.SearchIcon(), g.act(func() {
		e.search.Show()
		e.change.Hide()
		g.focus(e.picker.search)
	}))
	e.change.Hide()
	e.search = container.New(kit.MinHeight(160), e.picker.view)
	e.pickerBox = container.NewVBox(container.NewHBox(e.chosen, e.change), e.search)
	e.pickerBox.Hide()
	e.scope = widget.NewRadioGroup([]string{scopePractice, scopeOnePatien}, func(v string) {
		g.activity()
		e.pickerBox.Hidden = v != scopeOnePatien
		e.pickerBox.Refresh()
		if v == scopeOnePatien && e.patient == nil {
			g.focus(e.picker.search)
		}
		e.update()
	})
	e.scope.Horizontal = true
	e.scope.Required = true
	e.scope.SetSelected(scopePractice)

	e.pair = newPassphrasePair(g, func() (string, string) { return s.User().Name, g.practice })
	e.pair.onChange = e.update
	e.passBox = container.NewVBox(widget.NewForm(e.pair.formItems("Passphrase")...),
		kit.Wrapped("Give the passphrase to the recipient separately (by phone, not in the same email as the file)."))
	e.recipient = newEntry(g, "age1…")
	e.recipient.OnChanged = func(string) { e.update() }
	e.recipBox = container.NewVBox(widget.NewForm(field("Recipient", e.recipient, "The recipient's age public key; only their private key opens the file.")))
	e.clear = newBanner(bannerDanger, "This file will NOT be encrypted: anyone who gets it can read every record in it. "+
		"The export is recorded in the audit log. Hand it over directly and delete it afterwards.")
	protections := []string{protectPassphrase, protectRecipient}
	if e.s.User().Role == app.Admin {
		// Patient data in the clear is an admin's decision.
		protections = append(protections, protectNone)
	}
	e.protect = widget.NewRadioGroup(protections, func(string) {
		g.activity()
		e.showProtection()
	})
	e.protect.Required = true
	e.protect.SetSelected(protectPassphrase)

	e.export = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), g.act(e.pickFile))
	e.export.Importance = widget.HighImportance
	e.busy.Hide()

	what := "Patients' demographics"
	if s.HasClinical() {
		what = "Patients' demographics and, in the FHIR bundle, their charts (notes, problems, allergies, medications, vitals)"
	}
	e.view = kit.Page(container.NewVBox(
		kit.Heading("Export patients"),
		kit.Wrapped(what+" are written to a file you choose, for another system or a patient's new practice. Every export is recorded in the audit log."),
		widget.NewForm(
			field("Format", e.format, ""),
			field("Patients", container.NewVBox(e.scope, e.pickerBox), ""),
			field("Protection", e.protect, ""),
		),
		e.passBox, e.recipBox, e.clear,
		e.status,
		container.NewHBox(e.export, e.busy),
	))
	e.showProtection()
	return e
}

// setPatient makes p the one patient exported.
func (e *exportScreen) setPatient(p *app.Patient) {
	e.patient = p
	if p != nil {
		e.chosen.SetText(fmt.Sprintf("%s  ·  %s  ·  born %s", p.Name(), p.MRN, dateText(p.DOB)))
		e.change.Show()
		e.search.Hide()
	} else {
		e.chosen.SetText("")
		e.change.Hide()
		e.search.Show()
	}
	e.update()
}

// forPatient sets the screen to export p alone.
func (e *exportScreen) forPatient(p app.Patient) {
	e.scope.SetSelected(scopeOnePatien)
	e.setPatient(&p)
}

// showProtection shows the fields of the chosen protection.
func (e *exportScreen) showProtection() {
	v := e.protect.Selected
	e.passBox.Hidden = v != protectPassphrase
	e.recipBox.Hidden = v != protectRecipient
	e.clear.Hidden = v != protectNone
	for _, o := range []fyne.CanvasObject{e.passBox, e.recipBox, e.clear} {
		o.Refresh()
	}
	e.update()
}

// problem says what is missing before an export can run, or "".
func (e *exportScreen) problem() string {
	if e.scope.Selected == scopeOnePatien && e.patient == nil {
		return "Find the patient to export and pick them from the list."
	}
	switch e.protect.Selected {
	case protectPassphrase:
		if !e.pair.ok() {
			return "Type a passphrase the meter accepts, twice."
		}
	case protectRecipient:
		if !strings.HasPrefix(strings.TrimSpace(e.recipient.Text), "age1") {
			return "Paste the recipient's age public key (it starts with age1)."
		}
	}
	return ""
}

// update turns the Export button on when the choices are complete.
func (e *exportScreen) update() {
	if e.export == nil {
		return
	}
	kit.Enable(e.export, e.problem() == "")
}

// options are the chosen export options.
func (e *exportScreen) options() app.ExportOptions {
	o := app.ExportOptions{Format: app.FormatFHIR}
	if e.format.Selected == formatCSV {
		o.Format = app.FormatCSV
	}
	if e.scope.Selected == scopeOnePatien && e.patient != nil {
		o.MRN = e.patient.MRN
	}
	switch e.protect.Selected {
	case protectPassphrase:
		o.Passphrase = e.pair.pass.Text
	case protectRecipient:
		o.Recipient = strings.TrimSpace(e.recipient.Text)
	case protectNone:
		o.Plaintext = true
	}
	return o
}

// fileName suggests a name for the export.
func (e *exportScreen) fileName(o app.ExportOptions) string {
	scope := "practice"
	if o.MRN != "" {
		scope = o.MRN
	}
	name := "clinicvault-" + scope + "-" + e.g.now().Format(isoDate)
	if o.Format == app.FormatCSV {
		name += ".csv"
	} else {
		name += ".json"
	}
	if !o.Plaintext {
		name += ".age"
	}
	return name
}

// pickFile asks where to save the export.
func (e *exportScreen) pickFile() {
	g := e.g
	if msg := e.problem(); msg != "" {
		e.status.Say(widget.DangerImportance, msg)
		return
	}
	o := e.options()
	fd := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		g.activity()
		if err != nil {
			g.showError("The file could not be created", err)
			return
		}
		if w == nil {
			return
		}
		e.saveTo(w)
	}, g.win)
	fd.SetFileName(e.fileName(o))
	kit.StartIn(fd, "")
	fd.Resize(fileDialogSize)
	g.showDialog(fd)
}

// saveTo writes the export to w off the UI thread, and closes it.
func (e *exportScreen) saveTo(w fyne.URIWriteCloser) {
	g := e.g
	o := e.options()
	e.export.Disable()
	e.busy.Show()
	e.busy.Start()
	e.status.Say(widget.MediumImportance, "Exporting…")
	var n int
	var err error
	g.background(func() {
		n, err = e.s.Export(g.ctx, w, o)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			storage.Delete(w.URI()) // no half-written file left behind
		}
	}, func() {
		e.busy.Stop()
		e.busy.Hide()
		e.update()
		if err != nil {
			e.status.Say(widget.DangerImportance, "Nothing was exported. "+exportProblem(err))
			return
		}
		path := w.URI().Path()
		e.saved = path
		msg := fmt.Sprintf("Exported %s to %s.", kit.Plural(n, "patient"), path)
		switch {
		case o.Plaintext:
			e.status.Say(widget.WarningImportance, msg+" The file is NOT encrypted. The export was recorded in the audit log: "+
				"hand the file over directly, then delete it (and empty the recycle bin).")
		case o.Passphrase != "":
			e.status.Say(widget.SuccessImportance, msg+" It is encrypted with the passphrase; give that to the recipient separately.")
			e.pair.clear()
		default:
			e.status.Say(widget.SuccessImportance, msg+" Only the recipient's age key opens it.")
		}
	})
}

// exportProblem is an export error in plain words.
func exportProblem(err error) string {
	var pe *app.PolicyError
	if errors.As(err, &pe) {
		return "The passphrase is too weak: " + plain.Error(err)
	}
	return plain.Error(err)
}
