package ui

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// textList is a list of rows of text in weighted columns under bold
// headings; empty is said instead when there are no rows.
func textList(g *gui, cols kit.Columns, headers []string, rows [][]string, empty string) (*recordList, fyne.CanvasObject) {
	list := newRecordList(g,
		func() int { return len(rows) },
		func() fyne.CanvasObject {
			cells := make([]fyne.CanvasObject, len(headers))
			for i := range cells {
				cells[i] = cell()
			}
			return newTapRow(container.New(cols, cells...), nil, nil)
		},
		nil)
	list.UpdateItem = func(id widget.ListItemID, o fyne.CanvasObject) {
		row := o.(*tapRow)
		row.id = id
		row.onTap = list.focusAndSelect
		for i, c := range row.content.(*fyne.Container).Objects {
			c.(*widget.Label).SetText(rows[id][i])
		}
	}
	if len(rows) == 0 {
		l := kit.Wrapped(empty)
		l.Importance = widget.LowImportance
		return list, container.NewVBox(l)
	}
	heads := make([]fyne.CanvasObject, len(headers))
	for i, h := range headers {
		heads[i] = kit.HeaderCell(h)
	}
	return list, container.NewBorder(container.NewVBox(container.New(cols, heads...), widget.NewSeparator()), nil, nil, nil, list)
}

// encountersTab lists the visit notes, newest first, with their sign-off
// and addenda.
type encountersTab struct {
	c    *chartScreen
	view fyne.CanvasObject
	// form is the last note form opened, for tests.
	form *soapDialog
	// addendum is the last addendum form opened, for tests.
	addendum *kit.Entry
}

func newEncountersTab(c *chartScreen) *encountersTab {
	e := &encountersTab{c: c}
	g := c.g
	// A new note is written beside the summary.
	add := widget.NewButtonWithIcon("New note", theme.ContentAddIcon(), g.act(func() {
		c.selectTab(tabSummary)
		if c.summary != nil && c.summary.note != nil {
			g.focus(c.summary.note.fields[0])
		}
	}))
	add.Importance = widget.HighImportance
	list := container.NewVBox()
	for _, enc := range c.chart.Encounters {
		list.Add(e.card(enc))
	}
	if len(c.chart.Encounters) == 0 {
		l := kit.Wrapped("No encounters yet. Write the note of a visit on the Summary tab, beside the patient's summary.")
		l.Importance = widget.LowImportance
		list.Add(l)
	}
	e.view = tabPage([]fyne.CanvasObject{add}, kit.Page(list))
	return e
}

// soapSections are the note's sections, in order.
var soapSections = []string{"Subjective", "Objective", "Assessment", "Plan"}

func soapText(n app.SOAP) []string {
	return []string{n.Subjective, n.Objective, n.Assessment, n.Plan}
}

