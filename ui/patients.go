package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// patientsLimit is how many of the best matches the Patients screen
// fetches: the first page only, however large the practice.
const patientsLimit = 100

// patientColumns are the weights of the Patients list's columns.
var patientColumns = kit.Columns{0.40, 0.15, 0.25, 0.20}

// patientsScreen finds patients as the receptionist types and opens
// their charts; it also registers new patients.
type patientsScreen struct {
	g  *gui
	sh *shell
	s  recordsSession

	search  *kit.Entry
	list    *recordList
	results []app.Patient
	// shown is the query whose results are listed.
	shown  string
	count  *widget.Label
	status *kit.StatusText
	busy   *widget.Activity
	add    *widget.Button
	open   *widget.Button
	view   fyne.CanvasObject
	deb    *debouncer

	// adding is the open New patient dialog, for tests.
	adding *newPatientDialog
}

func newPatientsScreen(g *gui, sh *shell, s recordsSession) *patientsScreen {
	p := &patientsScreen{g: g, sh: sh, s: s,
		search: newEntry(g, "Search by name, MRN, phone, date of birth or national number   ("+kit.ShortcutLabel(findShortcut)+")"),
		count:  widget.NewLabel(""),
		status: kit.NewStatus(widget.MediumImportance),
		busy:   widget.NewActivity(),
		deb:    &debouncer{g: g, delay: searchDelay},
	}
	p.count.Wrapping = fyne.TextWrapWord
	p.list = newRecordList(g,
		func() int { return len(p.results) },
		func() fyne.CanvasObject {
			return newTapRow(container.New(patientColumns, cell(), cell(), cell(), cell()), nil, nil)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*tapRow)
			row.id = id
			row.onTap = p.list.focusAndSelect
			row.onDouble = func(id widget.ListItemID) { p.openRow(id) }
			cells := row.content.(*fyne.Container).Objects
			pt := p.results[id]
			cells[0].(*widget.Label).SetText(pt.Name())
			cells[1].(*widget.Label).SetText(pt.MRN)
			cells[2].(*widget.Label).SetText(dobText(pt.DOB, g.now()))
			cells[3].(*widget.Label).SetText(pt.Phone)
		},
	)
	p.list.onEnter = p.openRow
	p.list.onSelect = func(int) { kit.Enable(p.open, p.list.selected >= 0) }
	p.search.OnChanged = func(q string) { p.query(q) }
	p.search.OnSubmitted = func(string) { p.openSelected() }
	p.search.OnKey = func(k *fyne.KeyEvent) bool {
		switch k.Name {
		case fyne.KeyDown:
			p.list.move(1)
		case fyne.KeyUp:
			p.list.move(-1)
		case fyne.KeyEscape:
			if len(g.dialogs) > 0 || p.search.Text == "" {
				return false
			}
			p.search.SetText("")
		default:
			return false
		}
		return true
	}
	p.add = widget.NewButtonWithIcon("New patient…", theme.ContentAddIcon(), g.act(p.newPatient))
	p.add.Importance = widget.HighImportance
	p.open = widget.NewButtonWithIcon("Open chart", theme.FolderOpenIcon(), g.act(p.openSelected))
	p.busy.Hide()

	header := container.New(patientColumns, kit.HeaderCell("Name"), kit.HeaderCell("MRN"), kit.HeaderCell("Date of birth (age)"), kit.HeaderCell("Mobile"))
	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(p.open, p.add), kit.Heading("Patients")),
		container.NewBorder(nil, nil, nil, p.busy, p.search),
		p.count,
		p.status,
		header,
		widget.NewSeparator(),
	)
	p.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, p.list))
	p.show(nil, nil, "")
	return p
}

// query searches for what was typed once typing pauses; only the newest
// search's results are shown.
func (p *patientsScreen) query(q string) {
	p.g.activity()
	if strings.TrimSpace(q) == "" {
		p.deb.stop()
		p.busy.Stop()
		p.busy.Hide()
		p.show(nil, nil, q)
		return
	}
	p.busy.Show()
	p.busy.Start()
	s, ctx := p.s, p.g.ctx
	p.deb.run(func() func() {
		res, err := s.SearchPatients(ctx, q, patientsLimit)
		return func() {
			p.busy.Stop()
			p.busy.Hide()
			p.show(res, err, q)
		}
	})
}

// rerun searches again for what the field holds (a record may have
// changed since).
func (p *patientsScreen) rerun() {
	p.query(p.search.Text)
}

