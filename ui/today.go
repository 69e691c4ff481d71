package ui

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// allClinicians is the clinician filter's "no filter" choice.
const allClinicians = "All clinicians"

// todayRow is one row of the day book: a clinician's heading or one of
// their appointments.
type todayRow struct {
	clinician string
	summary   string
	appt      *app.Appointment
}

// todayScreen is the day book: the day's appointments grouped by
// clinician, with the front desk's actions on the selected one.
type todayScreen struct {
	g  *gui
	sh *shell
	s  recordsSession

	day   time.Time // local midnight of the day shown
	appts []app.Appointment
	rows  []todayRow
	// selID is the selected appointment's id, kept across reloads.
	selID string

	list   *recordList
	grid   *dayGrid
	scroll *container.Scroll
	// listMode shows the day as a list instead of the grid.
	listMode bool
	body     *fyne.Container
	gridView fyne.CanvasObject
	listView fyne.CanvasObject
	heads    *fyne.Container // the clinicians' names over the grid
	offDay   *widget.Label   // cancelled appointments and no-shows
	toggle   *widget.Button
	// bookable are the people the day book offers (columns even on a
	// day they have nothing).
	bookable []string
	title    *widget.Label
	summary  *widget.Label
	filter   *widget.Select
	status   *kit.StatusText
	busy     *widget.Activity

	prev, next, today, book                                *widget.Button
	checkIn, inRoom, done, noShow, cancel, move, openChart *widget.Button
	undoCheckIn, goDate                                    *widget.Button
	view                                                   fyne.CanvasObject

	// booking is the open Book dialog, and moveClinician the Move
	// dialog's clinician picker, for tests.
	booking       *bookDialog
	moveClinician *widget.Select
}

func newTodayScreen(g *gui, sh *shell, s recordsSession) *todayScreen {
	t := &todayScreen{g: g, sh: sh, s: s, status: kit.NewStatus(widget.MediumImportance), busy: widget.NewActivity()}
	t.day = midnight(g.now())
	t.title = kit.Heading("")
	t.summary = widget.NewLabel("")
	t.summary.Truncation = fyne.TextTruncateEllipsis
	t.list = newRecordList(g,
		func() int { return len(t.rows) },
		t.createRow,
		t.updateRow,
	)
	t.list.selectable = func(id widget.ListItemID) bool { return id < len(t.rows) && t.rows[id].appt != nil }
	t.list.onEnter = func(widget.ListItemID) { t.openSelected() }
	t.list.onSelect = func(id widget.ListItemID) {
		t.selID = ""
		if id >= 0 && id < len(t.rows) && t.rows[id].appt != nil {
			t.selID = t.rows[id].appt.ID
		}
		t.refreshButtons()
	}

	t.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), g.act(func() { t.setDay(t.day.AddDate(0, 0, -1)) }))
	t.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), g.act(func() { t.setDay(t.day.AddDate(0, 0, 1)) }))
	t.today = widget.NewButton("Today", g.act(func() { t.setDay(midnight(g.now())) }))
	t.book = widget.NewButtonWithIcon("Book…", theme.ContentAddIcon(), g.act(t.bookNew))
	t.book.Importance = widget.HighImportance
	t.filter = widget.NewSelect([]string{allClinicians}, func(string) {
		g.activity()
		t.build()
	})
	t.filter.Selected = allClinicians

	t.checkIn = widget.NewButtonWithIcon("Check in", theme.ConfirmIcon(), g.act(func() { t.setStatus(app.StatusArrived) }))
	t.checkIn.Importance = widget.HighImportance
	t.inRoom = widget.NewButton("In room", g.act(func() { t.setStatus(app.StatusInRoom) }))
	t.done = widget.NewButton("Done", g.act(func() { t.setStatus(app.StatusDone) }))
	t.noShow = widget.NewButton("No-show", g.act(func() { t.setStatus(app.StatusNoShow) }))
	t.cancel = widget.NewButton("Cancel…", g.act(t.cancelSelected))
	t.move = widget.NewButton("Move…", g.act(t.moveSelected))
	t.openChart = widget.NewButtonWithIcon("Open chart", theme.FolderOpenIcon(), g.act(t.openSelected))

	t.undoCheckIn = widget.NewButtonWithIcon("Undo check-in", theme.ContentUndoIcon(), g.act(func() { t.setStatus(app.StatusBooked) }))
	t.goDate = widget.NewButtonWithIcon("", theme.CalendarIcon(), g.act(t.chooseDay))

	t.grid = newDayGrid(g.now)
	t.grid.onTouch = g.activity
	t.grid.onSelect = func(id string) {
		t.selID = id
		t.refreshButtons()
	}
	t.grid.onOpen = func(id string) {
		t.selID = id
		t.openSelected()
	}
	t.grid.onBook = t.bookAt
	t.grid.onFocus = t.scrollToCursor
	t.scroll = container.NewVScroll(t.grid)
	t.heads = container.New(&gridHeadLayout{g: t.grid})
	t.offDay = widget.NewLabel("")
	t.offDay.Wrapping = fyne.TextWrapWord
	t.offDay.Importance = widget.MediumImportance
	t.offDay.Hide()
	t.gridView = container.NewBorder(container.NewVBox(t.heads, widget.NewSeparator()), t.offDay, nil, nil, t.scroll)

	t.busy.Hide()
	t.title.Truncation = fyne.TextTruncateEllipsis
	t.toggle = widget.NewButtonWithIcon("List", theme.ListIcon(), g.act(func() { t.setListMode(!t.listMode) }))
	dayRow := container.NewBorder(nil, nil,
		vcentre(container.NewHBox(t.prev, t.today, t.next, t.goDate)),
		vcentre(container.NewHBox(t.busy, t.book)),
		t.title)
	summaryRow := container.NewBorder(nil, nil, nil,
		container.NewHBox(container.New(kit.FixedWidth(190), t.filter), t.toggle), vcentre(t.summary))
	actions := container.NewHBox(t.checkIn, t.undoCheckIn, t.inRoom, t.done, t.noShow, t.cancel, widget.NewSeparator(), t.move, t.openChart)
	header := container.NewBorder(nil, nil, container.New(kit.FixedWidth(timeColumn), kit.HeaderCell("Time")), container.New(kit.FixedWidth(badgeWidth+8), kit.HeaderCell("Status")),
		container.New(todayColumns, kit.HeaderCell("Patient"), kit.HeaderCell("Reason")))
	t.listView = container.NewBorder(container.NewVBox(header, widget.NewSeparator()), nil, nil, nil, t.list)
	t.body = container.NewStack(t.gridView)
	top := container.NewVBox(dayRow, summaryRow, container.NewHScroll(actions), t.status)
	t.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, t.body))
	t.refreshButtons()
	t.load()
	return t
}

