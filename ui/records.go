package ui

import (
	"context"
	"fmt"
	"image/color"
	"strconv"
	"strings"
	"time"

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

// recordsSession is what the Today, Patients and chart screens need from
// a session.
type recordsSession interface {
	User() app.User
	HasClinical() bool
	ClinicalUnavailable() bool
	DateOrder() app.DateOrder
	DeviceID() string

	Day(ctx context.Context, day time.Time) ([]app.Appointment, error)
	Clinicians(ctx context.Context) ([]string, error)
	BookAppointment(ctx context.Context, mrn string, start time.Time, minutes int, clinician, reason string) (app.Appointment, []string, error)
	MoveAppointment(ctx context.Context, id string, start time.Time, minutes int, clinician string) ([]string, error)
	SetAppointmentStatus(ctx context.Context, id, status string) error
	CancelAppointment(ctx context.Context, id, reason string) error
	CheckSlot(ctx context.Context, sl app.Slot) ([]string, error)

	SearchPatients(ctx context.Context, query string, limit int) ([]app.Patient, error)
	FindDuplicates(ctx context.Context, p app.Patient) ([]app.Duplicate, error)
	AddPatient(ctx context.Context, p app.Patient) (app.Patient, []app.Duplicate, error)
	AddPatientUnlessDuplicate(ctx context.Context, p app.Patient) (app.Patient, []app.Duplicate, error)
	EditPatient(ctx context.Context, mrn string, c app.PatientChanges) (app.Patient, error)
	ArchivePatient(ctx context.Context, mrn string) error
	MergePatients(ctx context.Context, keepMRN, duplicateMRN string) error
	History(ctx context.Context, table, rowID string) ([]app.Change, error)
	ListUsers(ctx context.Context) ([]app.User, error)

	OpenChart(ctx context.Context, mrn string) (*app.Chart, error)
	OpenChartEmergency(ctx context.Context, mrn, reason string) (*app.Chart, error)
	ChartRestriction(ctx context.Context, mrn string) ([]string, error)
	RestrictChart(ctx context.Context, mrn string, clinicians []string) error
	UnrestrictChart(ctx context.Context, mrn string) error

	AddEncounter(ctx context.Context, mrn string, note app.SOAP) (app.Encounter, error)
	EditEncounter(ctx context.Context, mrn, id string, note app.SOAP) error
	SignEncounter(ctx context.Context, mrn, id string) error
	AddAddendum(ctx context.Context, mrn, encounterID, text string) error
	AddProblem(ctx context.Context, mrn string, pr app.Problem) error
	AddAllergy(ctx context.Context, mrn string, a app.Allergy) error
	AddMedication(ctx context.Context, mrn string, m app.Medication) error
	CorrectRecord(ctx context.Context, mrn, table, id string, c app.Correction) error
	AddVitals(ctx context.Context, mrn string, v app.Vitals) error
	AddDocument(ctx context.Context, mrn, title, mime string, content []byte) (app.Document, error)
	DocumentContent(ctx context.Context, mrn, id string) ([]byte, error)
	VisitSummaryPDF(ctx context.Context, mrn, encounterID string) ([]byte, error)
}

var _ recordsSession = (*app.Session)(nil)

// searchDelay is how long search-as-you-type waits after the last key.
const searchDelay = 150 * time.Millisecond

// debouncer runs a search off the UI thread once typing pauses, and drops
// the results of every search but the newest.
type debouncer struct {
	g     *gui
	delay time.Duration
	timer *time.Timer
	gen   int
}

// run waits for the delay, then runs work on another goroutine; the
// function work returns runs on the UI thread unless a newer run started
// meanwhile. Call it on the UI thread.
func (d *debouncer) run(work func() func()) {
	d.gen++
	gen := d.gen
	g := d.g
	if d.timer != nil && d.timer.Stop() {
		g.pending.Add(-1) // the stopped run never posts
	}
	g.pending.Add(1)
	d.timer = time.AfterFunc(d.delay, func() {
		done := work()
		g.post(func() {
			defer g.pending.Add(-1)
			if gen == d.gen {
				done()
			}
		})
	})
}

// stop drops the pending run, if any.
func (d *debouncer) stop() {
	d.gen++
	if d.timer != nil && d.timer.Stop() {
		d.g.pending.Add(-1)
	}
}

// Dates and times as the records screens show them.
const (
	dateLayout     = "2 Jan 2006"
	dayLayout      = "Monday 2 January 2006"
	timeLayout     = "15:04"
	dateTimeLayout = "2 Jan 2006 15:04"
	isoDate        = "2006-01-02"
)

// dateText shows a YYYY-MM-DD date as "2 Mar 1980" (or as stored if it
// does not parse).
func dateText(iso string) string {
	if iso == "" {
		return ""
	}
	d, err := time.Parse(isoDate, iso)
	if err != nil {
		return iso
	}
	return d.Format(dateLayout)
}

// ageText is the age on now of someone born on dob (YYYY-MM-DD): years,
// or months or days for babies.
func ageText(dob string, now time.Time) string {
	d, err := time.Parse(isoDate, dob)
	if err != nil {
		return ""
	}
	now = now.Local()
	years := now.Year() - d.Year()
	if now.Month() < d.Month() || (now.Month() == d.Month() && now.Day() < d.Day()) {
		years--
	}
	switch {
	case years >= 2:
		return fmt.Sprintf("%d years", years)
	case years < 0:
		return ""
	}
	months := (now.Year()-d.Year())*12 + int(now.Month()) - int(d.Month())
	if now.Day() < d.Day() {
		months--
	}
	if months >= 1 {
		return kit.Plural(months, "month")
	}
	days := int(time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Sub(d).Hours() / 24)
	return kit.Plural(days, "day")
}

// dobText is "2 Mar 1980 (46 years)".
func dobText(dob string, now time.Time) string {
	if age := ageText(dob, now); age != "" {
		return dateText(dob) + " (" + age + ")"
	}
	return dateText(dob)
}

// orDash shows an empty value as a dash.
func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// sexChoices are the sexes the patient form offers.
var sexChoices = []string{"female", "male", "other", "unknown"}

// capitalised is s with its first letter in upper case.
func capitalised(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseDay reads a date typed as YYYY-MM-DD or in the practice's numeric
// order (2/3/2026).
func parseDay(text string, order app.DateOrder) (time.Time, bool) {
	iso, ok := app.ParseTypedDate(strings.TrimSpace(text), order)
	if !ok {
		return time.Time{}, false
	}
	d, err := time.ParseInLocation(isoDate, iso, time.Local)
	return d, err == nil
}

// parseClock reads a time of day typed as 9:30, 09:30 or 0930.
func parseClock(text string) (h, m int, ok bool) {
	text = strings.TrimSpace(strings.ReplaceAll(text, ".", ":"))
	if !strings.Contains(text, ":") && len(text) >= 3 && len(text) <= 4 {
		text = text[:len(text)-2] + ":" + text[len(text)-2:]
	}
	hs, ms, found := strings.Cut(text, ":")
	if !found {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(ms) != 2 {
		return 0, 0, false
	}
	return h, m, true
}

// dateOrderHint says how the practice writes numeric dates.
func dateOrderHint(o app.DateOrder) string {
	if o == app.MonthDayYear {
		return "YYYY-MM-DD, or 3/2/1980 (month first)"
	}
	return "YYYY-MM-DD, or 2/3/1980 (day first)"
}

// statusWords are the appointment statuses as the screens say them.
var statusWords = map[string]string{
	app.StatusBooked:    "Booked",
	app.StatusArrived:   "Checked in",
	app.StatusInRoom:    "In room",
	app.StatusDone:      "Done",
	app.StatusCancelled: "Cancelled",
	app.StatusNoShow:    "No-show",
}

// statusColours are the badges' fills; the text on them is white except
// on the pale "cancelled" grey.
var statusColours = map[string]color.NRGBA{
	app.StatusBooked:    {R: 0x33, G: 0x55, B: 0x99, A: 0xff},
	app.StatusArrived:   {R: 0x0f, G: 0x76, B: 0x6e, A: 0xff},
	app.StatusInRoom:    {R: 0x6d, G: 0x28, B: 0xd9, A: 0xff},
	app.StatusDone:      {R: 0x15, G: 0x80, B: 0x3d, A: 0xff},
	app.StatusCancelled: {R: 0xd4, G: 0xd4, B: 0xd8, A: 0xff},
	app.StatusNoShow:    {R: 0xb9, G: 0x1c, B: 0x1c, A: 0xff},
}

// badge is a short label on a coloured, rounded background.
type badge struct {
	widget.BaseWidget
	bg   *canvas.Rectangle
	text *canvas.Text
}

// badgeWidth is the width every status badge takes.
const badgeWidth = 96

func newBadge() *badge {
	b := &badge{bg: canvas.NewRectangle(color.Transparent), text: canvas.NewText("", color.White)}
	b.text.TextStyle = fyne.TextStyle{Bold: true}
	b.text.Alignment = fyne.TextAlignCenter
	b.text.TextSize = theme.CaptionTextSize() + 1
	b.bg.CornerRadius = 10
	b.ExtendBaseWidget(b)
	return b
}

// setStatus shows an appointment status in its words and colour.
func (b *badge) setStatus(status string) {
	words, ok := statusWords[status]
	if !ok {
		words = status
	}
	fill, ok := statusColours[status]
	if !ok {
		fill = statusColours[app.StatusBooked]
	}
	var fg color.Color = color.White
	if status == app.StatusCancelled {
		fg = color.NRGBA{R: 0x3f, G: 0x3f, B: 0x46, A: 0xff}
	}
	b.set(words, fill, fg)
}

// set shows text in fg on fill.
func (b *badge) set(text string, fill, fg color.Color) {
	b.text.Text = text
	b.text.Color = fg
	b.bg.FillColor = fill
	b.text.Refresh()
	b.bg.Refresh()
}

// CreateRenderer draws the text centred on the rounded background.
func (b *badge) CreateRenderer() fyne.WidgetRenderer {
	return &badgeRenderer{b: b}
}

type badgeRenderer struct{ b *badge }

func (r *badgeRenderer) Destroy() {}

func (r *badgeRenderer) Layout(size fyne.Size) {
	ts := r.b.text.MinSize()
	h := ts.Height + 6
	r.b.bg.Resize(fyne.NewSize(size.Width, h))
	r.b.bg.Move(fyne.NewPos(0, (size.Height-h)/2))
	r.b.text.Resize(fyne.NewSize(size.Width, ts.Height))
	r.b.text.Move(fyne.NewPos(0, (size.Height-ts.Height)/2))
}

func (r *badgeRenderer) MinSize() fyne.Size {
	ts := r.b.text.MinSize()
	return fyne.NewSize(max(badgeWidth, ts.Width+16), ts.Height+6)
}

func (r *badgeRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.b.bg, r.b.text}
}

func (r *badgeRenderer) Refresh() {
	r.b.bg.Refresh()
	r.b.text.Refresh()
}

// tapRow is a list row that selects on a tap and opens on a double tap.
// Fyne's list rows do not report double taps, and the deepest tappable
// object receives the tap, so the row selects itself.
type tapRow struct {
	widget.BaseWidget
	id       widget.ListItemID
	content  fyne.CanvasObject
	onTap    func(id widget.ListItemID)
	onDouble func(id widget.ListItemID)
}

func newTapRow(content fyne.CanvasObject, onTap, onDouble func(widget.ListItemID)) *tapRow {
	r := &tapRow{content: content, onTap: onTap, onDouble: onDouble}
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer shows the content.
func (r *tapRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.content)
}

// Tapped selects the row.
func (r *tapRow) Tapped(*fyne.PointEvent) {
	if r.onTap != nil {
		r.onTap(r.id)
	}
}

// DoubleTapped opens the row.
func (r *tapRow) DoubleTapped(*fyne.PointEvent) {
	if r.onTap != nil {
		r.onTap(r.id)
	}
	if r.onDouble != nil {
		r.onDouble(r.id)
	}
}

// recordList is a list driven from the keyboard: Up and Down move the
// selection (skipping rows that cannot be selected), Enter opens the
// selected row, and Esc cancels the open dialog.
type recordList struct {
	widget.List
	g *gui
	// selectable reports whether a row can be selected (nil: all can).
	selectable func(id widget.ListItemID) bool
	// onEnter opens a row.
	onEnter func(id widget.ListItemID)
	// onSelect runs when the selection changes; id is -1 for none.
	onSelect func(id widget.ListItemID)
	// selected is the selected row, -1 for none.
	selected widget.ListItemID
	// cursor mirrors the list's own keyboard focus row (private to
	// Fyne), so that its highlight follows the selection.
	cursor widget.ListItemID
}

func newRecordList(g *gui, length func() int, create func() fyne.CanvasObject, update func(widget.ListItemID, fyne.CanvasObject)) *recordList {
	l := &recordList{g: g, selected: -1}
	l.Length, l.CreateItem, l.UpdateItem = length, create, update
	l.OnSelected = func(id widget.ListItemID) {
		l.selected = id
		l.moveCursor(id)
		if l.onSelect != nil {
			l.onSelect(id)
		}
	}
	l.OnUnselected = func(id widget.ListItemID) {
		if l.selected == id {
			l.selected = -1
			if l.onSelect != nil {
				l.onSelect(-1)
			}
		}
	}
	l.ExtendBaseWidget(l)
	return l
}

// moveCursor moves the list's keyboard focus row to target, the way the
// arrow keys do.
func (l *recordList) moveCursor(target widget.ListItemID) {
	n := l.Length()
	for l.cursor < target && l.cursor < n-1 {
		l.List.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
		l.cursor++
	}
	for l.cursor > target && l.cursor > 0 {
		l.List.TypedKey(&fyne.KeyEvent{Name: fyne.KeyUp})
		l.cursor--
	}
}

// clearSelection unselects every row.
func (l *recordList) clearSelection() {
	l.UnselectAll()
	l.selected = -1
}

// TypedKey moves the selection or opens the selected row.
func (l *recordList) TypedKey(k *fyne.KeyEvent) {
	l.g.activity()
	switch k.Name {
	case fyne.KeyDown:
		l.move(1)
	case fyne.KeyUp:
		l.move(-1)
	case fyne.KeyReturn, fyne.KeyEnter:
		if l.selected >= 0 && l.onEnter != nil {
			l.onEnter(l.selected)
		}
	case fyne.KeyEscape:
		l.g.escape()
	default:
		l.List.TypedKey(k)
	}
}

// move selects the next selectable row in direction dir (+1 or -1).
func (l *recordList) move(dir int) {
	n := l.Length()
	for i := l.selected + dir; i >= 0 && i < n; i += dir {
		if l.selectable == nil || l.selectable(i) {
			l.Select(i)
			return
		}
	}
}

// selectFirst selects the first selectable row, if any.
func (l *recordList) selectFirst() {
	l.selected = -1
	l.move(1)
}

// focusAndSelect is a row's tap: focus the list and select the row.
func (l *recordList) focusAndSelect(id widget.ListItemID) {
	l.g.activity()
	if c := fyne.CurrentApp().Driver().CanvasForObject(l); c != nil {
		c.Focus(l)
	}
	if l.selectable == nil || l.selectable(id) {
		l.Select(id)
	}
}

// formDialog is a dialog holding a form, a line for what went wrong, and
// Cancel and a confirm button. Enter in a field confirms (Ctrl+Enter in a
// multi-line field), Esc cancels. A refused save leaves the form filled.
type formDialog struct {
	g      *gui
	d      *dialog.CustomDialog
	status *kit.StatusText
	ok     *widget.Button
	cancel *widget.Button
	save   func()
	scroll *container.Scroll
	closed bool
	// onClosed run when the dialog goes, however it goes.
	onClosed []func()
}

// newFormDialog builds (but does not show) a form dialog; save runs on
// the confirm button or Enter.
func (g *gui) newFormDialog(title, okText string, body fyne.CanvasObject, save func()) *formDialog {
	f := &formDialog{g: g, status: kit.NewStatus(widget.DangerImportance), save: save}
	f.ok = widget.NewButtonWithIcon(okText, theme.ConfirmIcon(), g.act(f.submit))
	f.ok.Importance = widget.HighImportance
	f.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), g.act(func() { f.d.Hide() }))
	if body == nil {
		body = container.NewVBox()
	}
	f.scroll = container.NewVScroll(body)
	content := container.NewBorder(nil, f.status, nil, nil, f.scroll)
	f.d = dialog.NewCustomWithoutButtons(title, content, g.win)
	f.d.SetButtons([]fyne.CanvasObject{f.cancel, f.ok})
	return f
}