// show lists the results of the search for q.
func (p *patientsScreen) show(res []app.Patient, err error, q string) {
	sel := ""
	if p.list.selected >= 0 && p.list.selected < len(p.results) && p.shown == q {
		sel = p.results[p.list.selected].MRN
	}
	p.results, p.shown = res, q
	p.list.clearSelection()
	p.list.Refresh()
	p.list.ScrollToTop()
	q = strings.TrimSpace(q)
	switch {
	case err != nil:
		p.count.Importance = widget.DangerImportance
		p.count.SetText("The search did not run. " + plain.Error(err))
	case q == "":
		p.count.Importance = widget.MediumImportance
		p.count.SetText("Type part of a name (accents are optional), the MRN, a phone number, the date of birth or the national number. " +
			"Press " + kit.KeyLabel(fyne.KeyReturn) + " or double-click to open a chart; " + kit.ShortcutLabel(newPatientShortcut) + " registers a new patient.")
	case len(res) == 0:
		p.count.Importance = widget.WarningImportance
		p.count.SetText("No patient matches “" + q + "”. Check the spelling, try the date of birth or phone, or register them with New patient….")
	case len(res) >= patientsLimit:
		p.count.Importance = widget.MediumImportance
		p.count.SetText(fmt.Sprintf("The best %d matches for “%s”. Type more (a second name, the date of birth) to narrow them.", patientsLimit, q))
	default:
		p.count.Importance = widget.MediumImportance
		p.count.SetText(fmt.Sprintf("%s for “%s”.", kit.Plural(len(res), "patient"), q))
	}
	p.count.Refresh()
	if len(res) > 0 {
		at := 0
		for i, pt := range res {
			if pt.MRN == sel {
				at = i
			}
		}
		p.list.Select(at)
	}
	kit.Enable(p.open, p.list.selected >= 0)
}

// openRow opens the chart of result id.
func (p *patientsScreen) openRow(id widget.ListItemID) {
	if id >= 0 && id < len(p.results) {
		p.deb.stop()
		p.sh.openChart(p.results[id].MRN)
	}
}

// openSelected opens the selected patient's chart.
func (p *patientsScreen) openSelected() {
	if p.shown != p.search.Text && strings.TrimSpace(p.search.Text) != "" {
		// Enter before the search caught up: run it now and open
		// the best match, as the user expects.
		res, err := p.s.SearchPatients(p.g.ctx, p.search.Text, patientsLimit)
		p.deb.stop()
		p.busy.Stop()
		p.busy.Hide()
		p.show(res, err, p.search.Text)
	}
	p.openRow(p.list.selected)
}

// newPatientDialog registers a patient.
type newPatientDialog struct {
	p *patientsScreen
	f *formDialog
	*patientEntries

	// dups is the open duplicate warning, for tests.
	dups dialog.Dialog
	// created is the patient registered, for tests.
	created *app.Patient
}

// patientEntries are the fields of a patient's record in a form: who
// they are on the left, how to reach them on the right, admin notes
// across the bottom.
type patientEntries struct {
	g *gui

	given, family, preferred, dob *kit.Entry
	sex                           *widget.Select
	language, national, insurance *kit.Entry
	phone                         *kit.Entry // the mobile
	sms                           *widget.Check
	phone2, email, address        *kit.Entry
	postcode, emergency, notes    *kit.Entry
}

// newPatientEntries makes the fields, filled from p.
func newPatientEntries(g *gui, p app.Patient) *patientEntries {
	mk := func(placeholder, text string) *kit.Entry {
		e := newEntry(g, placeholder)
		e.SetText(text)
		return e
	}
	e := &patientEntries{g: g,
		given:     mk("", p.Given),
		family:    mk("", p.Family),
		preferred: mk("Optional: the name they go by", p.Preferred),
		dob:       mk("", p.DOB),
		language:  mk("For example Polish", p.Language),
		national:  mk("NHS, Medicare, health card… number", p.NationalNumber),
		insurance: mk("Insurer and member number", p.Insurance),
		phone:     mk("for example +44 7700 900123", p.Phone),
		phone2:    mk("", p.Phone2),
		email:     mk("", p.Email),
		address:   mk("", p.Address),
		postcode:  mk("", p.Postcode),
		emergency: mk("Name and phone", p.EmergencyContact),
		notes:     newMultiLineEntry(g, "", 2),
	}
	e.notes.SetText(p.AdminNotes)
	e.sex = widget.NewSelect([]string{"Female", "Male", "Other", "Unknown"}, func(string) { g.activity() })
	e.sex.PlaceHolder = "Choose"
	if p.Sex != "" {
		e.sex.SetSelected(capitalised(p.Sex))
	}
	e.sms = widget.NewCheck("Agrees to SMS reminders", func(bool) { g.activity() })
	e.sms.SetChecked(p.SMSConsent)
	// Reminders go to the mobile: without one there is nothing to agree to.
	e.phone.OnChanged = func(string) { e.mobileChanged() }
	e.mobileChanged()
	return e
}