// card shows one encounter.
func (e *encountersTab) card(enc app.Encounter) fyne.CanvasObject {
	g := e.c.g
	title := widget.NewLabelWithStyle(enc.SeenAt.Local().Format("Mon 2 Jan 2006 15:04")+"   ·   "+orDash(enc.Clinician)+visitText(e.c.chart, enc.AppointmentID),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.Truncation = fyne.TextTruncateEllipsis
	state := newBadge()
	sign := widget.NewLabel("")
	sign.Wrapping = fyne.TextWrapWord
	if enc.Signed() {
		state.set("Signed", statusColours[app.StatusDone], whiteColor)
		sign.SetText(fmt.Sprintf("Signed by %s on %s. To correct or add to it, add an addendum.",
			orDash(enc.SignedBy), enc.SignedAt.Local().Format(dateTimeLayout)))
	} else {
		state.set("Draft", statusColours[app.StatusInRoom], whiteColor)
		sign.SetText("Draft: not signed yet. It can be edited until it is signed off.")
		sign.Importance = widget.WarningImportance
	}
	parts := []fyne.CanvasObject{container.NewBorder(nil, nil, nil, state, title), sign}
	for i, text := range soapText(enc.SOAP) {
		if strings.TrimSpace(text) == "" {
			continue
		}
		head := widget.NewLabelWithStyle(soapSections[i], fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		body := kit.Wrapped(text)
		body.Selectable = true
		parts = append(parts, container.NewBorder(nil, nil, container.New(kit.FixedWidth(110), head), nil, body))
	}
	for _, a := range enc.Addenda {
		head := widget.NewLabelWithStyle(fmt.Sprintf("Addendum by %s on %s", orDash(a.Author), a.Created.Local().Format(dateTimeLayout)),
			fyne.TextAlignLeading, fyne.TextStyle{Italic: true, Bold: true})
		head.Wrapping = fyne.TextWrapWord
		body := kit.Wrapped(a.Text)
		body.Selectable = true
		parts = append(parts, widget.NewSeparator(), head, body)
	}
	var buttons []fyne.CanvasObject
	if enc.Signed() {
		buttons = append(buttons, widget.NewButtonWithIcon("Add addendum…", theme.ContentAddIcon(), g.act(func() { e.addAddendum(enc) })))
	} else {
		enc := enc
		buttons = append(buttons,
			widget.NewButtonWithIcon("Edit draft…", theme.DocumentCreateIcon(), g.act(func() { e.edit(&enc) })),
			widget.NewButtonWithIcon("Sign off…", theme.ConfirmIcon(), g.act(func() { e.signOff(enc) })),
		)
	}
	enc2 := enc
	buttons = append(buttons, widget.NewButtonWithIcon("Print summary…", theme.DocumentPrintIcon(), g.act(func() { e.printSummary(enc2) })))
	parts = append(parts, container.NewHBox(buttons...))
	return card(container.NewVBox(parts...))
}

// summaryName suggests a file name for enc's visit summary.
func (e *encountersTab) summaryName(enc app.Encounter) string {
	return "visit-" + e.c.mrn + "-" + enc.SeenAt.Local().Format(isoDate) + ".pdf"
}

// printSummary asks where to save enc's visit summary as a PDF.
func (e *encountersTab) printSummary(enc app.Encounter) {
	g := e.c.g
	fd := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		g.activity()
		if err != nil {
			g.showError("The visit summary was not saved", err)
			return
		}
		if w == nil {
			return
		}
		e.writeSummary(enc, w)
	}, g.win)
	fd.SetFileName(e.summaryName(enc))
	fd.SetFilter(storage.NewExtensionFileFilter([]string{".pdf"}))
	kit.StartIn(fd, "")
	fd.Resize(fileDialogSize)
	g.showDialog(fd)
}

// writeSummary renders enc's visit summary and writes it to w, off the UI
// thread, then closes w.
func (e *encountersTab) writeSummary(enc app.Encounter, w fyne.URIWriteCloser) {
	c := e.c
	g := c.g
	mrn := c.mrn
	var err error
	g.background(func() {
		var pdf []byte
		if pdf, err = c.s.VisitSummaryPDF(g.ctx, mrn, enc.ID); err == nil {
			_, err = w.Write(pdf)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			storage.Delete(w.URI()) // no empty or partial file left behind
		}
	}, func() {
		if err != nil {
			g.showError("The visit summary was not saved", err)
			return
		}
		c.note(widget.WarningImportance, "The visit summary was saved to "+w.URI().Path()+
			". The PDF is not encrypted: print it or hand it to the patient, then delete it.")
	})
}

// soapDialog writes or edits a visit note.
type soapDialog struct {
	f      *formDialog
	fields [4]*kit.Entry
}

