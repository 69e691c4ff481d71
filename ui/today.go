package ui

import (
	"fmt"
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

	list    *recordList
	title   *widget.Label
	summary *widget.Label
	filter  *widget.Select
	status  *statusText
	busy    *widget.Activity

	prev, next, today, book                                *widget.Button
	checkIn, inRoom, done, noShow, cancel, move, openChart *widget.Button
	view                                                   fyne.CanvasObject

	// booking is the open Book dialog, for tests.
	booking *bookDialog
}

func newTodayScreen(g *gui, sh *shell, s recordsSession) *todayScreen {
	t := &todayScreen{g: g, sh: sh, s: s, status: newStatus(widget.MediumImportance), busy: widget.NewActivity()}
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

	t.busy.Hide()
	t.title.Truncation = fyne.TextTruncateEllipsis
	dayRow := container.NewBorder(nil, nil,
		vcentre(container.NewHBox(t.prev, t.today, t.next)),
		vcentre(container.NewHBox(t.busy, container.New(kit.FixedWidth(180), t.filter), t.book)),
		t.title)
	actions := container.NewHBox(t.checkIn, t.inRoom, t.done, t.noShow, t.cancel, widget.NewSeparator(), t.move, t.openChart)
	header := container.NewBorder(nil, nil, container.New(kit.FixedWidth(timeColumn), kit.HeaderCell("Time")), container.New(kit.FixedWidth(badgeWidth+8), kit.HeaderCell("Status")),
		container.New(todayColumns, kit.HeaderCell("Patient"), kit.HeaderCell("Reason")))
	top := container.NewVBox(dayRow, t.summary, actions, t.status, header, widget.NewSeparator())
	t.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, t.list))
	t.refreshButtons()
	t.load()
	return t
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

