package ui

import (
	"errors"
	"fmt"
	"image/color"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// Chart tab names.
const (
	tabDemographics = "Demographics"
	tabAppointments = "Appointments"
	tabEncounters   = "Encounters"
	tabProblems     = "Problems"
	tabAllergies    = "Allergies"
	tabMedications  = "Medications"
	tabVitals       = "Vitals"
	tabDocuments    = "Documents"
)

// chartScreen is one patient's chart: a header with who they are (and,
// for clinicians, their allergies), and tabs for demographics,
// appointments and the clinical record.
type chartScreen struct {
	g  *gui
	sh *shell
	s  recordsSession

	mrn  string
	from string // the navigation entry it was opened from

	chart *app.Chart
	// restrictedTo names the clinicians a restricted chart is limited to.
	restrictedTo []string
	// emergency is true when the chart was opened with emergency access.
	emergency bool
	// loaded is true once the chart has been read.
	loaded bool

	view    fyne.CanvasObject
	content *fyne.Container
	status  *kit.StatusText
	tabs    *container.AppTabs
	tabName string
	summary *summaryTab
	// editing is the open Edit dialog's fields, for tests.
	editing *patientEntries

	// The clinical tabs, for tests.
	enc  *encountersTab
	vit  *vitalsTab
	docs *documentsTab
	// restricted is the open "restricted chart" dialog, for tests.
	restricted dialog.Dialog
	// emergencyForm is the open emergency access form, for tests.
	emergencyForm *emergencyDialog
}

func newChartScreen(g *gui, sh *shell, s recordsSession, mrn, from string) *chartScreen {
	c := &chartScreen{g: g, sh: sh, s: s, mrn: mrn, from: from, status: kit.NewStatus(widget.MediumImportance), tabName: tabSummary}
	busy := widget.NewActivity()
	busy.Start()
	c.content = container.NewStack(container.NewCenter(container.NewHBox(busy, widget.NewLabel("Opening the chart…"))))
	c.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), c.content)
	return c
}

// note shows a message above the tabs.
func (c *chartScreen) note(imp widget.Importance, msg string) {
	c.status.Say(imp, msg)
}

// load reads the chart off the UI thread.
func (c *chartScreen) load() {
	c.open(func() (*app.Chart, error) { return c.s.OpenChart(c.g.ctx, c.mrn) }, false)
}

// open reads the chart with read and shows it; emergency says it was
// opened with emergency access.
func (c *chartScreen) open(read func() (*app.Chart, error), emergency bool) {
	var ch *app.Chart
	var restricted []string
	var err error
	s, ctx := c.s, c.g.ctx
	c.g.background(func() {
		ch, err = read()
		if err == nil {
			restricted, _ = s.ChartRestriction(ctx, c.mrn)
		}
	}, func() {
		if c.sh.chart != c {
			return // another chart or screen replaced this one
		}
		if err != nil {
			c.failed(err)
			return
		}
		c.chart, c.restrictedTo, c.loaded = ch, restricted, true
		c.mrn = ch.Patient.MRN
		c.emergency = c.emergency || emergency
		c.render()
	})
}

// reload reads the chart again after a change, keeping the tab.
func (c *chartScreen) reload() {
	if c.tabs != nil && c.tabs.Selected() != nil {
		c.tabName = c.tabs.Selected().Text
	}
	c.load()
}

// failed shows why the chart did not open.
func (c *chartScreen) failed(err error) {
	back := c.backButton()
	if errors.Is(err, app.ErrRestricted) {
		emergency := widget.NewButtonWithIcon("Emergency access…", theme.WarningIcon(), c.g.act(c.askEmergency))
		emergency.Importance = widget.DangerImportance
		who := widget.NewLabel("MRN " + c.mrn)
		// Demographics are open to every role: say whose chart it is.
		if found, err := c.s.SearchPatients(c.g.ctx, c.mrn, 1); err == nil && len(found) == 1 && found[0].MRN == c.mrn {
			p := found[0]
			who.SetText(p.Name() + "   ·   MRN " + p.MRN + "   ·   Born " + dobText(p.DOB, c.g.now()))
		}
		who.TextStyle.Bold = true
		c.setContent(container.NewVBox(
			container.NewHBox(back),
			kit.Heading("This chart is restricted"),
			who,
			kit.Wrapped("This patient's clinical record is restricted to the clinicians named on it, and you are not one of them. "+
				"If you need it to treat the patient now, use emergency access and give the reason."),
			container.NewHBox(emergency),
		))
		c.askRestricted()
		return
	}
	msg := kit.Wrapped("The chart could not be opened. " + plain.Error(err))
	msg.Importance = widget.DangerImportance
	c.setContent(container.NewVBox(container.NewHBox(back), msg))
}