// edit opens the note form: a new encounter when enc is nil, else the
// draft enc.
func (e *encountersTab) edit(enc *app.Encounter) {
	c := e.c
	g := c.g
	d := &soapDialog{}
	hints := []string{"What the patient reports", "Examination and measurements", "Diagnosis or impression", "Treatment, tests, follow-up"}
	form := widget.NewForm()
	for i := range d.fields {
		d.fields[i] = newMultiLineEntry(g, hints[i], 4)
		if enc != nil {
			d.fields[i].SetText(soapText(enc.SOAP)[i])
		}
		form.Append(soapSections[i], d.fields[i])
	}
	title, okText := "New encounter for "+c.chart.Patient.Name(), "Save draft"
	if enc != nil {
		title = "Edit draft encounter"
		okText = "Save changes"
	}
	d.f = g.newFormDialog(title, okText, container.NewVBox(
		kit.Wrapped("The note is saved as a draft. Sign it off when it is complete: after sign-off it can only take addenda. "+kit.ShortcutLabel(kit.SubmitShortcut)+" saves."),
		form,
	), func() {
		note := app.SOAP{Subjective: d.fields[0].Text, Objective: d.fields[1].Text, Assessment: d.fields[2].Text, Plan: d.fields[3].Text}
		var err error
		if enc == nil {
			_, err = c.s.AddEncounter(g.ctx, c.mrn, note)
		} else {
			err = c.s.EditEncounter(g.ctx, c.mrn, enc.ID, note)
		}
		if err != nil {
			d.f.fail("The note was not saved. " + plain.Error(err))
			return
		}
		d.f.close()
		c.note(widget.SuccessImportance, "The encounter note was saved as a draft. Sign it off when it is complete.")
		c.reload()
	})
	d.f.submitOnEnter(d.fields[:]...)
	e.form = d
	// What was typed when ClinicVault locked comes back.
	draft := "note-new:" + c.mrn
	if enc != nil {
		draft = "note-edit:" + enc.ID
	}
	if texts := g.restoreDraft(draft); len(texts) == len(d.fields) {
		for i, t := range texts {
			d.fields[i].SetText(t)
		}
		d.f.status.Importance = widget.MediumImportance
		d.f.status.SetText("What you had typed before ClinicVault locked is back; it is not saved yet.")
	}
	d.f.keepDraft(draft, func() []string {
		out := make([]string, len(d.fields))
		for i, f := range d.fields {
			out[i] = f.Text
		}
		return out
	})
	d.f.show(fyne.NewSize(760, 660), d.fields[0])
}

// signOff signs the draft enc after asking.
func (e *encountersTab) signOff(enc app.Encounter) {
	c := e.c
	c.g.confirmDialog("Sign off encounter", "Sign off",
		"Sign off this note as "+c.s.User().Name+"? After sign-off the note cannot be changed; corrections and additions go in addenda.",
		false, func() {
			if err := c.s.SignEncounter(c.g.ctx, c.mrn, enc.ID); err != nil {
				c.g.showError("The encounter was not signed", err)
				return
			}
			c.note(widget.SuccessImportance, "The encounter was signed off.")
			c.reload()
		})
}

// addAddendum adds text to the signed encounter enc.
func (e *encountersTab) addAddendum(enc app.Encounter) {
	c := e.c
	g := c.g
	text := newMultiLineEntry(g, "The correction or addition", 5)
	e.addendum = text
	var f *formDialog
	f = g.newFormDialog("Add addendum", "Add addendum", container.NewVBox(
		kit.Wrapped(fmt.Sprintf("To the note of %s by %s. The signed note stays as it was; the addendum is shown under it with your name and the time. %s saves.",
			enc.SeenAt.Local().Format(dateTimeLayout), orDash(enc.Clinician), kit.ShortcutLabel(kit.SubmitShortcut))),
		text,
	), func() {
		if err := c.s.AddAddendum(g.ctx, c.mrn, enc.ID, text.Text); err != nil {
			f.fail("The addendum was not added. " + plain.Error(err))
			return
		}
		f.close()
		c.note(widget.SuccessImportance, "The addendum was added.")
		c.reload()
	})
	f.submitOnEnter(text)
	f.show(fyne.NewSize(640, 420), text)
}

// problemsTab lists the problem list with Add.
func (c *chartScreen) problemsTab() fyne.CanvasObject {
	var rows [][]string
	for _, p := range c.chart.Problems {
		rows = append(rows, []string{p.Description, orDash(p.ICD10), orDash(dateText(p.Onset)), capitalised(p.Status)})
	}
	_, body := textList(c.g, kit.Columns{0.46, 0.14, 0.22, 0.18}, []string{"Problem", "ICD-10", "Onset", "Status"}, rows, "No problems recorded.")
	add := widget.NewButtonWithIcon("Add problem…", theme.ContentAddIcon(), c.g.act(c.addProblem))
	add.Importance = widget.HighImportance
	var names []correctable
	for _, p := range c.chart.Problems {
		names = append(names, correctable{p.ID, p.Description})
	}
	return tabPage([]fyne.CanvasObject{add, c.correctButton("problems", names, "Mark resolved", "status", "resolved")}, body)
}