// focusTarget is what takes the keyboard when Today opens.
func (t *todayScreen) focusTarget() fyne.Focusable {
	if t.listMode {
		return t.list
	}
	return t.grid
}

// setListMode shows the day as a list (true) or as the grid.
func (t *todayScreen) setListMode(list bool) {
	t.listMode = list
	if list {
		t.toggle.SetText("Grid")
		t.toggle.SetIcon(theme.GridIcon())
		t.body.Objects = []fyne.CanvasObject{t.listView}
	} else {
		t.toggle.SetText("List")
		t.toggle.SetIcon(theme.ListIcon())
		t.body.Objects = []fyne.CanvasObject{t.gridView}
	}
	t.body.Refresh()
	t.build()
	t.g.focus(t.focusTarget())
}

// scrollToCursor keeps the grid's cursor in view.
func (t *todayScreen) scrollToCursor() {
	y := t.grid.cursorY()
	view := t.scroll.Size().Height
	off := t.scroll.Offset
	switch {
	case y < off.Y:
		off.Y = max(y-slotHeight, 0)
	case view > 0 && y+slotHeight > off.Y+view:
		off.Y = y + 2*slotHeight - view
	default:
		return
	}
	t.scroll.Offset = off
	t.scroll.Refresh()
}

// gridHeadLayout puts the clinicians' names over their columns.
type gridHeadLayout struct{ g *dayGrid }

func (l *gridHeadLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w := l.g.columnWidth(size.Width)
	for i, o := range objs {
		o.Move(fyne.NewPos(gridTimeWidth+float32(i)*w, 0))
		o.Resize(fyne.NewSize(w, o.MinSize().Height))
	}
}

func (l *gridHeadLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(gridTimeWidth+gridMinColumn, h)
}

// timeColumn is the width of the day book's time column.
const timeColumn = 112

// todayColumns are the weights of the patient and reason columns.
var todayColumns = kit.Columns{0.62, 0.38}

// midnight is the start of t's local day.
func midnight(t time.Time) time.Time {
	t = t.Local()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
}