func (c *chartScreen) setContent(o fyne.CanvasObject) {
	c.content.Objects = []fyne.CanvasObject{o}
	c.content.Refresh()
}

// backButton returns to the screen the chart was opened from.
func (c *chartScreen) backButton() *widget.Button {
	from := c.from
	if from == "" || from == "Chart" {
		from = "Patients"
	}
	return widget.NewButtonWithIcon("Back to "+from, theme.NavigateBackIcon(), c.g.act(c.sh.back))
}

// clinical reports whether the chart shows the clinical record.
func (c *chartScreen) clinical() bool { return c.chart != nil && c.chart.Clinical }

// render shows the loaded chart.
func (c *chartScreen) render() {
	ch := c.chart
	p := ch.Patient
	g := c.g

	name := kit.Heading(p.Name())
	name.Truncation = fyne.TextTruncateEllipsis
	facts := []string{"MRN " + p.MRN, "Born " + dobText(p.DOB, g.now())}
	if p.Sex != "" {
		facts = append(facts, capitalised(p.Sex))
	}
	if p.Language != "" {
		facts = append(facts, "Speaks "+p.Language)
	}
	if p.Phone != "" {
		facts = append(facts, p.Phone)
	}
	line := widget.NewLabel(strings.Join(facts, "   ·   "))
	line.Truncation = fyne.TextTruncateEllipsis

	var right []fyne.CanvasObject
	if ch.Clinical {
		me := c.s.User()
		named := slices.Contains(c.restrictedTo, me.Name) || me.Role == app.Admin
		if len(c.restrictedTo) > 0 && named {
			right = append(right, widget.NewButtonWithIcon("Lift restriction…", theme.VisibilityIcon(), g.act(c.liftRestriction)))
		}
		if len(c.restrictedTo) == 0 || named {
			right = append(right, widget.NewButtonWithIcon("Restrict chart…", theme.VisibilityOffIcon(), g.act(c.restrict)))
		}
	}
	top := []fyne.CanvasObject{
		container.NewBorder(nil, nil, vcentre(c.backButton()), vcentre(container.NewHBox(right...)), name),
		line,
	}
	if p.Archived {
		why := "This record is archived: it no longer appears in searches or for booking. It is kept in full."
		if p.MergedInto != "" {
			why = "This record was merged into another record and archived. It is kept in full."
		}
		top = append(top, newBanner(bannerWarning, why))
	}
	if c.emergency {
		top = append(top, newBanner(bannerDanger, "Opened with emergency access. This access is recorded in the audit log and an admin reviews it."))
	}
	if ch.Clinical {
		top = append(top, allergyBanner(ch.Allergies))
		if len(c.restrictedTo) > 0 {
			top = append(top, newBanner(bannerWarning, "Restricted chart: only "+strings.Join(c.restrictedTo, ", ")+
				" may open the clinical record; anyone else needs emergency access."))
		}
	} else if c.s.ClinicalUnavailable() {
		top = append(top, newBanner(bannerWarning, "Your clinical records cannot be opened on this computer: the clinical key was changed on another computer in a way this one cannot follow yet. Ask an admin."))
	} else {
		top = append(top, newBanner(bannerInfo, "Clinical records are visible to clinicians only."))
	}
	top = append(top, c.status)

	c.summary = newSummaryTab(c)
	items := []*container.TabItem{
		container.NewTabItem(tabSummary, c.summary.view),
		container.NewTabItem(tabDemographics, c.demographicsTab()),
		container.NewTabItem(tabAppointments, c.appointmentsTab()),
	}
	if ch.Clinical {
		c.enc = newEncountersTab(c)
		c.vit = newVitalsTab(c)
		c.docs = newDocumentsTab(c)
		// Counts go inside the tabs: with them in the labels the tabs
		// overflow at the usual window width.
		items = append(items,
			container.NewTabItem(tabEncounters, c.enc.view),
			container.NewTabItem(tabProblems, c.problemsTab()),
			container.NewTabItem(tabAllergies, c.allergiesTab()),
			container.NewTabItem(tabMedications, c.medicationsTab()),
			container.NewTabItem(tabVitals, c.vit.view),
			container.NewTabItem(tabDocuments, c.docs.view),
		)
	}
	c.tabs = container.NewAppTabs(items...)
	c.tabs.OnSelected = func(t *container.TabItem) {
		g.activity()
		c.tabName = t.Text
	}
	c.selectTab(c.tabName)
	c.setContent(container.NewBorder(container.NewVBox(top...), nil, nil, nil, c.tabs))
}