// setBody replaces the dialog's body (for bodies that need the dialog).
func (f *formDialog) setBody(body fyne.CanvasObject) {
	f.scroll.Content = body
	f.scroll.Refresh()
}

// show shows the dialog at size and focuses first.
func (f *formDialog) show(size fyne.Size, first fyne.Focusable) {
	f.d.Resize(size)
	f.g.showDialog(f.d)
	f.d.SetOnClosed(func() {
		f.closed = true
		f.g.forgetDialog(f.d)
		for _, fn := range f.onClosed {
			fn()
		}
	})
	if first != nil {
		f.g.focus(first)
	}
}

// submit saves, unless the confirm button is off.
func (f *formDialog) submit() {
	if f.closed || f.ok.Disabled() {
		return
	}
	f.save()
}

// submitOnEnter makes Enter in each entry submit the form.
func (f *formDialog) submitOnEnter(entries ...*kit.Entry) {
	for _, e := range entries {
		e.OnSubmitted = func(string) { f.submit() }
	}
}

// fail shows why the save was refused; the form stays as it was.
func (f *formDialog) fail(msg string) {
	f.status.Say(widget.DangerImportance, msg)
}

// close hides the dialog after a successful save.
func (f *formDialog) close() {
	if !f.closed {
		f.d.Hide()
	}
}