// mobileChanged offers the SMS consent only while there is a mobile.
func (e *patientEntries) mobileChanged() {
	if strings.TrimSpace(e.phone.Text) == "" {
		e.sms.SetChecked(false)
		e.sms.Disable()
	} else {
		e.sms.Enable()
	}
}

// form lays the fields out. Tab goes down the left column, then the right.
func (e *patientEntries) form(order app.DateOrder) fyne.CanvasObject {
	return patientForm(
		[]*widget.FormItem{
			field("Given name", e.given, ""),
			field("Family name", e.family, ""),
			field("Preferred name", e.preferred, ""),
			field("Date of birth", e.dob, dateOrderHint(order)),
			field("Sex", e.sex, ""),
			field("National number", e.national, ""),
			field("Insurance", e.insurance, ""),
		},
		[]*widget.FormItem{
			field("Mobile", e.phone, ""),
			field("", e.sms, ""),
			field("Home phone", e.phone2, ""),
			field("Email", e.email, ""),
			field("Address", e.address, ""),
			field("Postcode", e.postcode, ""),
			field("Emergency contact", e.emergency, ""),
			field("Preferred language", e.language, ""),
		},
		e.notes)
}

// entries are the text fields, in Tab order (Enter in any submits).
func (e *patientEntries) entries() []*kit.Entry {
	return []*kit.Entry{e.given, e.family, e.preferred, e.dob, e.national, e.insurance,
		e.phone, e.phone2, e.email, e.address, e.postcode, e.emergency, e.language, e.notes}
}

// patient is what the fields hold, the date of birth as typed.
func (e *patientEntries) patient() app.Patient {
	t := func(x *kit.Entry) string { return strings.TrimSpace(x.Text) }
	return app.Patient{
		Given: t(e.given), Family: t(e.family), Preferred: t(e.preferred), DOB: t(e.dob),
		Sex: strings.ToLower(e.sex.Selected), Language: t(e.language),
		NationalNumber: t(e.national), Insurance: t(e.insurance),
		Phone: t(e.phone), SMSConsent: e.sms.Checked && t(e.phone) != "", Phone2: t(e.phone2),
		Email: t(e.email), Address: t(e.address), Postcode: t(e.postcode),
		EmergencyContact: t(e.emergency), AdminNotes: t(e.notes),
	}
}

// widgetFor is the field an app refusal names (by its type, never its
// words), or nil.
func (e *patientEntries) widgetFor(err error) fyne.Focusable {
	var fe *app.FieldError
	if !errors.As(err, &fe) {
		return nil
	}
	switch fe.Field {
	case app.FieldSex:
		return e.sex
	case app.FieldSMSConsent:
		return e.phone // consent needs a mobile: that is what to fix
	}
	return map[app.PatientField]*kit.Entry{
		app.FieldGiven: e.given, app.FieldFamily: e.family, app.FieldPreferred: e.preferred, app.FieldDOB: e.dob,
		app.FieldMobile: e.phone, app.FieldHomePhone: e.phone2, app.FieldEmail: e.email, app.FieldAddress: e.address,
		app.FieldPostcode: e.postcode, app.FieldNationalNumber: e.national, app.FieldInsurance: e.insurance,
		app.FieldEmergencyContact: e.emergency, app.FieldAdminNotes: e.notes, app.FieldLanguage: e.language,
	}[fe.Field]
}

// newPatient opens the New patient form.
func (p *patientsScreen) newPatient() {
	g := p.g
	n := &newPatientDialog{p: p, patientEntries: newPatientEntries(g, app.Patient{})}
	p.adding = n
	n.f = g.newFormDialog("New patient", "Register patient", container.NewVBox(
		kit.Wrapped("Given name, family name and date of birth are required. ClinicVault checks for an existing record before it registers a new one."),
		n.form(p.s.DateOrder()),
	), n.save)
	n.f.submitOnEnter(n.entries()...)
	n.f.show(fyne.NewSize(940, 600), n.given)
}

// patientForm lays a patient's fields out in two columns, who they are on
// the left and how to reach them on the right, with the admin notes
// across the bottom. Tab goes down the left column, then the right.
func patientForm(left, right []*widget.FormItem, notes *kit.Entry) fyne.CanvasObject {
	return container.NewVBox(
		container.NewGridWithColumns(2, widget.NewForm(left...), widget.NewForm(right...)),
		widget.NewForm(field("Admin notes", notes, "Front-desk notes, not clinical. "+kit.ShortcutLabel(kit.SubmitShortcut)+" saves from here.")),
	)
}