// selectTab shows the tab called name.
func (c *chartScreen) selectTab(name string) bool {
	for _, t := range c.tabs.Items {
		if t.Text == name {
			c.tabs.Select(t)
			c.tabName = t.Text
			return true
		}
	}
	return false
}

// tabNames are the tabs shown.
func (c *chartScreen) tabNames() []string {
	var out []string
	if c.tabs == nil {
		return nil
	}
	for _, t := range c.tabs.Items {
		out = append(out, t.Text)
	}
	return out
}

// cycleTab moves step tabs on (Ctrl+Page Down and Ctrl+Page Up).
func (c *chartScreen) cycleTab(step int) {
	if c.tabs == nil || len(c.tabs.Items) == 0 {
		return
	}
	n := len(c.tabs.Items)
	i := (c.tabs.SelectedIndex() + step + n) % n
	c.tabs.SelectIndex(i)
}

// Banner kinds.
const (
	bannerDanger = iota
	bannerWarning
	bannerInfo
)

// banner is a full-width coloured strip with a bold message.
type banner struct {
	widget.BaseWidget
	kind  int
	label *widget.Label
	bg    *canvas.Rectangle
}

func newBanner(kind int, text string) *banner {
	b := &banner{kind: kind, label: widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), bg: canvas.NewRectangle(color.Transparent)}
	b.label.Wrapping = fyne.TextWrapWord
	switch kind {
	case bannerDanger:
		b.label.Importance = widget.DangerImportance
	case bannerWarning:
		b.label.Importance = widget.WarningImportance
	}
	b.bg.StrokeWidth = 1
	b.ExtendBaseWidget(b)
	return b
}

// CreateRenderer draws the label on a tinted box of the banner's colour.
func (b *banner) CreateRenderer() fyne.WidgetRenderer {
	r := &bannerRenderer{b: b, inner: container.New(layout.NewCustomPaddedLayout(0, 0, 6, 6), b.label)}
	r.Refresh()
	return r
}

type bannerRenderer struct {
	b     *banner
	inner *fyne.Container
}

func (r *bannerRenderer) Destroy() {}

func (r *bannerRenderer) Layout(size fyne.Size) {
	r.b.bg.Resize(size)
	r.inner.Resize(size)
}

func (r *bannerRenderer) MinSize() fyne.Size { return r.inner.MinSize() }

func (r *bannerRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.b.bg, r.inner}
}

func (r *bannerRenderer) Refresh() {
	th := r.b.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	name := theme.ColorNamePrimary
	switch r.b.kind {
	case bannerDanger:
		name = theme.ColorNameError
	case bannerWarning:
		name = theme.ColorNameWarning
	}
	col := color.NRGBAModel.Convert(th.Color(name, v)).(color.NRGBA)
	fill := col
	fill.A = 0x1e
	r.b.bg.FillColor = fill
	r.b.bg.StrokeColor = col
	r.b.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.b.bg.Refresh()
	r.inner.Refresh()
}

