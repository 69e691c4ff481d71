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

	search  *entry
	list    *recordList
	results []app.Patient
	// shown is the query whose results are listed.
	shown  string
	count  *widget.Label
	status *statusText
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
		search: newEntry(g, "Search by name, MRN, phone or date of birth   (Ctrl+F)"),
		count:  widget.NewLabel(""),
		status: newStatus(widget.MediumImportance),
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
	p.list.onSelect = func(int) { enable(p.open, p.list.selected >= 0) }
	p.search.OnChanged = func(q string) { p.query(q) }
	p.search.OnSubmitted = func(string) { p.openSelected() }
	p.search.onKey = func(k *fyne.KeyEvent) bool {
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

	header := container.New(patientColumns, kit.HeaderCell("Name"), kit.HeaderCell("MRN"), kit.HeaderCell("Date of birth (age)"), kit.HeaderCell("Phone"))
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
		p.count.SetText("The search did not run. " + plain(err))
	case q == "":
		p.count.Importance = widget.MediumImportance
		p.count.SetText("Type part of a name (accents are optional), the MRN, a phone number or the date of birth. " +
			"Press Enter or double-click to open a chart; Ctrl+N registers a new patient.")
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
	enable(p.open, p.list.selected >= 0)
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

	given, family, preferred, dob *entry
	sex                           *widget.Select
	phone, email, address         *entry
	insurance, emergency, notes   *entry

	// dups is the open duplicate warning, for tests.
	dups dialog.Dialog
	// created is the patient registered, for tests.
	created *app.Patient
}

// newPatient opens the New patient form.
func (p *patientsScreen) newPatient() {
	g := p.g
	n := &newPatientDialog{p: p,
		given:     newEntry(g, ""),
		family:    newEntry(g, ""),
		preferred: newEntry(g, "Optional: the name they go by"),
		dob:       newEntry(g, ""),
		phone:     newEntry(g, "for example +44 20 7946 0001"),
		email:     newEntry(g, ""),
		address:   newEntry(g, ""),
		insurance: newEntry(g, "Insurer and member number"),
		emergency: newEntry(g, "Name and phone"),
		notes:     newMultiLineEntry(g, "", 2),
	}
	p.adding = n
	n.sex = widget.NewSelect([]string{"Female", "Male", "Other", "Unknown"}, func(string) { g.activity() })
	n.sex.PlaceHolder = "Choose"
	n.f = g.newFormDialog("New patient", "Register patient", container.NewVBox(
		kit.Wrapped("Given name, family name and date of birth are required. ClinicVault checks for an existing record before it registers a new one."),
		patientForm(
			[]*widget.FormItem{
				field("Given name", n.given, ""),
				field("Family name", n.family, ""),
				field("Preferred name", n.preferred, ""),
				field("Date of birth", n.dob, dateOrderHint(p.s.DateOrder())),
				field("Sex", n.sex, ""),
			},
			[]*widget.FormItem{
				field("Phone", n.phone, ""),
				field("Email", n.email, ""),
				field("Address", n.address, ""),
				field("Insurance", n.insurance, ""),
				field("Emergency contact", n.emergency, ""),
			},
			n.notes),
	), n.save)
	n.f.submitOnEnter(n.given, n.family, n.preferred, n.dob, n.phone, n.email, n.address, n.insurance, n.emergency, n.notes)
	n.f.show(fyne.NewSize(940, 520), n.given)
}

// patientForm lays a patient's fields out in two columns, who they are on
// the left and how to reach them on the right, with the admin notes
// across the bottom. Tab goes down the left column, then the right.
func patientForm(left, right []*widget.FormItem, notes *entry) fyne.CanvasObject {
	return container.NewVBox(
		container.NewGridWithColumns(2, widget.NewForm(left...), widget.NewForm(right...)),
		widget.NewForm(field("Admin notes", notes, "Front-desk notes, not clinical. Ctrl+Enter saves from here.")),
	)
}

// patient reads the form. msg says what is missing, bad is its field.
func (n *newPatientDialog) patient() (pt app.Patient, msg string, bad fyne.Focusable) {
	order := n.p.s.DateOrder()
	pt = app.Patient{
		Given:            strings.TrimSpace(n.given.Text),
		Family:           strings.TrimSpace(n.family.Text),
		Preferred:        strings.TrimSpace(n.preferred.Text),
		Sex:              strings.ToLower(n.sex.Selected),
		Phone:            strings.TrimSpace(n.phone.Text),
		Email:            strings.TrimSpace(n.email.Text),
		Address:          strings.TrimSpace(n.address.Text),
		Insurance:        strings.TrimSpace(n.insurance.Text),
		EmergencyContact: strings.TrimSpace(n.emergency.Text),
		AdminNotes:       strings.TrimSpace(n.notes.Text),
	}
	typed := strings.TrimSpace(n.dob.Text)
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

// save checks for duplicates, then registers the patient.
func (n *newPatientDialog) save() {
	g := n.p.g
	pt, msg, bad := n.patient()
	if msg != "" {
		n.f.fail(msg)
		g.focus(bad)
		return
	}
	dups, err := n.p.s.FindDuplicates(g.ctx, pt)
	if err != nil {
		n.f.fail("The check for an existing record did not run. " + plain(err))
		return
	}
	if len(dups) > 0 {
		n.askDuplicates(pt, dups)
		return
	}
	n.create(pt)
}

// create registers the patient and opens the new chart.
func (n *newPatientDialog) create(pt app.Patient) {
	g := n.p.g
	created, _, err := n.p.s.AddPatient(g.ctx, pt)
	if err != nil {
		n.f.fail("The patient was not registered. " + plain(err))
		if errors.Is(err, app.ErrInvalid) {
			if f := n.fieldFor(err); f != nil {
				g.focus(f)
			}
		}
		return
	}
	n.created = &created
	n.f.close()
	n.p.sh.openChart(created.MRN)
	if c := n.p.sh.chart; c != nil {
		c.note(widget.SuccessImportance, fmt.Sprintf("%s was registered with MRN %s.", created.Name(), created.MRN))
	}
}

// fieldFor is the field an app refusal names.
func (n *newPatientDialog) fieldFor(err error) fyne.Focusable {
	msg := err.Error()
	for _, f := range []struct {
		prefix string
		e      *entry
	}{
		{"the given name", n.given}, {"given name", n.given}, {"the family name", n.family}, {"family name", n.family},
		{"preferred name", n.preferred}, {"date of birth", n.dob}, {"second phone", n.phone}, {"phone", n.phone},
		{"email", n.email}, {"address", n.address}, {"insurance", n.insurance}, {"emergency contact", n.emergency},
		{"administrative notes", n.notes},
	} {
		if strings.HasPrefix(msg, f.prefix) {
			return f.e
		}
	}
	if strings.HasPrefix(msg, "sex") {
		return n.sex
	}
	return nil
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