func (t *todayScreen) createRow() fyne.CanvasObject {
	name := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	sum := widget.NewLabel("")
	sum.Importance = widget.MediumImportance
	sum.Truncation = fyne.TextTruncateEllipsis
	// Headings sit on the table-header colour, so they read as
	// sections whether or not the list's focus is on them.
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHeaderBackground))
	bg.CornerRadius = theme.SelectionRadiusSize()
	headRow := container.NewStack(bg, container.NewBorder(nil, nil, name, nil, sum))
	at := cell()
	patient := cell()
	reason := cell()
	b := newBadge()
	apptRow := container.NewBorder(nil, nil, container.New(kit.FixedWidth(timeColumn), at), container.NewPadded(b),
		container.New(todayColumns, patient, reason))
	return newTapRow(container.NewStack(headRow, apptRow), nil, nil)
}

func (t *todayScreen) updateRow(id widget.ListItemID, o fyne.CanvasObject) {
	row := o.(*tapRow)
	row.id = id
	row.onTap = t.list.focusAndSelect
	row.onDouble = func(id widget.ListItemID) { t.openSelected() }
	stack := row.content.(*fyne.Container)
	headRow, apptRow := stack.Objects[0].(*fyne.Container), stack.Objects[1].(*fyne.Container)
	r := t.rows[id]
	if r.appt == nil {
		apptRow.Hide()
		headRow.Show()
		inner := headRow.Objects[1].(*fyne.Container)
		inner.Objects[1].(*widget.Label).SetText(r.clinician)
		inner.Objects[0].(*widget.Label).SetText(r.summary)
		return
	}
	headRow.Hide()
	apptRow.Show()
	a := r.appt
	// Border keeps the centre first, then the left and right objects.
	mid := apptRow.Objects[0].(*fyne.Container)
	mid.Objects[0].(*widget.Label).SetText(a.PatientName + "   " + a.PatientMRN)
	mid.Objects[1].(*widget.Label).SetText(a.Reason)
	apptRow.Objects[1].(*fyne.Container).Objects[0].(*widget.Label).SetText(a.Start.Local().Format(timeLayout) + "–" + a.End().Local().Format(timeLayout))
	apptRow.Objects[2].(*fyne.Container).Objects[0].(*badge).setStatus(a.Status)
}

// setDay shows another day.
func (t *todayScreen) setDay(d time.Time) {
	t.day = midnight(d)
	t.selID = ""
	t.status.SetText("")
	t.load()
}

// load reads the day's appointments, and who can be booked, off the UI
// thread.
func (t *todayScreen) load() {
	t.title.SetText(t.dayTitle())
	t.busy.Show()
	t.busy.Start()
	day, s, ctx := t.day, t.s, t.g.ctx
	var appts []app.Appointment
	var bookable []string
	var err error
	t.g.background(func() {
		if appts, err = s.Day(ctx, day); err == nil {
			bookable, err = s.Clinicians(ctx)
		}
	}, func() {
		t.busy.Stop()
		t.busy.Hide()
		if !t.day.Equal(day) {
			return // another day was chosen meanwhile
		}
		if err != nil {
			t.status.Say(widget.DangerImportance, "The appointments could not be loaded. "+plain.Error(err))
			appts = nil
		}
		t.appts = appts
		t.bookable = bookable
		t.refreshFilter()
		t.build()
	})
}

// dayTitle is "Monday 2 March 2026", with "Today" or "Tomorrow" in front
// when it is.
func (t *todayScreen) dayTitle() string {
	title := t.day.Format(dayLayout)
	switch today := midnight(t.g.now()); {
	case t.day.Equal(today):
		title = "Today, " + title
	case t.day.Equal(today.AddDate(0, 0, 1)):
		title = "Tomorrow, " + title
	case t.day.Equal(today.AddDate(0, 0, -1)):
		title = "Yesterday, " + title
	}
	return title
}

// columnNames are the grid's columns: everyone who can be booked, then
// anyone else with appointments that day (marked since as not seeing
// patients, or removed).
func (t *todayScreen) columnNames() []string {
	out := append([]string(nil), t.bookable...)
	seen := map[string]bool{}
	for _, n := range out {
		seen[n] = true
	}
	for _, a := range t.appts {
		if !seen[a.ClinicianName] {
			seen[a.ClinicianName] = true
			out = append(out, a.ClinicianName)
		}
	}
	return out
}

// refreshFilter offers the columns as the clinician filter.
func (t *todayScreen) refreshFilter() {
	opts := []string{allClinicians}
	seen := map[string]bool{}
	for _, n := range t.columnNames() {
		seen[n] = true
		opts = append(opts, n)
	}
	sel := t.filter.Selected
	t.filter.Options = opts
	if !seen[sel] {
		sel = allClinicians
	}
	t.filter.Selected = sel
	t.filter.Refresh()
}