// allergyBanner lists the allergies in red, or says none are recorded.
func allergyBanner(list []app.Allergy) fyne.CanvasObject {
	if len(list) == 0 {
		return newBanner(bannerInfo, "No allergies recorded. Ask the patient and record any under Allergies.")
	}
	var parts []string
	for _, a := range list {
		s := a.Substance
		var more []string
		if a.Severity != "" {
			more = append(more, a.Severity)
		}
		if a.Reaction != "" {
			more = append(more, a.Reaction)
		}
		if len(more) > 0 {
			s += " (" + strings.Join(more, ": ") + ")"
		}
		parts = append(parts, s)
	}
	return newBanner(bannerDanger, "ALLERGIES: "+strings.Join(parts, "   ·   "))
}

// tabPage is a tab's content: a row of actions above a body.
func tabPage(actions []fyne.CanvasObject, body fyne.CanvasObject) fyne.CanvasObject {
	if len(actions) == 0 {
		return container.New(layout.NewCustomPaddedLayout(8, 0, 0, 0), body)
	}
	return container.New(layout.NewCustomPaddedLayout(8, 0, 0, 0),
		container.NewBorder(container.New(layout.NewCustomPaddedLayout(0, 6, 0, 0), container.NewHBox(actions...)), nil, nil, nil, body))
}

// demographicsTab shows the patient's record with Edit, History, Merge
// and Archive.
func (c *chartScreen) demographicsTab() fyne.CanvasObject {
	p := c.chart.Patient
	g := c.g
	value := func(s string) fyne.CanvasObject {
		l := widget.NewLabel(orDash(s))
		l.Wrapping = fyne.TextWrapWord
		l.Selectable = true
		return l
	}
	left := widget.NewForm(
		widget.NewFormItem("Given name", value(p.Given)),
		widget.NewFormItem("Family name", value(p.Family)),
		widget.NewFormItem("Preferred name", value(p.Preferred)),
		widget.NewFormItem("Date of birth", value(dobText(p.DOB, g.now()))),
		widget.NewFormItem("Sex", value(capitalised(p.Sex))),
		widget.NewFormItem("MRN", value(p.MRN)),
		widget.NewFormItem("Registered", value(p.Created.Local().Format(dateLayout))),
	)
	sms := "no"
	if p.SMSConsent {
		sms = "yes"
	}
	left.Append("National number", value(p.NationalNumber))
	left.Append("Insurance", value(p.Insurance))
	right := widget.NewForm(
		widget.NewFormItem("Mobile", value(p.Phone)),
		widget.NewFormItem("SMS reminders", value(sms)),
		widget.NewFormItem("Home phone", value(p.Phone2)),
		widget.NewFormItem("Email", value(p.Email)),
		widget.NewFormItem("Address", value(p.Address)),
		widget.NewFormItem("Postcode", value(p.Postcode)),
		widget.NewFormItem("Emergency contact", value(p.EmergencyContact)),
		widget.NewFormItem("Preferred language", value(p.Language)),
		widget.NewFormItem("Admin notes", value(p.AdminNotes)),
	)
	edit := widget.NewButtonWithIcon("Edit…", theme.DocumentCreateIcon(), g.act(c.edit))
	edit.Importance = widget.HighImportance
	history := widget.NewButtonWithIcon("History…", theme.HistoryIcon(), g.act(c.history))
	merge := widget.NewButton("Merge duplicate…", g.act(c.merge))
	archive := widget.NewButtonWithIcon("Archive…", theme.DeleteIcon(), g.act(c.archive))
	if p.Archived {
		edit.Disable()
		merge.Disable()
		archive.Disable()
	}
	export := widget.NewButtonWithIcon("Export…", theme.UploadIcon(), g.act(func() { c.sh.exportPatient(p) }))
	return tabPage([]fyne.CanvasObject{edit, history, merge, archive, export},
		container.NewVScroll(container.NewGridWithColumns(2, left, right)))
}

// patientFields are the patient's fields as the history names them.
var patientFields = map[string]string{
	"mrn": "MRN", "given": "Given name", "family": "Family name", "preferred": "Preferred name", "dob": "Date of birth",
	"sex": "Sex", "phone": "Mobile", "phone2": "Home phone", "email": "Email", "address": "Address", "insurance": "Insurance",
	"emergency_contact": "Emergency contact", "admin_notes": "Admin notes", "created_at": "Registered", "archived": "Archived",
	"merged_into": "Merged into", "postcode": "Postcode", "national_number": "National number", "sms_consent": "SMS reminders",
	"language": "Preferred language",
}