// optionalDate reads an optional date typed as YYYY-MM-DD or in the
// practice's order; ok is false when something not a date was typed.
func optionalDate(e *kit.Entry, order app.DateOrder) (iso string, ok bool) {
	typed := strings.TrimSpace(e.Text)
	if typed == "" {
		return "", true
	}
	return app.ParseTypedDate(typed, order)
}

func (c *chartScreen) addProblem() {
	g := c.g
	order := c.s.DateOrder()
	desc := newEntry(g, "for example Essential hypertension")
	icd := newEntry(g, "Optional, for example I10")
	onset := newEntry(g, "Optional")
	status := widget.NewSelect([]string{"Active", "Inactive", "Resolved"}, func(string) { g.activity() })
	status.SetSelected("Active")
	var f *formDialog
	f = g.newFormDialog("Add problem", "Add problem", widget.NewForm(
		field("Problem", desc, ""), field("ICD-10", icd, ""), field("Onset", onset, dateOrderHint(order)), field("Status", status, ""),
	), func() {
		on, ok := optionalDate(onset, order)
		if !ok {
			f.fail("The onset “" + strings.TrimSpace(onset.Text) + "” is not a date. Type it as " + dateOrderHint(order) + ", or leave it empty.")
			g.focus(onset)
			return
		}
		err := c.s.AddProblem(g.ctx, c.mrn, app.Problem{Description: desc.Text, ICD10: icd.Text, Onset: on, Status: strings.ToLower(status.Selected)})
		if err != nil {
			f.fail("The problem was not added. " + plain.Error(err))
			return
		}
		f.close()
		c.note(widget.SuccessImportance, "Added to the problem list: "+strings.TrimSpace(desc.Text)+".")
		c.reload()
	})
	f.submitOnEnter(desc, icd, onset)
	f.show(fyne.NewSize(560, 380), desc)
}

// allergiesTab lists the allergies with Add.
func (c *chartScreen) allergiesTab() fyne.CanvasObject {
	var rows [][]string
	for _, a := range c.chart.Allergies {
		rows = append(rows, []string{a.Substance, orDash(a.Reaction), orDash(capitalised(a.Severity))})
	}
	_, body := textList(c.g, kit.Columns{0.4, 0.4, 0.2}, []string{"Substance", "Reaction", "Severity"}, rows, "No allergies recorded.")
	add := widget.NewButtonWithIcon("Add allergy…", theme.ContentAddIcon(), c.g.act(c.addAllergy))
	add.Importance = widget.HighImportance
	var names []correctable
	for _, a := range c.chart.Allergies {
		names = append(names, correctable{a.ID, a.Substance})
	}
	return tabPage([]fyne.CanvasObject{add, c.correctButton("allergies", names, "", "", "")}, body)
}

func (c *chartScreen) addAllergy() {
	g := c.g
	substance := newEntry(g, "for example Penicillin")
	reaction := newEntry(g, "for example rash, anaphylaxis")
	severity := widget.NewSelect([]string{"Mild", "Moderate", "Severe"}, func(string) { g.activity() })
	severity.PlaceHolder = "Choose (optional)"
	var f *formDialog
	f = g.newFormDialog("Add allergy", "Add allergy", widget.NewForm(
		field("Substance", substance, ""), field("Reaction", reaction, ""), field("Severity", severity, ""),
	), func() {
		err := c.s.AddAllergy(g.ctx, c.mrn, app.Allergy{Substance: substance.Text, Reaction: reaction.Text, Severity: strings.ToLower(severity.Selected)})
		if err != nil {
			f.fail("The allergy was not added. " + plain.Error(err))
			return
		}
		f.close()
		c.note(widget.SuccessImportance, "Allergy recorded: "+strings.TrimSpace(substance.Text)+".")
		c.reload()
	})
	f.submitOnEnter(substance, reaction)
	f.show(fyne.NewSize(540, 330), substance)
}