// confirmDialog asks a yes/no question whose confirm button says action;
// Enter confirms and Esc cancels.
func (g *gui) confirmDialog(title, action, msg string, danger bool, yes func()) dialog.Dialog {
	var d *dialog.CustomDialog
	ok := widget.NewButtonWithIcon(action, theme.ConfirmIcon(), nil)
	ok.Importance = widget.HighImportance
	if danger {
		ok.Importance = widget.DangerImportance
	}
	done := false
	ok.OnTapped = func() {
		g.activity()
		if done {
			return
		}
		done = true
		d.Hide()
		yes()
	}
	cancel := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), g.act(func() { d.Hide() }))
	d = dialog.NewCustomWithoutButtons(title, container.New(kit.FixedWidth(460), kit.Wrapped(msg)), g.win)
	d.SetButtons([]fyne.CanvasObject{cancel, ok})
	g.showDialog(d)
	g.setDefault(d, ok.OnTapped)
	// Nothing in the dialog has focus, so Enter reaches the window.
	g.win.Canvas().Unfocus()
	return d
}

// field is a labelled form row with an optional hint.
func field(label string, w fyne.CanvasObject, hint string) *widget.FormItem {
	return &widget.FormItem{Text: label, Widget: w, HintText: hint}
}

// vcentre centres o vertically in the height it is given.
func vcentre(o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVBox(layout.NewSpacer(), o, layout.NewSpacer())
}