// edit changes the patient's demographics; only changed fields are sent.
func (c *chartScreen) edit() {
	g := c.g
	p := c.chart.Patient
	order := c.s.DateOrder()
	e := newPatientEntries(g, p)
	c.editing = e
	var f *formDialog
	f = g.newFormDialog("Edit "+p.Name(), "Save changes", e.form(order), func() {
		now := e.patient()
		var ch app.PatientChanges
		var names []string
		set := func(label string, dst **string, old, now string) {
			if now != old {
				*dst = app.Str(now)
				names = append(names, label)
			}
		}
		set("given name", &ch.Given, p.Given, now.Given)
		set("family name", &ch.Family, p.Family, now.Family)
		set("preferred name", &ch.Preferred, p.Preferred, now.Preferred)
		typed := now.DOB
		if iso, ok := app.ParseTypedDate(typed, order); ok {
			typed = iso
		} else if typed != p.DOB {
			f.fail("The date of birth “" + typed + "” is not a date. Type it as " + dateOrderHint(order) + ".")
			g.focus(e.dob)
			return
		}
		set("date of birth", &ch.DOB, p.DOB, typed)
		set("sex", &ch.Sex, p.Sex, now.Sex)
		set("preferred language", &ch.Language, p.Language, now.Language)
		set("national number", &ch.NationalNumber, p.NationalNumber, now.NationalNumber)
		set("insurance", &ch.Insurance, p.Insurance, now.Insurance)
		set("mobile", &ch.Phone, p.Phone, now.Phone)
		if now.SMSConsent != p.SMSConsent {
			ch.SMSConsent = &now.SMSConsent
			names = append(names, "SMS reminders")
		}
		set("home phone", &ch.Phone2, p.Phone2, now.Phone2)
		set("email", &ch.Email, p.Email, now.Email)
		set("address", &ch.Address, p.Address, now.Address)
		set("postcode", &ch.Postcode, p.Postcode, now.Postcode)
		set("emergency contact", &ch.EmergencyContact, p.EmergencyContact, now.EmergencyContact)
		set("admin notes", &ch.AdminNotes, p.AdminNotes, now.AdminNotes)
		if len(names) == 0 {
			f.close()
			c.note(widget.MediumImportance, "Nothing was changed.")
			return
		}
		if _, err := c.s.EditPatient(g.ctx, p.MRN, ch); err != nil {
			f.fail("The changes were not saved. " + plain.Error(err))
			if w := e.widgetFor(err); w != nil {
				g.focus(w)
			}
			return
		}
		f.close()
		c.note(widget.SuccessImportance, "Saved: "+strings.Join(names, ", ")+".")
		c.reload()
	})
	f.submitOnEnter(e.entries()...)
	f.show(fyne.NewSize(940, 600), e.given)
}

// archive archives the patient after asking.
func (c *chartScreen) archive() {
	p := c.chart.Patient
	c.g.confirmDialog("Archive "+p.Name(), "Archive",
		fmt.Sprintf("Archive %s (MRN %s)? The record disappears from searches and cannot be booked, but it is kept in full with its history. "+
			"Use this for a record made by mistake or a patient who left the practice.", p.Name(), p.MRN),
		true, func() {
			if err := c.s.ArchivePatient(c.g.ctx, p.MRN); err != nil {
				c.g.showError("The record was not archived", err)
				return
			}
			c.note(widget.SuccessImportance, p.Name()+" was archived.")
			c.reload()
		})
}