// medicationsTab lists the medications with Add.
func (c *chartScreen) medicationsTab() fyne.CanvasObject {
	var rows [][]string
	for _, m := range c.chart.Medications {
		rows = append(rows, []string{m.Name, orDash(m.Dose), orDash(m.Route), orDash(m.Frequency), orDash(dateText(m.Start)), orDash(dateText(m.Stop))})
	}
	_, body := textList(c.g, kit.Columns{0.22, 0.12, 0.12, 0.18, 0.18, 0.18}, []string{"Medication", "Dose", "Route", "Frequency", "Started", "Stopped"}, rows,
		"No medications recorded.")
	add := widget.NewButtonWithIcon("Add medication…", theme.ContentAddIcon(), c.g.act(c.addMedication))
	add.Importance = widget.HighImportance
	var names []correctable
	for _, m := range c.chart.Medications {
		if m.Stop == "" {
			names = append(names, correctable{m.ID, m.Name})
		}
	}
	return tabPage([]fyne.CanvasObject{add, c.correctButton("medications", names, "Stop today", "stop_date", c.g.now().Format("2006-01-02"))}, body)
}

// correctable is a record a Correct… dialog offers.
type correctable struct{ id, name string }

// correctButton opens a dialog to correct one of records: the tab's own
// step (stop a medication, resolve a problem) when done is not empty, or
// mark it entered in error, with the reason (kept in its history).
func (c *chartScreen) correctButton(table string, records []correctable, done, column, value string) *widget.Button {
	g := c.g
	b := widget.NewButtonWithIcon("Correct…", theme.DocumentCreateIcon(), g.act(func() {
		var names []string
		for _, r := range records {
			names = append(names, r.name)
		}
		pick := widget.NewSelect(names, func(string) { g.activity() })
		actions := []string{"Entered in error (a mistake: remove it from the chart)"}
		if done != "" {
			actions = append([]string{done}, actions...)
		}
		action := widget.NewRadioGroup(actions, func(string) { g.activity() })
		action.SetSelected(actions[0])
		reason := newEntry(g, "Why it was a mistake (kept in its history)")
		var f *formDialog
		f = g.newFormDialog("Correct the chart", "Save the correction", widget.NewForm(
			field("Record", pick, ""), field("What", action, ""), field("Reason", reason, "Needed when it was entered in error"),
		), func() {
			i := pick.SelectedIndex()
			if i < 0 {
				f.fail("Choose the record to correct.")
				return
			}
			corr := app.Correction{EnteredInError: reason.Text}
			if done != "" && action.Selected == done {
				corr = app.Correction{Set: map[string]string{column: value}}
			} else if strings.TrimSpace(reason.Text) == "" {
				f.fail("Say why it was entered in error.")
				g.focus(reason)
				return
			}
			if err := c.s.CorrectRecord(g.ctx, c.mrn, table, records[i].id, corr); err != nil {
				f.fail("The correction was not saved. " + plain.Error(err))
				return
			}
			f.close()
			c.note(widget.SuccessImportance, "Corrected: "+records[i].name+". The change is kept in the record's history.")
			c.reload()
		})
		f.submitOnEnter(reason)
		f.show(fyne.NewSize(600, 340), nil)
	}))
	if len(records) == 0 {
		b.Disable()
	}
	return b
}