// load reads the day's appointments off the UI thread.
func (t *todayScreen) load() {
	t.title.SetText(t.dayTitle())
	t.busy.Show()
	t.busy.Start()
	day, s, ctx := t.day, t.s, t.g.ctx
	var appts []app.Appointment
	var err error
	t.g.background(func() {
		appts, err = s.Day(ctx, day)
	}, func() {
		t.busy.Stop()
		t.busy.Hide()
		if !t.day.Equal(day) {
			return // another day was chosen meanwhile
		}
		if err != nil {
			t.status.say(widget.DangerImportance, "The appointments could not be loaded. "+plain(err))
			appts = nil
		}
		t.appts = appts
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

// refreshFilter offers the clinicians who have appointments that day.
func (t *todayScreen) refreshFilter() {
	opts := []string{allClinicians}
	seen := map[string]bool{}
	for _, a := range t.appts {
		if !seen[a.ClinicianName] {
			seen[a.ClinicianName] = true
			opts = append(opts, a.ClinicianName)
		}
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
	t.rows = rows
	t.list.clearSelection()
	t.list.Refresh()
	switch {
	case total == 0 && only != "":
		t.summary.SetText("No appointments for " + only + " on this day.")
	case total == 0:
		t.summary.SetText("No appointments on this day. Use Book… to add one.")
	default:
		t.summary.SetText(kit.Plural(total, "appointment") + statusCounts(counts))
	}
	t.selID = ""
	for i, r := range rows {
		if r.appt != nil && r.appt.ID == sel {
			t.list.Select(i)
		}
	}
	t.refreshButtons()
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
	enable(t.checkIn, ok && st != app.StatusArrived && st != app.StatusInRoom && st != app.StatusDone)
	enable(t.inRoom, ok && st != app.StatusInRoom && st != app.StatusDone)
	enable(t.done, ok && st != app.StatusDone)
	enable(t.noShow, ok && st == app.StatusBooked)
	enable(t.cancel, ok && st != app.StatusCancelled && st != app.StatusDone)
	enable(t.move, ok && st != app.StatusDone)
	enable(t.openChart, ok)
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
	t.status.say(widget.SuccessImportance, fmt.Sprintf("%s at %s: %s.", a.PatientName, a.Start.Local().Format(timeLayout), strings.ToLower(statusWords[status])))
	t.load()
}

// cancelSelected cancels the selected appointment after asking.
func (t *todayScreen) cancelSelected() {
	a, ok := t.selected()
	if !ok {
		return
	}
	t.g.confirmDialog("Cancel appointment", "Cancel appointment",
		fmt.Sprintf("Cancel %s's appointment with %s at %s? It stays in the day book as cancelled.",
			a.PatientName, a.ClinicianName, a.Start.Local().Format(timeLayout)),
		true, func() { t.setStatus(app.StatusCancelled) })
}

// openSelected opens the selected appointment's patient's chart.
func (t *todayScreen) openSelected() {
	if a, ok := t.selected(); ok {
		t.sh.openChart(a.PatientMRN)
	}
}

// moveSelected asks for a new time for the selected appointment.
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
	var f *formDialog
	f = g.newFormDialog("Move appointment", "Move", container.NewVBox(
		kit.Wrapped(fmt.Sprintf("%s with %s, now %s at %s.", a.PatientName, a.ClinicianName,
			a.Start.Local().Format("Mon 2 Jan"), a.Start.Local().Format(timeLayout))),
		widget.NewForm(
			field("Date", date, dateOrderHint(order)),
			field("Time", at, "24-hour clock, for example 14:30"),
			field("Minutes", minutes, "5 to 480"),
		),
		kit.Wrapped("The patient, the clinician and the status stay as they are."),
	), func() {
		start, n, msg, bad := readSlot(date, at, minutes, order)
		if msg != "" {
			f.fail(msg)
			g.focus(bad)
			return
		}
		warnings, err := t.s.MoveAppointment(g.ctx, a.ID, start, n)
		if err != nil {
			f.fail("The appointment was not moved. " + plain(err))
			return
		}
		f.close()
		t.selID = a.ID
		t.report(fmt.Sprintf("Moved %s to %s at %s.", a.PatientName, start.Format("Mon 2 Jan"), start.Format(timeLayout)), warnings)
		if !midnight(start).Equal(t.day) {
			t.day = midnight(start)
		}
		t.load()
	})
	f.submitOnEnter(date, at, minutes)
	f.show(fyne.NewSize(520, 340), at)
}

// report says what was done, with any overlap warnings.
func (t *todayScreen) report(done string, warnings []string) {
	if len(warnings) == 0 {
		t.status.say(widget.SuccessImportance, done)
		return
	}
	t.status.say(widget.WarningImportance, done+" Double-booked: this "+strings.Join(warnings, "; ")+".")
}

// readSlot reads a date, a time and minutes from the fields; msg says
// what is wrong, and bad is the field to fix.
func readSlot(date, at, minutes *entry, order app.DateOrder) (start time.Time, n int, msg string, bad fyne.Focusable) {
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

// bookNew opens the Book dialog for the day shown.
func (t *todayScreen) bookNew() {
	clin := ""
	if t.filter.Selected != allClinicians {
		clin = t.filter.Selected
	}
	t.booking = t.g.bookAppointment(t.s, nil, t.day, clin, func(a app.Appointment, warnings []string) {
		t.selID = a.ID
		t.report(fmt.Sprintf("Booked %s with %s on %s at %s.", a.PatientName, a.ClinicianName,
			a.Start.Local().Format("Mon 2 Jan"), a.Start.Local().Format(timeLayout)), warnings)
		t.day = midnight(a.Start)
		t.load()
	})
}

// bookDialog books an appointment: the patient (found by typing), the
// clinician, the date, time and length, and the reason.
type bookDialog struct {
	f         *formDialog
	picker    *patientPicker
	patient   *app.Patient
	chosen    *widget.Label
	clinician *widget.Select
	date      *entry
	at        *entry
	minutes   *entry
	reason    *entry
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
	b.clinician = widget.NewSelect(names, func(string) { g.activity() })
	b.clinician.PlaceHolder = "Choose the clinician"
	if clinician != "" {
		b.clinician.SetSelected(clinician)
	} else if len(names) == 1 {
		b.clinician.SetSelected(names[0])
	}
	b.date.SetText(day.Format(isoDate))
	b.at.SetText(suggestTime(day, g.now()))
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
	b.f = g.newFormDialog("Book an appointment", "Book", widget.NewForm(items...), func() {
		switch {
		case b.patient == nil:
			b.f.fail("Choose the patient first: type part of their name, MRN or date of birth, then press Enter.")
			if b.picker != nil {
				g.focus(b.picker.search)
			}
			return
		case b.clinician.Selected == "":
			b.f.fail("Choose the clinician.")
			g.focus(b.clinician)
			return
		}
		start, n, msg, bad := readSlot(b.date, b.at, b.minutes, order)
		if msg != "" {
			b.f.fail(msg)
			g.focus(bad)
			return
		}
		a, warnings, err := s.BookAppointment(g.ctx, b.patient.MRN, start, n, b.clinician.Selected, b.reason.Text)
		if err != nil {
			b.f.fail("The appointment was not booked. " + plain(err))
			return
		}
		b.f.close()
		done(a, warnings)
	})
	b.f.submitOnEnter(b.date, b.at, b.minutes, b.reason)
	h := float32(400)
	if patient == nil {
		h = 610
	}
	b.f.show(fyne.NewSize(680, h), first)
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