// patient reads the form. msg says what is missing, bad is its field.
func (n *newPatientDialog) patient() (pt app.Patient, msg string, bad fyne.Focusable) {
	order := n.p.s.DateOrder()
	pt = n.patientEntries.patient()
	typed := pt.DOB
	pt.DOB = ""
	switch {
	case pt.Given == "":
		return pt, "Type the patient's given name.", n.given
	case pt.Family == "":
		return pt, "Type the patient's family name.", n.family
	case typed == "":
		return pt, "Type the date of birth, as " + dateOrderHint(order) + ".", n.dob
	}
	iso, ok := app.ParseTypedDate(typed, order)
	if !ok {
		return pt, "The date of birth “" + typed + "” is not a date. Type it as " + dateOrderHint(order) + ".", n.dob
	}
	pt.DOB = iso
	return pt, "", nil
}

// save registers the patient unless an existing record looks like it;
// then it asks (one check, in the registration's transaction).
func (n *newPatientDialog) save() {
	g := n.p.g
	pt, msg, bad := n.patient()
	if msg != "" {
		n.f.fail(msg)
		g.focus(bad)
		return
	}
	created, dups, err := n.p.s.AddPatientUnlessDuplicate(g.ctx, pt)
	if err != nil {
		n.notRegistered(err)
		return
	}
	if len(dups) > 0 {
		n.askDuplicates(pt, dups)
		return
	}
	n.registered(created)
}

// create registers the patient although it looks like an existing one.
func (n *newPatientDialog) create(pt app.Patient) {
	created, _, err := n.p.s.AddPatient(n.p.g.ctx, pt)
	if err != nil {
		n.notRegistered(err)
		return
	}
	n.registered(created)
}

// notRegistered says why, at the field refused if one was.
func (n *newPatientDialog) notRegistered(err error) {
	n.f.fail("The patient was not registered. " + plain.Error(err))
	if f := n.widgetFor(err); f != nil {
		n.p.g.focus(f)
	}
}

// registered opens the new chart.
func (n *newPatientDialog) registered(created app.Patient) {
	n.created = &created
	n.f.close()
	n.p.sh.openChart(created.MRN)
	if c := n.p.sh.chart; c != nil {
		c.note(widget.SuccessImportance, fmt.Sprintf("%s was registered with MRN %s.", created.Name(), created.MRN))
	}
}

// askDuplicates shows the existing records that look like pt and asks
// whether to create it anyway or open one of them.
func (n *newPatientDialog) askDuplicates(pt app.Patient, dups []app.Duplicate) {
	g := n.p.g
	var opts []string
	for _, d := range dups {
		why := d.Reason
		if strings.Contains(why, "phone") {
			why += " " + d.Patient.Phone
		}
		opts = append(opts, fmt.Sprintf("%s  ·  %s  ·  born %s  ·  %s", d.Patient.Name(), d.Patient.MRN, dateText(d.Patient.DOB), why))
	}
	pick := widget.NewRadioGroup(opts, func(string) { g.activity() })
	pick.Required = true
	pick.SetSelected(opts[0])
	var d *dialog.CustomDialog
	openExisting := widget.NewButtonWithIcon("Open existing", theme.FolderOpenIcon(), g.act(func() {
		for i, o := range opts {
			if o == pick.Selected {
				d.Hide()
				n.f.close()
				n.p.sh.openChart(dups[i].Patient.MRN)
				return
			}
		}
	}))
	openExisting.Importance = widget.HighImportance
	anyway := widget.NewButton("Create anyway", g.act(func() {
		d.Hide()
		n.create(pt)
	}))
	back := widget.NewButtonWithIcon("Back to the form", theme.NavigateBackIcon(), g.act(func() { d.Hide() }))
	what := "This patient may already be registered"
	if len(dups) > 1 {
		what = fmt.Sprintf("This patient may already be registered (%d records look alike)", len(dups))
	}
	content := container.New(kit.FixedWidth(660), container.NewVBox(
		kit.Wrapped(what+". Open the existing record rather than making a second one, unless you are sure this is a different person."),
		pick,
	))
	d = dialog.NewCustomWithoutButtons("Possible duplicate", content, g.win)
	d.SetButtons([]fyne.CanvasObject{back, anyway, openExisting})
	n.dups = d
	g.showDialog(d)
	g.setDefault(d, openExisting.OnTapped)
	g.win.Canvas().Unfocus()
}