// merge joins a duplicate record with this one.
func (c *chartScreen) merge() {
	g := c.g
	p := c.chart.Patient
	pp := newPatientPicker(g, c.s)
	pp.except = p.MRN
	chosen := kit.Wrapped("Find the other record of the same person, then choose which to keep.")
	keep := widget.NewRadioGroup(nil, func(string) { g.activity() })
	keep.Required = true
	keep.Hide()
	var other *app.Patient
	describe := func(x app.Patient) string {
		return fmt.Sprintf("%s  ·  %s  ·  born %s  ·  %s", x.Name(), x.MRN, dateText(x.DOB), orDash(x.Phone))
	}
	var f *formDialog
	pp.onPick = func(x app.Patient) {
		other = &x
		chosen.SetText("Keep which record? The other is archived and points to it; its appointments move to the kept record, " +
			"and the kept chart shows the clinical history of both. Nothing is deleted.")
		keep.Options = []string{"Keep this record: " + describe(p), "Keep the other record: " + describe(x)}
		keep.SetSelected(keep.Options[0])
		keep.Show()
		keep.Refresh()
		f.ok.Enable()
	}
	f = g.newFormDialog("Merge a duplicate of "+p.Name(), "Merge", container.NewVBox(
		widget.NewLabelWithStyle("This record: "+describe(p), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		pp.view, chosen, keep,
	), func() {
		if other == nil {
			return
		}
		keepMRN, dupMRN := p.MRN, other.MRN
		if keep.Selected == keep.Options[1] {
			keepMRN, dupMRN = other.MRN, p.MRN
		}
		g.confirmDialog("Merge records", "Merge",
			fmt.Sprintf("Merge %s into %s? This cannot be undone from ClinicVault.", dupMRN, keepMRN), true, func() {
				if err := c.s.MergePatients(g.ctx, keepMRN, dupMRN); err != nil {
					f.fail("The records were not merged. " + plain.Error(err))
					return
				}
				f.close()
				c.sh.openChart(keepMRN)
				if nc := c.sh.chart; nc != nil {
					nc.from = c.from
					nc.note(widget.SuccessImportance, fmt.Sprintf("%s was merged into this record.", dupMRN))
				}
			})
	})
	f.ok.Importance = widget.DangerImportance
	f.ok.Disable()
	f.show(fyne.NewSize(720, 600), pp.search)
}

// history shows who changed which field of the record, to what, when and
// on which machine.
func (c *chartScreen) history() {
	g := c.g
	p := c.chart.Patient
	var changes []app.Change
	var users []app.User
	var err error
	s, ctx := c.s, g.ctx
	admin := c.s.User().Role == app.Admin
	g.background(func() {
		changes, err = s.History(ctx, "patients", p.ID)
		if err == nil && admin {
			users, _ = s.ListUsers(ctx)
		}
	}, func() {
		if err != nil {
			g.showError("The history could not be read", err)
			return
		}
		names := map[string]string{}
		for _, u := range users {
			names[u.ID] = u.Name
		}
		me := c.s.User()
		names[me.ID] = me.Name
		c.showHistory(p, changes, names)
	})
}

// historyColumns are the history table's titles and widths.
var historyColumns = []struct {
	title string
	width float32
}{{"When", 150}, {"Field", 140}, {"Changed to", 250}, {"By", 140}, {"Device", 110}}

// showHistory shows changes, newest first, in a table.
func (c *chartScreen) showHistory(p app.Patient, changes []app.Change, names map[string]string) {
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].HLC.Compare(changes[j].HLC) > 0 })
	cellText := func(ch app.Change, col int) string {
		switch col {
		case 0:
			return time.UnixMilli(int64(ch.HLC.Wall)).Local().Format("2 Jan 2006 15:04:05")
		case 1:
			if n, ok := patientFields[ch.Column]; ok {
				return n
			}
			return ch.Column
		case 2:
			switch {
			case ch.Value == nil:
				return "(empty)"
			case ch.Column == "created_at":
				var sec int64
				fmt.Sscan(*ch.Value, &sec)
				return time.Unix(sec, 0).Local().Format(dateTimeLayout)
			case ch.Column == "archived":
				if *ch.Value == "1" {
					return "yes"
				}
				return "no"
			case *ch.Value == "":
				return "(empty)"
			}
			return strings.ReplaceAll(*ch.Value, "\n", " ")
		case 3:
			if n, ok := names[ch.Author]; ok {
				return n
			}
			return "user " + shortID(ch.Author)
		case 4:
			if ch.Device == c.s.DeviceID() {
				return "this computer"
			}
			return shortID(ch.Device)
		}
		return ""
	}
	t := widget.NewTable(
		func() (int, int) { return len(changes), len(historyColumns) },
		func() fyne.CanvasObject { return cell() },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(cellText(changes[id.Row], id.Col))
		},
	)
	t.ShowHeaderRow = true
	t.CreateHeader = func() fyne.CanvasObject { return kit.HeaderCell("") }
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(historyColumns) {
			o.(*widget.Label).SetText(historyColumns[id.Col].title)
		}
	}
	for i, col := range historyColumns {
		t.SetColumnWidth(i, col.width)
	}
	intro := kit.Wrapped(fmt.Sprintf("Every change to %s's record, newest first: %s.", p.Name(), kit.Plural(len(changes), "change")))
	if c.s.User().Role != app.Admin {
		intro.SetText(intro.Text + " Staff other than you are shown by their user id; an admin sees their names.")
	}
	d := dialog.NewCustom("History of "+p.Name(), "Close", container.NewBorder(intro, nil, nil, nil, t), c.g.win)
	d.Resize(fyne.NewSize(880, 560))
	c.g.showDialog(d)
}