// build groups the appointments by clinician into rows.
func (t *todayScreen) build() {
	only := t.filter.Selected
	if only == allClinicians {
		only = ""
	}
	var rows []todayRow
	counts := map[string]int{}
	total := 0
	last := ""
	for i := range t.appts {
		a := &t.appts[i]
		if only != "" && a.ClinicianName != only {
			continue
		}
		if total == 0 || a.ClinicianName != last {
			rows = append(rows, todayRow{clinician: a.ClinicianName})
			last = a.ClinicianName
		}
		rows = append(rows, todayRow{appt: a})
		counts[a.Status]++
		total++
	}
	// Each heading sums up its clinician's day.
	for i := range rows {
		if rows[i].appt != nil {
			continue
		}
		per := map[string]int{}
		n := 0
		for j := i + 1; j < len(rows) && rows[j].appt != nil; j++ {
			per[rows[j].appt.Status]++
			n++
		}
		rows[i].summary = "   " + kit.Plural(n, "appointment") + statusCounts(per)
	}
	sel := t.selID
	t.selID = ""
	t.rows = rows
	t.list.clearSelection()
	t.list.Refresh()
	switch {
	case total == 0 && only != "":
		t.summary.SetText("No appointments for " + only + " on this day.")
	case total == 0 && len(t.bookable) == 0:
		t.summary.SetText("Nobody can be booked yet: add a clinician, or mark who sees patients on the Staff screen (admins).")
	case total == 0:
		t.summary.SetText("No appointments on this day. Use Book… to add one.")
	default:
		t.summary.SetText(kit.Plural(total, "appointment") + statusCounts(counts))
	}
	t.buildGrid(only, sel)
	if t.listMode {
		t.selID = ""
		for i, r := range rows {
			if r.appt != nil && r.appt.ID == sel {
				t.list.Select(i)
			}
		}
	}
	t.refreshButtons()
}