// toolbar is a row of buttons with the rest pushed to the right.
func toolbar(left []fyne.CanvasObject, right ...fyne.CanvasObject) fyne.CanvasObject {
	objs := append(append([]fyne.CanvasObject{}, left...), layout.NewSpacer())
	return container.NewHBox(append(objs, right...)...)
}

// patientPicker finds a patient by typing: a search field and the best
// matches under it. Up and Down in the field move the selection; Enter
// picks it.
type patientPicker struct {
	g       *gui
	s       recordsSession
	search  *kit.Entry
	list    *recordList
	results []app.Patient
	picked  *app.Patient
	note    *widget.Label
	view    fyne.CanvasObject
	deb     *debouncer
	// except is an MRN never offered (the patient being merged into).
	except string
	// onPick runs when a patient is picked.
	onPick func(p app.Patient)
}

// pickerRows is how many matches a picker lists.
const pickerRows = 20

func newPatientPicker(g *gui, s recordsSession) *patientPicker {
	pp := &patientPicker{g: g, s: s, search: newEntry(g, "Name, MRN, phone or date of birth"), note: widget.NewLabel("")}
	pp.note.Importance = widget.MediumImportance
	pp.note.Wrapping = fyne.TextWrapWord
	pp.deb = &debouncer{g: g, delay: searchDelay}
	pp.list = newRecordList(g,
		func() int { return len(pp.results) },
		func() fyne.CanvasObject {
			l := cell()
			return newTapRow(l, nil, nil)
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*tapRow)
			row.id = id
			row.onTap = pp.list.focusAndSelect
			row.onDouble = func(widget.ListItemID) { pp.pick() }
			p := pp.results[id]
			row.content.(*widget.Label).SetText(fmt.Sprintf("%s  ·  %s  ·  born %s", p.Name(), p.MRN, dateText(p.DOB)))
		})
	pp.list.onEnter = func(widget.ListItemID) { pp.pick() }
	pp.search.OnChanged = func(q string) { pp.query(q) }
	pp.search.OnSubmitted = func(string) { pp.pick() }
	pp.search.OnKey = func(k *fyne.KeyEvent) bool {
		switch k.Name {
		case fyne.KeyDown:
			pp.list.move(1)
		case fyne.KeyUp:
			pp.list.move(-1)
		default:
			return false
		}
		return true
	}
	pp.view = container.NewBorder(container.NewVBox(pp.search, pp.note), nil, nil, nil,
		container.New(kit.MinHeight(150), pp.list))
	return pp
}