// shortID is the first 8 characters of an id.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// appointmentsTab lists the patient's appointments, newest first, with
// Book.
func (c *chartScreen) appointmentsTab() fyne.CanvasObject {
	appts := c.chart.Appointments
	g := c.g
	cols := kit.Columns{0.24, 0.24, 0.36}
	list := widget.NewList(
		func() int { return len(appts) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, container.NewPadded(newBadge()), container.New(cols, cell(), cell(), cell()))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			a := appts[id]
			row := o.(*fyne.Container)
			cells := row.Objects[0].(*fyne.Container).Objects
			cells[0].(*widget.Label).SetText(a.Start.Local().Format("Mon 2 Jan 2006 15:04"))
			cells[1].(*widget.Label).SetText(a.ClinicianName)
			cells[2].(*widget.Label).SetText(orDash(a.Reason) + fmt.Sprintf("  (%d min)", a.Minutes))
			row.Objects[1].(*fyne.Container).Objects[0].(*badge).setStatus(a.Status)
		})
	list.OnSelected = func(widget.ListItemID) { g.activity() }
	book := widget.NewButtonWithIcon("Book appointment…", theme.ContentAddIcon(), g.act(func() {
		p := c.chart.Patient
		g.bookAppointment(c.s, &p, midnight(g.now()), "", func(a app.Appointment, warnings []string) {
			msg := fmt.Sprintf("Booked with %s on %s at %s.", a.ClinicianName, a.Start.Local().Format("Mon 2 Jan"), a.Start.Local().Format(timeLayout))
			if len(warnings) > 0 {
				c.note(widget.WarningImportance, msg+" Double-booked: "+strings.Join(warnings, "; ")+".")
			} else {
				c.note(widget.SuccessImportance, msg)
			}
			c.reload()
		})
	}))
	book.Importance = widget.HighImportance
	if c.chart.Patient.Archived {
		book.Disable()
	}
	var body fyne.CanvasObject = list
	if len(appts) == 0 {
		body = container.NewVBox(kit.Wrapped("No appointments yet."))
	} else {
		header := container.NewBorder(nil, nil, nil, container.New(kit.FixedWidth(badgeWidth+8), kit.HeaderCell("Status")),
			container.New(cols, kit.HeaderCell("When"), kit.HeaderCell("Clinician"), kit.HeaderCell("Reason")))
		body = container.NewBorder(container.NewVBox(header, widget.NewSeparator()), nil, nil, nil, list)
	}
	return tabPage([]fyne.CanvasObject{book}, body)
}

// askRestricted explains a restricted chart and offers emergency access.
func (c *chartScreen) askRestricted() {
	g := c.g
	msg := widget.NewLabel("This patient's clinical record is restricted to the clinicians named on it, and you are not one of them.\n\n" +
		"In an emergency you can still open it: give the reason, and ClinicVault records your name, the time and the reason. " +
		"An admin reviews every emergency access.")
	c.restricted = g.confirmDialog("This chart is restricted", "Emergency access…", msg.Text, true, c.askEmergency)
}