// buildGrid lays the day out in the grid: a column per clinician (or the
// one chosen), the cancelled appointments and no-shows listed below.
func (t *todayScreen) buildGrid(only, sel string) {
	cols := t.columnNames()
	if only != "" {
		cols = []string{only}
	}
	t.grid.set(t.day, cols, t.appts)
	heads := make([]fyne.CanvasObject, len(cols))
	for i, c := range cols {
		n := 0
		for _, a := range t.appts {
			if a.ClinicianName == c && occupies(a.Status) {
				n++
			}
		}
		l := widget.NewLabelWithStyle(c, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		l.Truncation = fyne.TextTruncateEllipsis
		if n > 0 {
			l.SetText(fmt.Sprintf("%s (%d)", c, n))
		}
		heads[i] = l
	}
	t.heads.Objects = heads
	t.heads.Refresh()
	var off []string
	for _, a := range t.appts {
		if occupies(a.Status) || (only != "" && a.ClinicianName != only) {
			continue
		}
		line := fmt.Sprintf("%s %s with %s: %s", a.Start.Local().Format(timeLayout), a.PatientName, a.ClinicianName, strings.ToLower(statusWords[a.Status]))
		if a.CancelReason != "" {
			line += " (" + a.CancelReason + ")"
		}
		off = append(off, line)
	}
	if len(off) == 0 {
		t.offDay.Hide()
	} else {
		t.offDay.SetText("Not coming: " + strings.Join(off, "; ") + ".")
		t.offDay.Show()
	}
	if sel != "" && t.grid.show(sel) {
		t.scrollToCursor()
	} else {
		// The cursor starts at the time now on today, else at the first
		// appointment, else at the start of the day.
		at := t.grid.slotTime(0)
		if now := t.g.now(); midnight(now).Equal(t.day) {
			at = now
		} else {
			for _, b := range t.grid.blocks {
				if b.col == 0 {
					at = b.appt.Start
					break
				}
			}
		}
		t.grid.col, t.grid.slot, t.grid.lane = 0, t.grid.slotOf(at), 0
		t.grid.selectUnder()
		t.grid.Refresh()
		t.scrollToCursor()
	}
}

// statusCounts is ": 3 checked in, 2 done" for the statuses present.
func statusCounts(per map[string]int) string {
	var parts []string
	for _, st := range app.AppointmentStatuses {
		if n := per[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ToLower(statusWords[st])))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// selected returns the selected appointment.
func (t *todayScreen) selected() (app.Appointment, bool) {
	for _, a := range t.appts {
		if a.ID == t.selID && t.selID != "" {
			return a, true
		}
	}
	return app.Appointment{}, false
}

func (t *todayScreen) refreshButtons() {
	a, ok := t.selected()
	st := a.Status
	kit.Enable(t.checkIn, ok && st != app.StatusArrived && st != app.StatusInRoom && st != app.StatusDone)
	kit.Enable(t.undoCheckIn, ok && st == app.StatusArrived)
	kit.Enable(t.inRoom, ok && st != app.StatusInRoom && st != app.StatusDone)
	kit.Enable(t.done, ok && st != app.StatusDone)
	kit.Enable(t.noShow, ok && st == app.StatusBooked)
	kit.Enable(t.cancel, ok && st != app.StatusCancelled && st != app.StatusDone)
	kit.Enable(t.move, ok && occupies(st) && st != app.StatusDone)
	kit.Enable(t.openChart, ok)
}

// setStatus moves the selected appointment to status.
func (t *todayScreen) setStatus(status string) {
	a, ok := t.selected()
	if !ok {
		return
	}
	if err := t.s.SetAppointmentStatus(t.g.ctx, a.ID, status); err != nil {
		t.g.showError("The appointment was not changed", err)
		return
	}
	t.status.Say(widget.SuccessImportance, fmt.Sprintf("%s at %s: %s.", a.PatientName, a.Start.Local().Format(timeLayout), strings.ToLower(statusWords[status])))
	t.load()
}

// cancelReasons are the reasons a front desk gives most.
var cancelReasons = []string{"Patient cancelled", "Clinician unavailable", "Booked in error", "Rebooked at another time"}

// cancelSelected cancels the selected appointment, asking why.
func (t *todayScreen) cancelSelected() {
	a, ok := t.selected()
	if !ok {
		return
	}
	g := t.g
	reason := newEntry(g, "or type another reason")
	choice := widget.NewRadioGroup(cancelReasons, func(r string) {
		g.activity()
		if r != "" {
			reason.SetText(r)
		}
	})
	var f *formDialog
	f = g.newFormDialog("Cancel appointment", "Cancel appointment", container.NewVBox(
		kit.Wrapped(fmt.Sprintf("Cancel %s's appointment with %s at %s? It stays in the day book as cancelled, with the reason.",
			a.PatientName, a.ClinicianName, a.Start.Local().Format(timeLayout))),
		choice,
		widget.NewForm(field("Reason", reason, "Required: the clinician and the audit log see it")),
	), func() {
		err := t.s.CancelAppointment(g.ctx, a.ID, reason.Text)
		if errors.Is(err, app.ErrCancelReason) {
			f.fail("Choose or type why the appointment is cancelled.")
			g.focus(reason)
			return
		}
		if err != nil {
			f.fail("The appointment was not cancelled. " + plain.Error(err))
			return
		}
		f.close()
		t.status.Say(widget.SuccessImportance, fmt.Sprintf("%s at %s: cancelled (%s).", a.PatientName, a.Start.Local().Format(timeLayout), strings.TrimSpace(reason.Text)))
		t.load()
	})
	f.ok.Importance = widget.DangerImportance
	f.cancel.SetText("Keep it")
	f.submitOnEnter(reason)
	f.show(fyne.NewSize(540, 480), reason)
}

// openSelected opens the selected appointment's patient's chart.
func (t *todayScreen) openSelected() {
	if a, ok := t.selected(); ok {
		t.sh.openChart(a.PatientMRN)
	}
}

// moveSelected asks for a new time, length or clinician for the
// selected appointment, showing what it would overlap before saving.
func (t *todayScreen) moveSelected() {
	a, ok := t.selected()
	if !ok {
		return
	}
	g := t.g
	order := t.s.DateOrder()
	date := newEntry(g, "")
	date.SetText(a.Start.Local().Format(isoDate))
	at := newEntry(g, "HH:MM")
	at.SetText(a.Start.Local().Format(timeLayout))
	minutes := newEntry(g, "")
	minutes.SetText(strconv.Itoa(a.Minutes))
	names := t.bookable
	if !slices.Contains(names, a.ClinicianName) {
		names = append([]string{a.ClinicianName}, names...)
	}
	var f *formDialog
	var check *overlapCheck
	clin := widget.NewSelect(names, func(string) { g.activity(); check.changed() })
	clin.Selected = a.ClinicianName
	t.moveClinician = clin
	slot := func() (app.Slot, string, fyne.Focusable) {
		start, n, msg, bad := readSlot(date, at, minutes, order)
		return app.Slot{ExceptID: a.ID, MRN: a.PatientMRN, Clinician: clin.Selected, Start: start, Minutes: n}, msg, bad
	}
	f = g.newFormDialog("Move appointment", "Move", nil, func() {
		sl, msg, bad := slot()
		if msg != "" {
			f.fail(msg)
			g.focus(bad)
			return
		}
		if !check.allow(sl) {
			return
		}
		warnings, err := t.s.MoveAppointment(g.ctx, a.ID, sl.Start, sl.Minutes, sl.Clinician)
		if err != nil {
			f.fail("The appointment was not moved. " + plain.Error(err))
			return
		}
		f.close()
		t.selID = a.ID
		t.report(fmt.Sprintf("Moved %s to %s at %s with %s.", a.PatientName, sl.Start.Format("Mon 2 Jan"), sl.Start.Format(timeLayout), sl.Clinician), warnings)
		if !midnight(sl.Start).Equal(t.day) {
			t.day = midnight(sl.Start)
		}
		t.load()
	})
	check = newOverlapCheck(g, t.s, f, "Move", "Move anyway", slot)
	f.setBody(container.NewVBox(
		kit.Wrapped(fmt.Sprintf("%s with %s, now %s at %s.", a.PatientName, a.ClinicianName,
			a.Start.Local().Format("Mon 2 Jan"), a.Start.Local().Format(timeLayout))),
		widget.NewForm(
			field("Clinician", clin, ""),
			field("Date", date, dateOrderHint(order)),
			field("Time", at, "24-hour clock, for example 14:30"),
			field("Minutes", minutes, "5 to 480"),
		),
		check.label,
	))
	for _, e := range []*kit.Entry{date, at, minutes} {
		e.OnChanged = func(string) { check.changed() }
	}
	f.submitOnEnter(date, at, minutes)
	f.show(fyne.NewSize(540, 420), at)
	check.changed()
}

// overlapCheck shows, while a booking or a move is being typed, what the
// slot would overlap, and asks once more before saving over it.
type overlapCheck struct {
	g       *gui
	s       recordsSession
	f       *formDialog
	label   *widget.Label
	okText  string
	anyway  string
	slot    func() (app.Slot, string, fyne.Focusable)
	seq     int
	confirm string // the slot already warned about: saving again goes ahead
}

func newOverlapCheck(g *gui, s recordsSession, f *formDialog, okText, anyway string, slot func() (app.Slot, string, fyne.Focusable)) *overlapCheck {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.WarningImportance
	l.Hide()
	return &overlapCheck{g: g, s: s, f: f, label: l, okText: okText, anyway: anyway, slot: slot}
}

// key identifies a slot.
func slotKey(sl app.Slot) string {
	return sl.MRN + "|" + sl.Clinician + "|" + sl.Start.Format(time.RFC3339) + "|" + strconv.Itoa(sl.Minutes)
}

// changed checks the slot as it now reads, off the UI thread.
func (c *overlapCheck) changed() {
	if c == nil || c.f == nil {
		return
	}
	c.seq++
	seq := c.seq
	c.confirm = ""
	c.f.ok.SetText(c.okText)
	sl, msg, _ := c.slot()
	if msg != "" || sl.Clinician == "" {
		c.show(nil)
		return
	}
	var warnings []string
	c.g.background(func() {
		warnings, _ = c.s.CheckSlot(c.g.ctx, sl)
	}, func() {
		if seq == c.seq {
			c.show(warnings)
		}
	})
}

func (c *overlapCheck) show(warnings []string) {
	if len(warnings) == 0 {
		c.label.Hide()
		return
	}
	c.label.SetText("Double-booking: " + strings.Join(warnings, "; ") + ".")
	c.label.Show()
}

// allow checks the slot once more as it is saved: with an overlap, the
// first press shows it and the second goes ahead.
func (c *overlapCheck) allow(sl app.Slot) bool {
	warnings, err := c.s.CheckSlot(c.g.ctx, sl)
	if err != nil {
		c.f.fail("That time cannot be booked. " + plain.Error(err))
		return false
	}
	c.show(warnings)
	if len(warnings) == 0 || c.confirm == slotKey(sl) {
		return true
	}
	c.confirm = slotKey(sl)
	c.f.ok.SetText(c.anyway)
	c.f.status.Say(widget.WarningImportance, "This time is taken: "+strings.Join(warnings, "; ")+". Press "+c.anyway+" to double-book, or change the time.")
	return false
}

// report says what was done, with any overlap warnings.
func (t *todayScreen) report(done string, warnings []string) {
	if len(warnings) == 0 {
		t.status.Say(widget.SuccessImportance, done)
		return
	}
	t.status.Say(widget.WarningImportance, done+" Double-booked: "+strings.Join(warnings, "; ")+".")
}

// bookAt opens the Book dialog on a free slot of the grid.
func (t *todayScreen) bookAt(clinician string, at time.Time) {
	t.booking = t.g.bookAppointment(t.s, nil, at, clinician, t.booked)
}

// booked reports a booking and shows it.
func (t *todayScreen) booked(a app.Appointment, warnings []string) {
	t.selID = a.ID
	t.report(fmt.Sprintf("Booked %s with %s on %s at %s.", a.PatientName, a.ClinicianName,
		a.Start.Local().Format("Mon 2 Jan"), a.Start.Local().Format(timeLayout)), warnings)
	t.day = midnight(a.Start)
	t.load()
}

// chooseDay goes to a date typed or picked on a calendar.
func (t *todayScreen) chooseDay() {
	g := t.g
	order := t.s.DateOrder()
	date := newEntry(g, "")
	date.SetText(t.day.Format(isoDate))
	var f *formDialog
	cal := widget.NewCalendar(t.day, func(d time.Time) {
		g.activity()
		f.close()
		t.setDay(d)
	})
	f = g.newFormDialog("Go to a day", "Go", container.NewVBox(
		widget.NewForm(field("Date", date, dateOrderHint(order)+"; or pick it below")),
		cal,
	), func() {
		d, ok := parseDay(date.Text, order)
		if !ok {
			f.fail("“" + strings.TrimSpace(date.Text) + "” is not a date. Type it as " + dateOrderHint(order) + ".")
			g.focus(date)
			return
		}
		f.close()
		t.setDay(d)
	})
	f.submitOnEnter(date)
	f.show(fyne.NewSize(420, 480), date)
}

// readSlot reads a date, a time and minutes from the fields; msg says
// what is wrong, and bad is the field to fix.
func readSlot(date, at, minutes *kit.Entry, order app.DateOrder) (start time.Time, n int, msg string, bad fyne.Focusable) {
	d, ok := parseDay(date.Text, order)
	if !ok {
		return start, 0, "“" + strings.TrimSpace(date.Text) + "” is not a date. Type it as " + dateOrderHint(order) + ".", date
	}
	h, m, ok := parseClock(at.Text)
	if !ok {
		return start, 0, "“" + strings.TrimSpace(at.Text) + "” is not a time. Type it as HH:MM, for example 09:30 or 14:45.", at
	}
	n, err := strconv.Atoi(strings.TrimSpace(minutes.Text))
	if err != nil || n < 5 || n > 480 {
		return start, 0, "Type the length in minutes, from 5 to 480.", minutes
	}
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.Local), n, "", nil
}

// bookNew opens the Book dialog for the day shown, at the grid's
// cursor when it is on a free slot.
func (t *todayScreen) bookNew() {
	clin := ""
	if t.filter.Selected != allClinicians {
		clin = t.filter.Selected
	}
	day := t.day
	if !t.listMode && len(t.grid.columns) > 0 && t.grid.under() == nil && (clin == "" || clin == t.grid.columns[t.grid.col]) {
		clin, day = t.grid.columns[t.grid.col], t.grid.slotTime(t.grid.slot)
	}
	t.booking = t.g.bookAppointment(t.s, nil, day, clin, t.booked)
}

// bookDialog books an appointment: the patient (found by typing), the
// clinician, the date, time and length, and the reason.
type bookDialog struct {
	f         *formDialog
	picker    *patientPicker
	patient   *app.Patient
	chosen    *widget.Label
	clinician *widget.Select
	date      *kit.Entry
	at        *kit.Entry
	minutes   *kit.Entry
	reason    *kit.Entry
	check     *overlapCheck
}

// bookAppointment opens the Book dialog. patient, when not nil, is fixed;
// day and clinician are the defaults. done runs after booking.
func (g *gui) bookAppointment(s recordsSession, patient *app.Patient, day time.Time, clinician string, done func(app.Appointment, []string)) *bookDialog {
	b := &bookDialog{
		patient: patient,
		chosen:  widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		date:    newEntry(g, ""),
		at:      newEntry(g, "HH:MM"),
		minutes: newEntry(g, ""),
		reason:  newEntry(g, "for example Follow-up"),
	}
	b.chosen.Wrapping = fyne.TextWrapWord
	order := s.DateOrder()
	names, err := s.Clinicians(g.ctx)
	if err != nil {
		g.showError("Appointments cannot be booked now", err)
		return nil
	}
	var check *overlapCheck
	b.clinician = widget.NewSelect(names, func(string) { g.activity(); check.changed() })
	b.clinician.PlaceHolder = "Choose the clinician"
	if clinician != "" && slices.Contains(names, clinician) {
		b.clinician.SetSelected(clinician)
	} else if len(names) == 1 {
		b.clinician.SetSelected(names[0])
	}
	b.date.SetText(day.Format(isoDate))
	if at := day.Local(); !at.Equal(midnight(at)) {
		b.at.SetText(at.Format(timeLayout)) // a slot chosen in the grid
	} else {
		b.at.SetText(suggestTime(day, g.now()))
	}
	b.minutes.SetText("15")

	items := []*widget.FormItem{}
	var first fyne.Focusable = b.at
	if patient == nil {
		b.picker = newPatientPicker(g, s)
		b.chosen.SetText("No patient chosen yet.")
		b.picker.onPick = func(p app.Patient) {
			b.patient = &p
			b.chosen.SetText(fmt.Sprintf("%s  ·  %s  ·  born %s", p.Name(), p.MRN, dobText(p.DOB, g.now())))
			b.f.status.SetText("")
			check.changed()
			if b.clinician.Selected == "" {
				g.focus(b.clinician)
			} else {
				g.focus(b.at)
			}
		}
		items = append(items, field("Find patient", b.picker.view, ""), field("Patient", b.chosen, ""))
		first = b.picker.search
	} else {
		b.chosen.SetText(fmt.Sprintf("%s  ·  %s  ·  born %s", patient.Name(), patient.MRN, dobText(patient.DOB, g.now())))
		items = append(items, field("Patient", b.chosen, ""))
	}
	minutes := container.NewBorder(nil, nil, nil, widget.NewLabel("min"), b.minutes)
	items = append(items,
		field("Clinician", b.clinician, ""),
		field("When", container.NewGridWithColumns(3, b.date, b.at, minutes),
			"Date ("+dateOrderHint(order)+"), time (24-hour, 14:30) and length (5 to 480 minutes)"),
		field("Reason", b.reason, "Optional; the front desk and the clinician see it"),
	)
	slot := func() (app.Slot, string, fyne.Focusable) {
		start, n, msg, bad := readSlot(b.date, b.at, b.minutes, order)
		sl := app.Slot{Clinician: b.clinician.Selected, Start: start, Minutes: n}
		if b.patient != nil {
			sl.MRN = b.patient.MRN
		}
		return sl, msg, bad
	}
	check = newOverlapCheck(g, s, nil, "Book", "Book anyway", slot)
	b.check = check
	b.f = g.newFormDialog("Book an appointment", "Book", container.NewVBox(widget.NewForm(items...), check.label), func() {
		switch {
		case b.patient == nil:
			b.f.fail("Choose the patient first: type part of their name, MRN or date of birth, then press " + kit.KeyLabel(fyne.KeyReturn) + ".")
			if b.picker != nil {
				g.focus(b.picker.search)
			}
			return
		case b.clinician.Selected == "":
			b.f.fail("Choose the clinician.")
			g.focus(b.clinician)
			return
		}
		sl, msg, bad := slot()
		if msg != "" {
			b.f.fail(msg)
			g.focus(bad)
			return
		}
		if !check.allow(sl) {
			return
		}
		a, warnings, err := s.BookAppointment(g.ctx, b.patient.MRN, sl.Start, sl.Minutes, sl.Clinician, b.reason.Text)
		if err != nil {
			b.f.fail("The appointment was not booked. " + plain.Error(err))
			return
		}
		b.f.close()
		done(a, warnings)
	})
	check.f = b.f
	for _, e := range []*kit.Entry{b.date, b.at, b.minutes} {
		e.OnChanged = func(string) { check.changed() }
	}
	b.f.submitOnEnter(b.date, b.at, b.minutes, b.reason)
	h := float32(400)
	if patient == nil {
		h = 610
	}
	b.f.show(fyne.NewSize(680, h), first)
	check.changed()
	return b
}

// suggestTime is the next quarter hour when day is today, else 09:00.
func suggestTime(day, now time.Time) string {
	now = now.Local()
	if !midnight(now).Equal(midnight(day)) {
		return "09:00"
	}
	next := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	if !midnight(next).Equal(midnight(day)) {
		return "09:00"
	}
	return next.Format(timeLayout)
}