// query searches for what was typed once typing pauses.
func (pp *patientPicker) query(q string) {
	pp.g.activity()
	if strings.TrimSpace(q) == "" {
		pp.deb.stop()
		pp.show(nil, nil, q)
		return
	}
	s, ctx := pp.s, pp.g.ctx
	pp.deb.run(func() func() {
		res, err := s.SearchPatients(ctx, q, pickerRows+1)
		return func() { pp.show(res, err, q) }
	})
}

// show lists search results.
func (pp *patientPicker) show(res []app.Patient, err error, q string) {
	var keep []app.Patient
	for _, p := range res {
		if p.MRN != pp.except {
			keep = append(keep, p)
		}
	}
	pp.results = keep
	pp.list.clearSelection()
	pp.list.Refresh()
	switch {
	case err != nil:
		pp.note.Importance = widget.DangerImportance
		pp.note.SetText("The search did not run. " + plain.Error(err))
	case strings.TrimSpace(q) == "":
		pp.note.Importance = widget.MediumImportance
		pp.note.SetText("Type part of a name, the MRN, a phone number or the date of birth.")
	case len(keep) == 0:
		pp.note.Importance = widget.WarningImportance
		pp.note.SetText("No patient matches “" + strings.TrimSpace(q) + "”.")
	default:
		pp.note.Importance = widget.MediumImportance
		pp.note.SetText("Choose with the arrow keys and " + kit.KeyLabel(fyne.KeyReturn) + ", or double-click.")
		pp.list.selectFirst()
	}
}