func (c *chartScreen) addMedication() {
	g := c.g
	order := c.s.DateOrder()
	name := newEntry(g, "for example Amlodipine")
	dose := newEntry(g, "for example 5 mg")
	route := newEntry(g, "for example oral")
	freq := newEntry(g, "for example once daily")
	start := newEntry(g, "Optional")
	stop := newEntry(g, "Optional")
	// Shown when the medication conflicts with a recorded allergy: what
	// it runs into, and the reason to go on, required.
	warning := kit.Wrapped("")
	warning.Importance = widget.DangerImportance
	reason := newEntry(g, "Why it is right for this patient all the same")
	override := container.NewVBox(warning, widget.NewForm(field("Reason to go on", reason, "Kept with the medication and recorded in the audit log")))
	override.Hide()
	var f *formDialog
	f = g.newFormDialog("Add medication", "Add medication", container.NewVBox(widget.NewForm(
		field("Medication", name, ""), field("Dose", dose, ""), field("Route", route, ""), field("Frequency", freq, ""),
		field("Started", start, dateOrderHint(order)), field("Stopped", stop, "Leave empty while they take it"),
	), override), func() {
		from, ok1 := optionalDate(start, order)
		to, ok2 := optionalDate(stop, order)
		if !ok1 || !ok2 {
			bad := start
			if ok1 {
				bad = stop
			}
			f.fail("“" + strings.TrimSpace(bad.Text) + "” is not a date. Type it as " + dateOrderHint(order) + ", or leave it empty.")
			g.focus(bad)
			return
		}
		m := app.Medication{Name: name.Text, Dose: dose.Text, Route: route.Text, Frequency: freq.Text, Start: from, Stop: to}
		if override.Visible() {
			m.OverrideReason = reason.Text
		}
		err := c.s.AddMedication(g.ctx, c.mrn, m)
		var conflict *app.AllergyConflictError
		if errors.As(err, &conflict) {
			var lines []string
			for _, x := range conflict.Conflicts {
				lines = append(lines, "• "+kit.Sentence(x.String()))
			}
			warning.SetText("Allergy warning — " + strings.TrimSpace(name.Text) + " was not added:\n" + strings.Join(lines, "\n"))
			override.Show()
			f.ok.SetText("Prescribe anyway")
			f.fail("Check the allergy above. To prescribe it all the same, give the reason.")
			g.focus(reason)
			return
		}
		if err != nil {
			f.fail("The medication was not added. " + plain.Error(err))
			return
		}
		f.close()
		msg := "Medication recorded: " + strings.TrimSpace(name.Text) + "."
		if m.OverrideReason != "" {
			msg += " The allergy warning was overridden, with your reason."
		}
		c.note(widget.SuccessImportance, msg)
		c.reload()
	})
	// Changing the medication asks again.
	name.OnChanged = func(string) {
		if override.Visible() {
			override.Hide()
			f.ok.SetText("Add medication")
		}
	}
	f.submitOnEnter(name, dose, route, freq, start, stop, reason)
	f.show(fyne.NewSize(580, 620), name)
}

// documentsTab lists the stored documents with Add and Save a copy.
type documentsTab struct {
	c    *chartScreen
	list *recordList
	save *widget.Button
	view fyne.CanvasObject
	// titleForm is the last "name the document" form, for tests.
	titleForm *formDialog
	title     *kit.Entry
}

func newDocumentsTab(c *chartScreen) *documentsTab {
	d := &documentsTab{c: c}
	g := c.g
	var rows [][]string
	for _, doc := range c.chart.Documents {
		rows = append(rows, []string{doc.Title, kindOf(doc.MIME), sizeText(doc.Size), doc.Added.Local().Format(dateTimeLayout)})
	}
	var body fyne.CanvasObject
	d.list, body = textList(g, kit.Columns{0.44, 0.18, 0.14, 0.24}, []string{"Title", "Type", "Size", "Added"}, rows,
		"No documents yet. Add letters, results or scans (up to 25 MB each); they are stored encrypted in the vault.")
	add := widget.NewButtonWithIcon("Add document…", theme.ContentAddIcon(), g.act(d.pickFile))
	add.Importance = widget.HighImportance
	d.save = widget.NewButtonWithIcon("Save a copy…", theme.DocumentSaveIcon(), g.act(d.saveCopy))
	d.save.Disable()
	d.list.onSelect = func(id widget.ListItemID) { kit.Enable(d.save, id >= 0) }
	d.list.onEnter = func(widget.ListItemID) { d.saveCopy() }
	d.view = tabPage([]fyne.CanvasObject{add, d.save}, body)
	return d
}

// kindOf says a MIME type in words.
func kindOf(mime string) string {
	switch {
	case mime == "application/pdf":
		return "PDF"
	case strings.HasPrefix(mime, "image/"):
		return strings.ToUpper(strings.TrimPrefix(mime, "image/")) + " image"
	case strings.HasPrefix(mime, "text/"):
		return "Text"
	case mime == "" || mime == "application/octet-stream":
		return "File"
	}
	return mime
}