// emergencyDialog asks for the reason for emergency access.
type emergencyDialog struct {
	f      *formDialog
	reason *kit.Entry
	count  *widget.Label
}

// minEmergencyReason is the shortest reason app accepts.
const minEmergencyReason = 10

// askEmergency opens the chart with emergency access and a reason.
func (c *chartScreen) askEmergency() {
	g := c.g
	e := &emergencyDialog{reason: newEntry(g, "for example: patient collapsed in the waiting room; Dr Haddad is away"), count: widget.NewLabel("")}
	e.count.Importance = widget.LowImportance
	e.f = g.newFormDialog("Emergency access", "Open with emergency access", container.NewVBox(
		kit.Wrapped("Say why you need this chart now, in a sentence. Your name, the time and this reason are recorded in the audit log, "+
			"and an admin reviews every emergency access. You can open the chart again for 24 hours."),
		widget.NewForm(field("Reason", e.reason, "")),
		e.count,
	), func() {
		reason := strings.TrimSpace(e.reason.Text)
		if utf8.RuneCountInString(reason) < minEmergencyReason {
			e.f.fail(fmt.Sprintf("Give the reason in a sentence: at least %d characters.", minEmergencyReason))
			return
		}
		e.f.close()
		c.open(func() (*app.Chart, error) { return c.s.OpenChartEmergency(g.ctx, c.mrn, reason) }, true)
	})
	e.f.ok.Importance = widget.DangerImportance
	update := func() {
		n := utf8.RuneCountInString(strings.TrimSpace(e.reason.Text))
		kit.Enable(e.f.ok, n >= minEmergencyReason)
		if n < minEmergencyReason {
			e.count.SetText(fmt.Sprintf("%d more characters needed.", minEmergencyReason-n))
		} else {
			e.count.SetText("")
		}
	}
	e.reason.OnChanged = func(string) { update() }
	e.f.submitOnEnter(e.reason)
	update()
	c.emergencyForm = e
	e.f.show(fyne.NewSize(600, 300), e.reason)
}

// restrict limits the clinical record to chosen clinicians.
func (c *chartScreen) restrict() {
	g := c.g
	names, err := c.s.Clinicians(g.ctx)
	if err != nil {
		g.showError("The chart was not restricted", err)
		return
	}
	me := c.s.User().Name
	var others []string
	for _, n := range names {
		if n != me {
			others = append(others, n)
		}
	}
	pick := widget.NewCheckGroup(others, func([]string) { g.activity() })
	for _, n := range c.restrictedTo {
		if n != me {
			pick.Selected = append(pick.Selected, n)
		}
	}
	pick.Refresh()
	p := c.chart.Patient
	body := container.NewVBox(
		kit.Wrapped(fmt.Sprintf("Only you and the clinicians ticked here will open %s's clinical record. Anyone else needs emergency access, "+
			"which is recorded and reviewed by an admin. Receptionists keep seeing demographics and appointments.", p.Name())),
		widget.NewLabelWithStyle("Also allowed:", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
	)
	if len(others) == 0 {
		body.Add(widget.NewLabel("There are no other clinicians: only you will open it."))
	} else {
		body.Add(pick)
	}
	var f *formDialog
	f = g.newFormDialog("Restrict "+p.Name()+"'s chart", "Restrict chart", body, func() {
		if err := c.s.RestrictChart(g.ctx, p.MRN, pick.Selected); err != nil {
			f.fail("The chart was not restricted. " + plain.Error(err))
			return
		}
		f.close()
		c.note(widget.SuccessImportance, "The chart is now restricted.")
		c.reload()
	})
	f.show(fyne.NewSize(560, 420), nil)
}

// liftRestriction lets every clinician open the chart again.
func (c *chartScreen) liftRestriction() {
	p := c.chart.Patient
	c.g.confirmDialog("Lift restriction", "Lift restriction",
		fmt.Sprintf("Let every clinician open %s's clinical record again?", p.Name()), false, func() {
			if err := c.s.UnrestrictChart(c.g.ctx, p.MRN); err != nil {
				c.g.showError("The restriction was not lifted", err)
				return
			}
			c.note(widget.SuccessImportance, "Every clinician can open this chart again.")
			c.reload()
		})
}