// pick takes the selected patient.
func (pp *patientPicker) pick() {
	if pp.list.selected < 0 || pp.list.selected >= len(pp.results) {
		return
	}
	p := pp.results[pp.list.selected]
	pp.picked = &p
	if pp.onPick != nil {
		pp.onPick(p)
	}
}

// keepDraft lets the text of f's fields outlive a lock: if the session
// locks while f is open, what get returns is kept in memory (never on
// disk) under form, for the same person; restoreDraft gives it back when
// they open that form again after signing in.
func (f *formDialog) keepDraft(form string, get func() []string) {
	key := f.g.draftKey(form)
	f.g.liveDrafts[key] = get
	f.onClosed = append(f.onClosed, func() { delete(f.g.liveDrafts, key) })
}

// draftKey names form for the signed-in person.
func (g *gui) draftKey(form string) string {
	if g.session == nil {
		return form
	}
	return g.session.User().ID + "|" + form
}

// restoreDraft returns (and forgets) the text kept for form at a lock.
func (g *gui) restoreDraft(form string) []string {
	key := g.draftKey(form)
	texts := g.drafts[key]
	delete(g.drafts, key)
	return texts
}

// captureDrafts keeps the text of every open form at a lock.
func (g *gui) captureDrafts() {
	for key, get := range g.liveDrafts {
		texts := get()
		for _, t := range texts {
			if strings.TrimSpace(t) != "" {
				g.drafts[key] = texts
				break
			}
		}
	}
}