// sizeText is a file size in KB or MB.
func sizeText(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// fileDialogSize is the size of the open and save file dialogs.
var fileDialogSize = fyne.NewSize(900, 620)

// pickFile asks for a file to add.
func (d *documentsTab) pickFile() {
	g := d.c.g
	fd := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		g.activity()
		if err != nil {
			g.showError("The file could not be opened", err)
			return
		}
		if r == nil {
			return // cancelled
		}
		d.addFrom(r)
	}, g.win)
	fd.Resize(fileDialogSize)
	kit.StartIn(fd, "")
	g.showDialog(fd)
}

// addFrom reads the file r (at most 25 MB), asks for its title and stores
// it.
func (d *documentsTab) addFrom(r fyne.URIReadCloser) {
	c := d.c
	g := c.g
	defer r.Close()
	content, err := io.ReadAll(io.LimitReader(r, app.MaxDocumentSize+1))
	if err != nil {
		g.showError("The file could not be read", err)
		return
	}
	if len(content) > app.MaxDocumentSize {
		g.showInfo("The file is too large", "Documents can be up to 25 MB. Scan it at a lower resolution, or split it into parts.")
		return
	}
	if len(content) == 0 {
		g.showInfo("The file is empty", "There is nothing in this file to store.")
		return
	}
	uri := r.URI()
	mime := uri.MimeType()
	base := uri.Name()
	title := newEntry(g, "")
	title.SetText(strings.TrimSuffix(base, filepath.Ext(base)))
	title.CursorColumn = utf8.RuneCountInString(title.Text)
	d.title = title
	var f *formDialog
	f = g.newFormDialog("Add document", "Add document", container.NewVBox(
		kit.Wrapped(fmt.Sprintf("%s (%s, %s) will be stored encrypted in %s's chart.", base, kindOf(mime), sizeText(int64(len(content))), c.chart.Patient.Name())),
		widget.NewForm(field("Title", title, "For example: Discharge letter, St Mary's, March 2026")),
	), func() {
		f.ok.Disable()
		name := title.Text
		var err error
		g.background(func() {
			_, err = c.s.AddDocument(g.ctx, c.mrn, name, mime, content)
		}, func() {
			f.ok.Enable()
			if err != nil {
				f.fail("The document was not added. " + plain.Error(err))
				return
			}
			f.close()
			c.note(widget.SuccessImportance, "The document “"+strings.TrimSpace(name)+"” was added.")
			c.reload()
		})
	})
	f.submitOnEnter(title)
	d.titleForm = f
	f.show(fyne.NewSize(560, 300), title)
}

// selected is the selected document.
func (d *documentsTab) selected() (app.Document, bool) {
	i := d.list.selected
	if i < 0 || i >= len(d.c.chart.Documents) {
		return app.Document{}, false
	}
	return d.c.chart.Documents[i], true
}

// saveCopy asks where to save a copy of the selected document.
func (d *documentsTab) saveCopy() {
	doc, ok := d.selected()
	if !ok {
		return
	}
	g := d.c.g
	fd := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		g.activity()
		if err != nil {
			g.showError("The copy was not saved", err)
			return
		}
		if w == nil {
			return
		}
		d.saveTo(doc, w)
	}, g.win)
	fd.SetFileName(fileNameFor(doc))
	kit.StartIn(fd, "")
	fd.Resize(fileDialogSize)
	g.showDialog(fd)
}

// saveTo writes the document's content to w, off the UI thread.
func (d *documentsTab) saveTo(doc app.Document, w fyne.URIWriteCloser) {
	c := d.c
	g := c.g
	var err error
	g.background(func() {
		var content []byte
		if content, err = c.s.DocumentContent(g.ctx, c.mrn, doc.ID); err == nil {
			_, err = w.Write(content)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}, func() {
		if err != nil {
			g.showError("The copy was not saved", err)
			return
		}
		c.note(widget.SuccessImportance, "A copy of “"+doc.Title+"” was saved to "+w.URI().Path()+". It is not encrypted there: keep it safe or delete it when done.")
	})
}

// fileNameFor is a file name for a document: its title and an extension
// for its type.
func fileNameFor(doc app.Document) string {
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return '_'
		}
		return r
	}, doc.Title)
	ext := map[string]string{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "text/plain": ".txt"}[doc.MIME]
	if ext != "" && !strings.HasSuffix(strings.ToLower(name), ext) {
		name += ext
	}
	return name
}
