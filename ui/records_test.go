package ui

import (
	"bytes"
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
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/store"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// Staff of the test practice besides the admin, Dana Whitfield.
const (
	doctorLee  = "Dr Lee Park"
	doctorOmar = "Dr Omar Haddad"
	frontDesk  = "Sam Reyes"
)

// practice is a vault with an admin, two clinicians and a receptionist,
// 300 demo patients with today's appointments and charts, and José Núñez
// with a chart of his own.
type practice struct {
	v       *app.Vault
	clk     *clock
	secrets map[string]string
	jose    app.Patient
}

func newPractice(t *testing.T) *practice {
	t.Helper()
	ctx := context.Background()
	v, clk := newTestVault(t)
	adminSecret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	p := &practice{v: v, clk: clk, secrets: map[string]string{"Dana Whitfield": adminSecret}}
	admin := p.session(t, "Dana Whitfield")
	defer admin.Lock(ctx)
	for _, u := range []struct {
		name string
		role app.Role
	}{{doctorLee, app.Clinician}, {doctorOmar, app.Clinician}, {frontDesk, app.Receptionist}} {
		enr, err := app.NewEnrollment("Riverside Family Practice", u.name)
		if err != nil {
			t.Fatal(err)
		}
		enr.Confirm(code(t, enr.Secret(), clk), clk.Now())
		if err := admin.AddUser(ctx, u.name, u.role, staffPass, enr); err != nil {
			t.Fatal(err)
		}
		p.secrets[u.name] = enr.Secret()
	}
	if err := admin.Demo(ctx, 300, 7, nil); err != nil {
		t.Fatal(err)
	}
	jose, _, err := admin.AddPatient(ctx, app.Patient{Given: "José", Family: "Núñez", DOB: "1984-07-12", Sex: "male",
		Phone: "+34 600 123 456", Email: "jose.nunez@example.org", Address: "Calle Mayor 5, Riverside", Insurance: "Sanitas 4455-19"})
	if err != nil {
		t.Fatal(err)
	}
	p.jose = jose
	for k, m := range [][3]float64{{142, 92, 88.4}, {138, 90, 87.1}, {135, 88, 86.0}, {131, 85, 84.8}, {126, 82, 83.9}} {
		sys, dia, w := int(m[0]), int(m[1]), m[2]
		if err := admin.AddVitals(ctx, jose.MRN, app.Vitals{TakenAt: clk.Now().AddDate(0, -5+k, -3), Systolic: &sys, Diastolic: &dia, WeightKg: &w}); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.AddAllergy(ctx, jose.MRN, app.Allergy{Substance: "Penicillin", Reaction: "anaphylaxis", Severity: "severe"}))
	must(admin.AddProblem(ctx, jose.MRN, app.Problem{Description: "Type 2 diabetes mellitus", ICD10: "E11.9", Onset: "2018-04-01"}))
	must(admin.AddMedication(ctx, jose.MRN, app.Medication{Name: "Metformin", Dose: "500 mg", Route: "oral", Frequency: "twice daily", Start: "2018-04-01"}))
	return p
}

// session signs name in through app (not the window).
func (p *practice) session(t *testing.T, name string) *app.Session {
	t.Helper()
	pass := staffPass
	if name == "Dana Whitfield" {
		pass = adminPass
	}
	p.clk.Add(30 * time.Second)
	s, err := p.v.SignIn(context.Background(), name, pass, code(t, p.secrets[name], p.clk))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// signIn signs name in through the window and waits for Today.
func (p *practice) signIn(t *testing.T, g *gui, name string) {
	t.Helper()
	p.clk.Add(30 * time.Second)
	signInGUI(t, g, name, staffPass, code(t, p.secrets[name], p.clk))
	if g.screen != "shell" {
		t.Fatalf("%s could not sign in: %q", name, g.signIn.status.Text)
	}
	settle(t, g)
}

// shortcut types a window shortcut with nothing focused.
func typeShortcut(t *testing.T, g *gui, s fyne.Shortcut) {
	t.Helper()
	g.win.Canvas().Unfocus()
	g.win.Canvas().(fyne.Shortcutable).TypedShortcut(s)
	settle(t, g)
}

// pressWindowKey types a key on the window with no field focused (a
// confirmation dialog has none).
func pressWindowKey(t *testing.T, g *gui, k fyne.KeyName) {
	t.Helper()
	g.win.Canvas().Unfocus()
	g.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: k})
	settle(t, g)
}

// appointment finds the appointment id in the day of at.
func appointment(t *testing.T, s *app.Session, at time.Time, id string) app.Appointment {
	t.Helper()
	day, err := s.Day(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range day {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("appointment %s is not in the day book", id)
	return app.Appointment{}
}

func TestReceptionistBooksAndChecksIn(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	sh := g.shell
	if got := sh.navNames(); !slices.Equal(got, []string{"Today", "Patients", "Import", "Export", "Backups", "Sync", "Computers", "Home", "Training", "My account"}) {
		t.Errorf("receptionist navigation %v", got)
	}
	if sh.current != "Today" || sh.today == nil {
		t.Fatalf("the shell opened on %q, want Today", sh.current)
	}
	td := sh.today
	if g.win.Canvas().Focused() != td.grid {
		t.Error("Today does not focus the day grid")
	}
	s := g.session
	ctx := context.Background()
	want, err := s.Day(ctx, p.clk.Now())
	if err != nil || len(want) == 0 {
		t.Fatalf("demo day: %d appointments, %v", len(want), err)
	}
	if len(td.appts) != len(want) {
		t.Errorf("Today shows %d appointments, the day has %d", len(td.appts), len(want))
	}
	// A column per person who sees patients: the practice manager (an
	// admin) is not one.
	if !slices.Equal(td.grid.columns, []string{doctorLee, doctorOmar}) {
		t.Errorf("the grid's columns are %v", td.grid.columns)
	}
	if !showsText(g, "Today, Monday 2 March 2026") || !showsText(g, doctorLee+" (") {
		t.Error("the day or a clinician's column is not shown")
	}
	shot(t, g, "today")
	golden(t, g, "today")
	shotSizes(t, g, "today-grid")

	// A sync pass that brought another machine's booking refreshes Today.
	remote, _, err := s.BookAppointment(ctx, p.jose.MRN, want[0].Start.Add(11*time.Hour), 15, doctorLee, "Booked on another machine")
	if err != nil {
		t.Fatal(err)
	}
	sh.syncApplied()
	settle(t, g)
	if !slices.ContainsFunc(td.appts, func(a app.Appointment) bool { return a.ID == remote.ID }) {
		t.Error("Today was not refreshed after a sync pass")
	}
	want = append(want, remote)

	// The keyboard walks the grid: Home is the day's first slot (free in
	// the demo), Down onto an appointment selects it.
	key := func(k fyne.KeyName) {
		td.grid.TypedKey(&fyne.KeyEvent{Name: k})
		settle(t, g)
	}
	key(fyne.KeyHome)
	if _, ok := td.selected(); ok || td.grid.slotTime(td.grid.slot).Format("15:04") != "08:00" {
		t.Fatalf("Home: the cursor is at %s", td.grid.slotTime(td.grid.slot).Format("15:04"))
	}
	var first app.Appointment
	for _, a := range want {
		if a.ClinicianName == doctorLee && a.Status != app.StatusCancelled && a.Status != app.StatusNoShow && (first.ID == "" || a.Start.Before(first.Start)) {
			first = a
		}
	}
	for range 12 {
		if _, ok := td.selected(); ok {
			break
		}
		key(fyne.KeyDown)
	}
	if a, ok := td.selected(); !ok || a.ID != first.ID {
		t.Errorf("Down did not reach Dr Park's first appointment (%s): %+v", first.Start.Format("15:04"), a)
	}
	key(fyne.KeyRight)
	if td.grid.col != 1 {
		t.Errorf("Right did not move to the next clinician")
	}
	key(fyne.KeyLeft)

	// Enter on a free slot books it: End is the day's last slot.
	key(fyne.KeyEnd)
	key(fyne.KeyReturn)
	b := td.booking
	if b == nil || len(g.dialogs) != 1 {
		t.Fatal("Enter on a free slot did not open the Book dialog")
	}
	if last := td.grid.slotTime(td.grid.slots() - 1).Format("15:04"); b.clinician.Selected != doctorLee || b.at.Text != last || b.date.Text != "2026-03-02" {
		t.Errorf("the Book dialog is not on the slot: %q %q %q", b.clinician.Selected, b.date.Text, b.at.Text)
	}
	if g.win.Canvas().Focused() != b.picker.search {
		t.Error("the patient search does not have focus")
	}
	typeIn(g, b.picker.search, "nunez jose")
	settle(t, g)
	at := slices.IndexFunc(b.picker.results, func(x app.Patient) bool { return x.MRN == p.jose.MRN })
	if at < 0 || b.picker.list.selected != 0 {
		t.Fatalf("the picker did not find José: %d results", len(b.picker.results))
	}
	for range at {
		b.picker.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	}
	pressEnter(t, g, b.picker.search)
	if b.patient == nil || b.patient.MRN != p.jose.MRN {
		t.Fatal("Enter did not pick José")
	}
	if g.win.Canvas().Focused() != b.at {
		t.Error("after the patient, the time does not have focus")
	}
	b.at.SetText("")
	typeIn(g, b.at, "25:00")
	typeIn(g, b.reason, "Blood sugar review")
	pressEnter(t, g, b.reason)
	if !showsText(g, "is not a time") || len(g.dialogs) != 1 {
		t.Fatal("a bad time was not refused in the dialog")
	}
	b.at.SetText("")
	typeIn(g, b.at, "17:30")
	settle(t, g)
	shot(t, g, "today-book")
	pressEnter(t, g, b.reason)
	if len(g.dialogs) != 0 {
		t.Fatalf("the Book dialog stays open: %q", b.f.status.Text)
	}
	if td.selID == "" {
		t.Fatal("the new appointment is not selected")
	}
	booked := appointment(t, s, p.clk.Now(), td.selID)
	if booked.PatientMRN != p.jose.MRN || booked.ClinicianName != doctorLee || booked.Start.Local().Format("15:04") != "17:30" ||
		booked.Status != app.StatusBooked || booked.Reason != "Blood sugar review" {
		t.Errorf("booked %+v", booked)
	}
	if !strings.Contains(td.status.Text, "Booked Núñez, José with Dr Lee Park") {
		t.Errorf("booking reported as %q", td.status.Text)
	}

	// Booking him again at the same time shows the overlap before
	// saving; the first Enter saves nothing.
	tap(t, g, "Book…")
	b = td.booking
	typeIn(g, b.picker.search, "nunez jose")
	settle(t, g)
	for range slices.IndexFunc(b.picker.results, func(x app.Patient) bool { return x.MRN == p.jose.MRN }) {
		b.picker.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	}
	pressEnter(t, g, b.picker.search)
	b.clinician.SetSelected(doctorOmar)
	b.at.SetText("17:30")
	settle(t, g)
	if !b.check.label.Visible() || !strings.Contains(b.check.label.Text, "already has an appointment with Dr Lee Park at 17:30") {
		t.Errorf("the overlap is not shown while booking: %q", b.check.label.Text)
	}
	shot(t, g, "today-book-overlap")
	n := len(td.appts)
	pressEnter(t, g, b.reason)
	if len(g.dialogs) != 1 || b.f.ok.Text != "Book anyway" {
		t.Fatalf("an overlapping booking was saved without asking (%d dialogs, %q)", len(g.dialogs), b.f.ok.Text)
	}
	if day, _ := s.Day(ctx, p.clk.Now()); len(day) != n {
		t.Fatal("the first Enter saved the overlapping booking")
	}
	pressWindowKey(t, g, fyne.KeyEscape)
	if len(g.dialogs) != 0 {
		t.Fatal("Esc did not close the Book dialog")
	}
	td.grid.show(booked.ID)
	settle(t, g)

	// Check him in, and undo it.
	tap(t, g, "Check in")
	if a := appointment(t, s, p.clk.Now(), booked.ID); a.Status != app.StatusArrived {
		t.Errorf("status %q after Check in", a.Status)
	}
	if !button(t, g, "Check in").Disabled() {
		t.Error("Check in stays enabled for a checked-in patient")
	}
	tap(t, g, "Undo check-in")
	if a := appointment(t, s, p.clk.Now(), booked.ID); a.Status != app.StatusBooked {
		t.Errorf("status %q after Undo check-in", a.Status)
	}
	tap(t, g, "Check in")

	// Moving to Dr Haddad onto one of his appointments: the overlap is
	// shown before saving, the second Enter moves.
	var other app.Appointment
	for _, a := range want {
		if a.ClinicianName == doctorOmar && a.Status == app.StatusBooked {
			other = a
			break
		}
	}
	tap(t, g, "Move…")
	when := g.win.Canvas().Focused().(*kit.Entry)
	td.moveClinician.SetSelected(doctorOmar)
	when.SetText("")
	typeIn(g, when, other.Start.Local().Format("15:04"))
	settle(t, g)
	if !showsText(g, "Double-booking: overlaps") {
		t.Error("the Move dialog does not show the overlap before saving")
	}
	pressEnter(t, g, when)
	if len(g.dialogs) != 1 || !button(t, g, "Move anyway").Visible() {
		t.Fatal("the move onto a taken slot was saved without asking")
	}
	if a := appointment(t, s, p.clk.Now(), booked.ID); a.ClinicianName != doctorLee {
		t.Fatal("the first Enter moved the appointment")
	}
	pressEnter(t, g, when)
	if len(g.dialogs) != 0 {
		t.Fatal("the Move dialog stays open")
	}
	if moved := appointment(t, s, p.clk.Now(), booked.ID); !moved.Start.Equal(other.Start) || moved.ClinicianName != doctorOmar {
		t.Errorf("moved to %s with %s, want %s with %s", moved.Start, moved.ClinicianName, other.Start, doctorOmar)
	}
	if td.status.Importance != widget.WarningImportance || !strings.Contains(td.status.Text, "Double-booked: overlaps") {
		t.Errorf("the overlap is not reported: %q", td.status.Text)
	}
	shot(t, g, "today-checked-in")

	// Cancel asks why: Esc keeps the appointment, no reason is refused,
	// a reason cancels it and shows under the grid.
	tap(t, g, "Cancel…")
	if !showsText(g, "It stays in the day book as cancelled") {
		t.Fatal("Cancel does not ask")
	}
	pressWindowKey(t, g, fyne.KeyEscape)
	if a := appointment(t, s, p.clk.Now(), booked.ID); a.Status != app.StatusArrived || len(g.dialogs) != 0 {
		t.Fatalf("Esc on the question: status %q, %d dialogs", a.Status, len(g.dialogs))
	}
	tap(t, g, "Cancel…")
	reason := g.win.Canvas().Focused().(*kit.Entry)
	pressEnter(t, g, reason)
	if len(g.dialogs) != 1 || !showsText(g, "Choose or type why") {
		t.Fatal("a cancellation without a reason was not refused")
	}
	typeIn(g, reason, "Patient called, feels better")
	shot(t, g, "today-cancel")
	pressEnter(t, g, reason)
	if a := appointment(t, s, p.clk.Now(), booked.ID); a.Status != app.StatusCancelled || a.CancelReason != "Patient called, feels better" {
		t.Errorf("after cancelling: %q %q", a.Status, a.CancelReason)
	}
	if !showsText(g, "Núñez, José with Dr Omar Haddad: cancelled (Patient called, feels better)") {
		t.Error("the cancellation is not shown under the grid")
	}
	g.app.Settings().SetTheme(kit.ThemeIn(theme.VariantDark))
	shot(t, g, "dark-today")
	g.app.Settings().SetTheme(kit.ThemeIn(theme.VariantLight))

	// A tap on a free slot books it with that clinician at that time.
	td.grid.Tapped(&fyne.PointEvent{Position: fyne.NewPos(gridTimeWidth+td.grid.columnWidth(td.grid.Size().Width)*1.5, slotHeight/2)})
	settle(t, g)
	if td.booking == nil || len(g.dialogs) != 1 || td.booking.clinician.Selected != doctorOmar || td.booking.at.Text != "08:00" {
		t.Fatal("a tap on Dr Haddad's 08:00 did not open Book on it")
	}
	pressWindowKey(t, g, fyne.KeyEscape)

	// The previous day; a date typed in "Go to a day"; Today comes back.
	test.Tap(td.prev)
	settle(t, g)
	if !showsText(g, "Yesterday, Sunday 1 March 2026") {
		t.Error("the previous-day button did not go back a day")
	}
	test.Tap(td.goDate)
	settle(t, g)
	d := g.win.Canvas().Focused().(*kit.Entry)
	d.SetText("")
	typeIn(g, d, "2026-03-09")
	pressEnter(t, g, d)
	if !showsText(g, "Monday 9 March 2026") || len(g.dialogs) != 0 {
		t.Error("Go to a day did not show 9 March")
	}
	tap(t, g, "Today")
	if len(td.appts) != len(want)+1 {
		t.Errorf("Today shows %d appointments after booking one", len(td.appts))
	}

	// Enter on an appointment opens the patient's chart, and back.
	if !td.grid.show(remote.ID) {
		t.Fatal("the remote booking is not in the grid")
	}
	g.win.Canvas().Focus(td.grid)
	key(fyne.KeyReturn)
	if sh.current != "Chart" || sh.chart == nil || sh.chart.mrn != p.jose.MRN {
		t.Fatalf("Enter on the appointment did not open José's chart (%q)", sh.current)
	}
	sh.chart.selectTab(tabAppointments)
	if !showsText(g, "Booked on another machine  (15 min)") {
		t.Error("the chart does not list the appointment")
	}
	shot(t, g, "chart-appointments")
	tap(t, g, "Back to Today")
	if sh.current != "Today" {
		t.Errorf("Back went to %q", sh.current)
	}

	// The list view is there for those who prefer it; Up and Down skip
	// the clinicians' headings.
	tap(t, g, "List")
	if g.win.Canvas().Focused() != td.list {
		t.Error("the list does not take the focus")
	}
	td.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	if _, ok := td.selected(); !ok {
		t.Error("Down did not select the first appointment")
	}
	shot(t, g, "today-list")
	tap(t, g, "Grid")
	if g.win.Canvas().Focused() != td.grid {
		t.Error("back to the grid, it does not take the focus")
	}
}

func TestPatientSearchAsYouType(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	typeShortcut(t, g, findShortcut)
	sh := g.shell
	if sh.current != "Patients" || g.win.Canvas().Focused() != sh.patients.search {
		t.Fatalf("Ctrl+F: screen %q, focus %v", sh.current, g.win.Canvas().Focused())
	}
	ps := sh.patients
	shot(t, g, "patients-empty")

	// A search overtaken by a newer one is dropped.
	ps.query("zzzz")
	typeIn(g, ps.search, "nunez")
	settle(t, g)
	if ps.shown != "nunez" {
		t.Fatalf("the results shown are for %q", ps.shown)
	}
	found := -1
	for i, pt := range ps.results {
		if pt.MRN == p.jose.MRN {
			found = i
		}
		if !strings.Contains(pt.Family, "Núñez") {
			t.Errorf("%s matched “nunez”", pt.Name())
		}
	}
	if found < 0 {
		t.Fatalf("typing “nunez” did not find José Núñez among %d results", len(ps.results))
	}
	if len(ps.results) > patientsLimit {
		t.Errorf("%d results fetched, more than one page", len(ps.results))
	}
	if !showsText(g, "patients for “nunez”") {
		t.Errorf("the count is not said: %q", ps.count.Text)
	}
	shot(t, g, "patients-search")
	var mrns []string
	for _, pt := range ps.results {
		mrns = append(mrns, pt.MRN)
	}
	golden(t, g, "patients-search", mrns...)

	// Down moves through the results from the search field; Enter opens.
	ps.list.Select(0)
	for range found {
		ps.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	}
	if ps.list.selected != found {
		t.Fatalf("Down selected row %d, want %d", ps.list.selected, found)
	}
	pressEnter(t, g, ps.search)
	if sh.current != "Chart" || sh.chart.mrn != p.jose.MRN || !sh.chart.loaded {
		t.Fatalf("Enter did not open José's chart: %q", sh.current)
	}

	// Back keeps the search.
	tap(t, g, "Back to Patients")
	settle(t, g)
	if sh.current != "Patients" || ps.search.Text != "nunez" || len(ps.results) == 0 {
		t.Errorf("back on %q with %q and %d results", sh.current, ps.search.Text, len(ps.results))
	}

	// A double click on a row opens it too.
	var row *tapRow
	kittest.Walk(ps.list, func(o fyne.CanvasObject) bool {
		if r, ok := o.(*tapRow); ok && r.id == found {
			row = r
			return true
		}
		return false
	})
	if row == nil {
		t.Fatal("José's row is not drawn")
	}
	test.DoubleTap(row)
	settle(t, g)
	if sh.current != "Chart" || sh.chart.mrn != p.jose.MRN {
		t.Fatal("a double click did not open José's chart")
	}
	sh.back()
	settle(t, g)

	// Nothing found says so.
	ps.search.SetText("")
	typeIn(g, ps.search, "qwxz")
	settle(t, g)
	if len(ps.results) != 0 || !strings.Contains(ps.count.Text, "No patient matches") {
		t.Errorf("no match shown as %q", ps.count.Text)
	}
	// Esc in the field clears it.
	ps.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if ps.search.Text != "" {
		t.Error("Esc did not clear the search")
	}
	// Ctrl+L in the search field still locks.
	s := g.session
	ps.search.TypedShortcut(lockShortcut)
	settle(t, g)
	if !s.Locked() || g.screen != "signin" {
		t.Error("Ctrl+L in the search field did not lock")
	}
}

func TestReceptionistChartHasNoClinicalTabs(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	g.shell.openNamed("Patients")
	g.shell.openChart(p.jose.MRN)
	settle(t, g)
	c := g.shell.chart
	if !c.loaded || c.clinical() {
		t.Fatal("the receptionist's chart did not open, or opened the clinical record")
	}
	if got := c.tabNames(); !slices.Equal(got, []string{tabSummary, tabDemographics, tabAppointments}) {
		t.Errorf("receptionist's tabs %v", got)
	}
	if !showsText(g, "Clinical records are visible to clinicians only.") {
		t.Error("the receptionist is not told why there is no clinical record")
	}
	if showsText(g, "Penicillin") || showsText(g, "ALLERGIES") {
		t.Error("the receptionist sees the allergies")
	}
	if !showsText(g, "Núñez, José") || !showsText(g, "MRN "+p.jose.MRN) || !showsText(g, "12 Jul 1984 (41 years)") {
		t.Error("the header does not show the name, MRN and date of birth with age")
	}
	for _, b := range []string{"Restrict chart…", "Lift restriction…"} {
		if kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool { bt, ok := o.(*widget.Button); return ok && bt.Text == b }) {
			t.Errorf("the receptionist is offered %q", b)
		}
	}
	shot(t, g, "chart-receptionist")

	// The receptionist edits the phone; the history shows who did it.
	c.selectTab(tabDemographics)
	tap(t, g, "Edit…")
	shot(t, g, "chart-edit")
	phone := findEntryWithText(t, g, p.jose.Phone)
	phone.SetText("")
	typeIn(g, phone, "+34 600 999 000")
	pressEnter(t, g, phone)
	settle(t, g)
	got, err := g.session.SearchPatients(context.Background(), p.jose.MRN, 1)
	if err != nil || len(got) != 1 || got[0].Phone != "+34 600 999 000" {
		t.Fatalf("the phone was not saved: %+v %v", got, err)
	}
	if !showsText(g, "Saved: mobile.") {
		t.Error("the edit is not reported")
	}
	// The contact fields added for the front desk are edited here too.
	tap(t, g, "Edit…")
	e := g.shell.chart.editing
	e.postcode.SetText("sw1a  1aa")
	e.national.SetText("943 476 5919")
	e.sms.SetChecked(true)
	e.language.SetText("Spanish")
	shotSizes(t, g, "chart-edit-contact")
	pressEnter(t, g, e.postcode)
	settle(t, g)
	got, _ = g.session.SearchPatients(context.Background(), p.jose.MRN, 1)
	if len(got) != 1 || got[0].Postcode != "SW1A 1AA" || got[0].NationalNumber != "943 476 5919" || !got[0].SMSConsent || got[0].Language != "Spanish" {
		t.Fatalf("the contact fields were not saved from the chart: %+v", got)
	}
	if !showsText(g, "Saved: preferred language, national number, SMS reminders, postcode.") || !showsText(g, "SW1A 1AA") {
		t.Error("the contact fields' edit is not reported or shown")
	}
	if !showsText(g, "Speaks Spanish") {
		t.Error("the chart's header does not say the language to book an interpreter for")
	}
	tap(t, g, "History…")
	if len(g.dialogs) != 1 || !showsText(g, "Every change to Núñez, José's record") {
		t.Fatal("no history dialog")
	}
	shot(t, g, "chart-history")
	tap(t, g, "Close")
	c = g.shell.chart
	c.selectTab(tabAppointments)
	shot(t, g, "chart-receptionist-appointments")
}

// findEntryWithText finds the entry holding text in the topmost layer.
func findEntryWithText(t *testing.T, g *gui, text string) *kit.Entry {
	t.Helper()
	var found *kit.Entry
	kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool {
		if e, ok := o.(*kit.Entry); ok && e.Text == text {
			found = e
			return true
		}
		return false
	})
	if found == nil {
		t.Fatalf("no field holds %q", text)
	}
	return found
}

func TestNewPatientForm(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	typeShortcut(t, g, newPatientShortcut)
	ps := g.shell.patients
	n := ps.adding
	if n == nil || len(g.dialogs) != 1 {
		t.Fatal("Ctrl+N did not open the New patient form")
	}
	c := g.win.Canvas()
	if c.Focused() != n.given {
		t.Fatal("the given name does not have focus")
	}
	// Without a mouse: type, Tab to the next field.
	for _, f := range []struct {
		e    *kit.Entry
		text string
	}{{n.given, "Amara"}, {n.family, "Okafor"}, {n.preferred, ""}, {n.dob, "31/02/1990"}} {
		if c.Focused() != f.e {
			t.Fatalf("Tab order: %v has focus, want the field for %q", c.Focused(), f.text)
		}
		for _, r := range f.text {
			f.e.TypedRune(r)
		}
		c.FocusNext()
	}
	if c.Focused() != n.sex {
		t.Error("Tab after the date of birth does not reach Sex")
	}
	n.sex.SetSelected("Female")
	typeIn(g, n.phone, "+44 20 7946 0001")
	pressEnter(t, g, n.phone)
	if len(g.dialogs) != 1 || !strings.Contains(n.f.status.Text, "The date of birth “31/02/1990” is not a date") {
		t.Fatalf("an impossible date was not refused in the form: %q", n.f.status.Text)
	}
	if n.given.Text != "Amara" || n.family.Text != "Okafor" || n.phone.Text != "+44 20 7946 0001" || n.sex.Selected != "Female" {
		t.Error("the form lost what was typed")
	}
	if c.Focused() != n.dob {
		t.Error("the date of birth does not get focus to fix it")
	}
	shot(t, g, "patient-new-error")
	golden(t, g, "patient-new-error")

	// A date in the future is app's refusal, said in plain words.
	n.dob.SetText("")
	typeIn(g, n.dob, "2031-05-17")
	pressEnter(t, g, n.dob)
	if got := n.f.status.Text; got != "The patient was not registered. Date of birth 2031-05-17 is in the future." {
		t.Errorf("future date of birth refused as %q", got)
	}

	// The practice's numeric order is accepted (LANG en_US: month first).
	n.dob.SetText("")
	typeIn(g, n.dob, "5/17/1990")
	pressEnter(t, g, n.dob)
	if n.created == nil {
		t.Fatalf("not registered: %q", n.f.status.Text)
	}
	if n.created.DOB != "1990-05-17" {
		t.Errorf("date of birth saved as %q", n.created.DOB)
	}
	if len(g.dialogs) != 0 || g.shell.current != "Chart" || g.shell.chart.mrn != n.created.MRN {
		t.Fatal("the new patient's chart did not open")
	}
	if !showsText(g, "Okafor, Amara was registered with MRN "+n.created.MRN) {
		t.Error("the registration is not reported")
	}

	// The same person again: the duplicate warning.
	typeShortcut(t, g, newPatientShortcut)
	n = ps.adding
	typeIn(g, n.given, "Jose")
	typeIn(g, n.family, "Nunez")
	typeIn(g, n.dob, "1984-07-12")
	pressEnter(t, g, n.dob)
	if n.dups == nil || !showsText(g, "This patient may already be registered") {
		t.Fatalf("no duplicate warning: %q", n.f.status.Text)
	}
	shot(t, g, "patient-duplicate")
	tap(t, g, "Open existing")
	if len(g.dialogs) != 0 || g.shell.chart.mrn != p.jose.MRN {
		t.Fatal("Open existing did not open José's chart")
	}

	// ...and Create anyway.
	typeShortcut(t, g, newPatientShortcut)
	n = ps.adding
	typeIn(g, n.given, "José")
	typeIn(g, n.family, "Núñez")
	typeIn(g, n.dob, "1984-07-12")
	pressEnter(t, g, n.dob)
	tap(t, g, "Create anyway")
	if n.created == nil {
		t.Fatalf("Create anyway did not register: %q", n.f.status.Text)
	}
	dups, _ := g.session.FindDuplicates(context.Background(), *n.created)
	if len(dups) != 1 || dups[0].Patient.MRN != p.jose.MRN {
		t.Errorf("duplicates after Create anyway: %+v", dups)
	}
}

func TestClinicianWritesTheChart(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	sh := g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	c := sh.chart
	if !c.clinical() {
		t.Fatal("the clinician's chart is not clinical")
	}
	want := []string{tabSummary, tabDemographics, tabAppointments, tabEncounters, tabProblems, tabAllergies, tabMedications, tabVitals, tabDocuments}
	if got := c.tabNames(); !slices.Equal(got, want) {
		t.Errorf("clinician's tabs %v", got)
	}
	if !showsText(g, "ALLERGIES: Penicillin (severe: anaphylaxis)") {
		t.Error("the allergy banner is not shown")
	}
	// The chart opens on the Summary, the note beside it.
	if c.tabs.Selected().Text != tabSummary {
		t.Errorf("the chart opened on %q", c.tabs.Selected().Text)
	}
	for _, want := range []string{"Next appointment", "Penicillin (Severe: anaphylaxis)", "Type 2 diabetes mellitus (E11.9), since", "Metformin 500 mg oral twice daily", "Last vitals", "weight 83.9 kg"} {
		if !showsText(g, want) {
			t.Errorf("the summary lacks %q", want)
		}
	}
	shotSizes(t, g, "chart-summary")
	golden(t, g, "chart-summary", p.jose.MRN)
	ctx := context.Background()
	s := g.session

	// A new note, written beside the summary; Tab moves between its
	// sections; Ctrl+Enter saves it as a draft.
	f := c.summary.note
	g.win.Canvas().Focus(f.fields[0])
	typeIn(g, f.fields[0], "Thirsty at night for two weeks.\nNo weight loss.")
	g.win.Canvas().FocusNext()
	if g.win.Canvas().Focused() != f.fields[1] {
		t.Error("Tab does not move to the next section")
	}
	typeIn(g, f.fields[1], "BP 128/84. Feet: normal sensation.")
	typeIn(g, f.fields[2], "Type 2 diabetes, control slipping.")
	typeIn(g, f.fields[3], "HbA1c today; review in 2 weeks.")
	shotSizes(t, g, "chart-summary-note")
	f.fields[3].TypedShortcut(kit.SubmitShortcut) // Ctrl+Enter saves
	settle(t, g)
	c = sh.chart
	if len(g.dialogs) != 0 || len(c.chart.Encounters) != 1 || c.chart.Encounters[0].Signed() {
		t.Fatalf("the draft was not saved: %d encounters", len(c.chart.Encounters))
	}
	if c.tabs.Selected().Text != tabSummary {
		t.Errorf("after saving, the tab is %q", c.tabs.Selected().Text)
	}
	// The draft stays beside the summary, to go on with.
	f = c.summary.note
	if f.draft == nil || f.fields[3].Text != "HbA1c today; review in 2 weeks." {
		t.Fatalf("the draft is not back in the note: %q", f.fields[3].Text)
	}
	f.fields[3].SetText("HbA1c today; review in 2 weeks with the result.")
	f.fields[3].TypedShortcut(kit.SubmitShortcut)
	settle(t, g)
	c = sh.chart
	if got := c.chart.Encounters[0].Plan; got != "HbA1c today; review in 2 weeks with the result." {
		t.Errorf("edited plan %q", got)
	}
	tap(t, g, "Sign off…")
	if !showsText(g, "After sign-off the note cannot be changed") {
		t.Error("sign-off does not say what it means")
	}
	pressWindowKey(t, g, fyne.KeyReturn) // Enter confirms
	c = sh.chart
	if c.summary.note.draft != nil || c.summary.note.fields[0].Text != "" {
		t.Error("after sign-off the note beside the summary is not a new one")
	}
	c.selectTab(tabEncounters)
	tap(t, g, "Add addendum…")
	typeIn(g, c.enc.addendum, "HbA1c 58 mmol/mol.")
	tap(t, g, "Add addendum")
	chart, err := s.OpenChart(ctx, p.jose.MRN)
	if err != nil {
		t.Fatal(err)
	}
	if len(chart.Encounters) != 1 {
		t.Fatalf("%d encounters", len(chart.Encounters))
	}
	e := chart.Encounters[0]
	if !e.Signed() || e.SignedBy != doctorLee || e.Plan != "HbA1c today; review in 2 weeks with the result." || len(e.Addenda) != 1 || e.Addenda[0].Text != "HbA1c 58 mmol/mol." {
		t.Errorf("encounter %+v", e)
	}
	if !showsText(g, "Signed by Dr Lee Park on 2 Mar 2026") || !showsText(g, "Addendum by Dr Lee Park") {
		t.Error("the sign-off or the addendum is not shown")
	}
	shot(t, g, "chart-encounters")

	// A problem with a mistyped code is refused in the form, then added.
	c = sh.chart
	c.selectTab(tabProblems)
	tap(t, g, "Add problem…")
	desc := g.win.Canvas().Focused().(*kit.Entry)
	typeIn(g, desc, "Hypertension")
	g.win.Canvas().FocusNext()
	icd := g.win.Canvas().Focused().(*kit.Entry)
	typeIn(g, icd, "110")
	pressEnter(t, g, icd)
	if len(g.dialogs) != 1 || !showsText(g, "ICD-10 code \"110\" is not of the form A00 or A00.0") {
		t.Fatalf("a mistyped ICD-10 code was not refused in the form: %d dialogs, %q %q", len(g.dialogs), desc.Text, icd.Text)
	}
	icd.SetText("I10")
	pressEnter(t, g, icd)
	c = sh.chart
	if len(c.chart.Problems) != 2 || !showsText(g, "Added to the problem list: Hypertension.") {
		t.Errorf("problems %+v", c.chart.Problems)
	}

	// An allergy goes into the red banner.
	c = sh.chart
	c.selectTab(tabAllergies)
	tap(t, g, "Add allergy…")
	typeIn(g, g.win.Canvas().Focused().(*kit.Entry), "Latex")
	findSelect(t, g).SetSelected("Mild")
	tap(t, g, "Add allergy")
	if !showsText(g, "ALLERGIES: Penicillin (severe: anaphylaxis)   ·   Latex (mild)") {
		t.Error("the new allergy is not in the banner")
	}

	// Vitals, with the trend.
	c = sh.chart
	c.selectTab(tabVitals)
	tap(t, g, "Add vitals…")
	vf := c.vit.form
	typeIn(g, vf.bp, "128/84")
	typeIn(g, vf.pulse, "72")
	typeIn(g, vf.temp, "98.4 °F")
	typeIn(g, vf.weight, "82.5")
	typeIn(g, vf.height, "178")
	typeIn(g, vf.spo2, "98")
	pressEnter(t, g, vf.spo2)
	if len(g.dialogs) != 0 {
		t.Fatalf("the vitals were not saved: %q", vf.f.status.Text)
	}
	chart, _ = s.OpenChart(ctx, p.jose.MRN)
	last := chart.Vitals[len(chart.Vitals)-1]
	if len(chart.Vitals) != 6 || *last.Systolic != 128 || *last.Diastolic != 84 || *last.TempC != 36.9 /* 98.4 °F */ || *last.WeightKg != 82.5 || *last.SpO2 != 98 {
		t.Errorf("vitals %d, last %+v", len(chart.Vitals), last)
	}
	c = sh.chart
	if len(c.vit.bp.series[0].points) != 6 || len(c.vit.wt.series[0].points) != 6 {
		t.Error("the trend does not include the new measurement")
	}
	if !showsText(g, "26.0") { // 82.5 kg at 178 cm
		t.Error("the BMI is not shown")
	}
	shot(t, g, "chart-vitals")
	g.app.Settings().SetTheme(kit.ThemeIn(theme.VariantDark))
	shot(t, g, "dark-chart-vitals")
	g.app.Settings().SetTheme(kit.ThemeIn(theme.VariantLight))

	// A bad blood pressure is refused in the form.
	tap(t, g, "Add vitals…")
	vf = c.vit.form
	typeIn(g, vf.bp, "120")
	pressEnter(t, g, vf.bp)
	if len(g.dialogs) != 1 || !strings.Contains(vf.f.status.Text, "systolic/diastolic") {
		t.Errorf("“120” accepted as a blood pressure: %q", vf.f.status.Text)
	}
	vf.bp.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if len(g.dialogs) != 0 {
		t.Fatal("Esc did not close the form")
	}

	// Ctrl+Page Down moves to the next tab.
	typeShortcut(t, g, nextTabShortcut)
	if c.tabs.Selected().Text != tabDocuments {
		t.Errorf("Ctrl+Page Down went to %q", c.tabs.Selected().Text)
	}

	// A document in, and a copy out.
	dir := t.TempDir()
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("letter "), 4000)...)
	in := filepath.Join(dir, "Discharge letter.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := storage.Reader(storage.NewFileURI(in))
	if err != nil {
		t.Fatal(err)
	}
	c.docs.addFrom(r)
	if c.docs.title == nil || c.docs.title.Text != "Discharge letter" {
		t.Fatal("the title is not offered from the file name")
	}
	typeIn(g, c.docs.title, ", St Mary's")
	pressEnter(t, g, c.docs.title)
	c = sh.chart
	if len(c.chart.Documents) != 1 || c.chart.Documents[0].Title != "Discharge letter, St Mary's" || c.chart.Documents[0].MIME != "application/pdf" {
		t.Fatalf("documents %+v", c.chart.Documents)
	}
	if c.tabs.Selected().Text != tabDocuments {
		t.Errorf("after adding, the tab is %q", c.tabs.Selected().Text)
	}
	c.docs.list.Select(0)
	shot(t, g, "chart-documents")
	tap(t, g, "Save a copy…")
	if len(g.dialogs) != 1 {
		t.Fatal("no save dialog")
	}
	g.escape()
	out := filepath.Join(dir, "copy.pdf")
	w, err := storage.Writer(storage.NewFileURI(out))
	if err != nil {
		t.Fatal(err)
	}
	c.docs.saveTo(c.chart.Documents[0], w)
	settle(t, g)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, pdf) {
		t.Error("the saved copy differs from the document")
	}
	if !showsText(g, "It is not encrypted there") {
		t.Error("saving a copy does not warn that it leaves the vault")
	}
}

func TestRestrictedChartEmergencyAccess(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	ctx := context.Background()

	// Dr Park restricts José's chart to himself.
	p.signIn(t, g, doctorLee)
	g.shell.openChart(p.jose.MRN)
	settle(t, g)
	tap(t, g, "Restrict chart…")
	if !showsText(g, "Only you and the clinicians ticked here") {
		t.Fatal("no restriction dialog")
	}
	shot(t, g, "chart-restrict")
	tap(t, g, "Restrict chart")
	if names, _ := g.session.ChartRestriction(ctx, p.jose.MRN); !slices.Equal(names, []string{doctorLee}) {
		t.Fatalf("restricted to %v", names)
	}
	if !showsText(g, "Restricted chart: only Dr Lee Park") {
		t.Error("the restriction is not shown on the chart")
	}
	tap(t, g, "Lock")

	// Dr Haddad is not on it.
	p.signIn(t, g, doctorOmar)
	g.shell.openNamed("Patients")
	g.shell.openChart(p.jose.MRN)
	settle(t, g)
	c := g.shell.chart
	if c.loaded || c.restricted == nil || len(g.dialogs) != 1 {
		t.Fatal("a restricted chart opened, or no dialog explained it")
	}
	if !showsText(g, "An admin reviews every emergency access") {
		t.Error("the dialog does not say the access is reviewed")
	}
	shot(t, g, "chart-restricted")
	tap(t, g, "Emergency access…")
	e := c.emergencyForm
	if e == nil || g.win.Canvas().Focused() != e.reason {
		t.Fatal("no reason field with focus")
	}
	typeIn(g, e.reason, "fainted")
	if !e.f.ok.Disabled() || !showsText(g, "3 more characters needed") {
		t.Error("a 7-character reason is accepted")
	}
	pressEnter(t, g, e.reason)
	if len(g.dialogs) != 1 || c.loaded {
		t.Fatal("Enter with a short reason opened the chart")
	}
	reason := "fainted in the waiting room; Dr Park is away"
	e.reason.SetText("")
	typeIn(g, e.reason, reason)
	shot(t, g, "chart-emergency-reason")
	pressEnter(t, g, e.reason)
	if !c.loaded || !c.clinical() || !c.emergency {
		t.Fatal("emergency access did not open the chart")
	}
	if !showsText(g, "Opened with emergency access") {
		t.Error("the chart does not say it was opened with emergency access")
	}
	shot(t, g, "chart-emergency-open")

	admin := p.session(t, "Dana Whitfield")
	defer admin.Lock(ctx)
	pending, err := admin.EmergencyAccesses(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].User != doctorOmar || pending[0].PatientMRN != p.jose.MRN || pending[0].Reason != reason {
		t.Errorf("emergency accesses %+v", pending)
	}
}

func TestMergeAndArchive(t *testing.T) {
	p := newPractice(t)
	ctx := context.Background()
	admin := p.session(t, "Dana Whitfield")
	dup, _, err := admin.AddPatient(ctx, app.Patient{Given: "Jose", Family: "Nunez", DOB: "1984-07-12", Phone: "+34 600 123 456"})
	if err != nil {
		t.Fatal(err)
	}
	admin.Lock(ctx)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	sh := g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	sh.chart.selectTab(tabDemographics)

	tap(t, g, "Merge duplicate…")
	var search *kit.Entry
	kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool {
		e, ok := o.(*kit.Entry)
		if ok {
			search = e
		}
		return ok
	})
	if g.win.Canvas().Focused() != search {
		t.Error("the merge search does not have focus")
	}
	typeIn(g, search, dup.MRN)
	settle(t, g)
	pressEnter(t, g, search)
	if !showsText(g, "Keep which record?") {
		t.Fatal("picking the duplicate did not ask which to keep")
	}
	shot(t, g, "chart-merge")
	tap(t, g, "Merge")
	if !showsText(g, "Merge "+dup.MRN+" into "+p.jose.MRN+"?") {
		t.Fatal("the merge is not confirmed")
	}
	tap(t, g, "Merge")
	if len(g.dialogs) != 0 || sh.chart.mrn != p.jose.MRN || !showsText(g, dup.MRN+" was merged into this record") {
		t.Fatalf("after the merge: %d dialogs, chart %s", len(g.dialogs), sh.chart.mrn)
	}
	if got, _ := g.session.SearchPatients(ctx, dup.MRN, 5); len(got) != 0 {
		t.Error("the merged duplicate is still found")
	}

	sh.chart.selectTab(tabDemographics)
	tap(t, g, "Archive…")
	tap(t, g, "Archive")
	if !showsText(g, "This record is archived") || !button(t, g, "Edit…").Disabled() {
		t.Error("the archived record is not shown as archived")
	}
	if got, _ := g.session.SearchPatients(ctx, "nunez jose 1984-07-12", 5); len(got) != 0 {
		t.Errorf("archived José is still found: %v", got)
	}
	shot(t, g, "chart-archived")
}

// TestChartSaysWhenClinicalRecordsCannotOpen: a clinician whose grant no
// longer opens this computer's clinical.db (two changes of the clinical
// key made apart; here the file is replaced by one under another key)
// signs in all the same, and the chart says why there are no clinical
// records and what to do, instead of "visible to clinicians only".
func TestChartSaysWhenClinicalRecordsCannotOpen(t *testing.T) {
	p := newPractice(t)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(p.v.Dir, store.Clinical.FileName()+suffix))
	}
	other, err := store.Open(context.Background(), filepath.Join(p.v.Dir, store.Clinical.FileName()), store.Clinical, store.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	if !g.session.ClinicalUnavailable() {
		t.Fatal("the clinician's session does not say its clinical records are unavailable")
	}
	g.shell.openNamed("Patients")
	g.shell.openChart(p.jose.MRN)
	settle(t, g)
	if !showsText(g, "Your clinical records cannot be opened on this computer") {
		t.Fatal("the chart does not say why the clinical records are missing")
	}
	shot(t, g, "chart-clinical-unavailable")
}

// TestUnsavedNoteOutlivesTheIdleLock: Dr Lee is writing a note when
// ClinicVault locks itself. The sign-in screen shows none of it; when she
// signs in again and opens that patient's chart, what she had
// typed is there (kept in memory only), and it goes once saved.
func TestUnsavedNoteOutlivesTheIdleLock(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	sh := g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	f := sh.chart.summary.note
	typeIn(g, f.fields[0], "Chest pain since this morning, radiating")
	typeIn(g, f.fields[2], "Rule out ACS")
	g.session.LockIfIdle(context.Background()) // not idle yet: nothing happens
	p.clk.Add(6 * time.Minute)
	if !g.session.LockIfIdle(context.Background()) {
		t.Fatal("the session did not lock")
	}
	settle(t, g)
	if g.screen != "signin" || showsText(g, "Chest pain") || showsText(g, p.jose.Family) {
		t.Fatalf("after the lock the screen is %q and shows the note or the patient", g.screen)
	}
	p.signIn(t, g, doctorLee)
	sh = g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	f = sh.chart.summary.note
	if f.fields[0].Text != "Chest pain since this morning, radiating" || f.fields[2].Text != "Rule out ACS" {
		t.Fatalf("the note typed before the lock is gone: %q / %q", f.fields[0].Text, f.fields[2].Text)
	}
	if !showsText(g, "before ClinicVault locked is back") {
		t.Error("the note does not say the text came back")
	}
	shot(t, g, "chart-encounter-restored-after-lock")
	f.fields[3].TypedShortcut(kit.SubmitShortcut)
	settle(t, g)
	if len(sh.chart.chart.Encounters) != 1 {
		t.Fatal("the restored note was not saved")
	}
	g.session.Lock(context.Background())
	settle(t, g)
	p.signIn(t, g, doctorLee)
	g.shell.openChart(p.jose.MRN)
	settle(t, g)
	if showsText(g, "before ClinicVault locked is back") {
		t.Error("the restored text comes back again after it was saved")
	}
}

// TestPrescribingWarnsOfAnAllergy: José has a recorded severe penicillin
// allergy (anaphylaxis). Dr Lee adds Amoxicillin: nothing is saved, the
// dialog names the allergy and asks for a reason; with one, it is saved.
func TestPrescribingWarnsOfAnAllergy(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1366, Height: 768}, {Width: 1024, Height: 700}} {
		p := newPractice(t)
		g := newTestGUI(t, p.v)
		g.win.Resize(size)
		p.signIn(t, g, doctorLee)
		sh := g.shell
		sh.openNamed("Patients")
		sh.openChart(p.jose.MRN)
		settle(t, g)
		sh.chart.selectTab(tabMedications)
		tap(t, g, "Add medication…")
		name := focusedEntry(t, g)
		typeIn(g, name, "Amoxicillin 500 mg capsules")
		tap(t, g, "Add medication")
		if !showsText(g, "Allergy warning") || !showsText(g, "allergic to Penicillin (anaphylaxis, severe)") {
			t.Fatal("no allergy warning before saving")
		}
		shot(t, g, fmt.Sprintf("chart-medication-allergy-warning-%dx%d", int(size.Width), int(size.Height)))
		if c, _ := p.session(t, doctorOmar).OpenChart(context.Background(), p.jose.MRN); len(c.Medications) != 1 {
			t.Fatalf("the conflicting medication was saved: %d medications", len(c.Medications))
		}
		reason := focusedEntry(t, g)
		typeIn(g, reason, "allergy clinic cleared amoxicillin, letter in documents")
		tap(t, g, "Prescribe anyway")
		settle(t, g)
		if len(g.dialogs) != 0 || !showsText(g, "The allergy warning was overridden") {
			t.Fatal("the medication with a reason was not saved")
		}
	}
}

// focusedEntry is the entry that has the keyboard focus.
func focusedEntry(t *testing.T, g *gui) *kit.Entry {
	t.Helper()
	runPosted(t, g, func() bool { _, ok := g.win.Canvas().Focused().(*kit.Entry); return ok })
	return g.win.Canvas().Focused().(*kit.Entry)
}

// TestCorrectingAnAllergyFromTheChart: Dr Lee marks José's penicillin
// allergy as entered in error (it belonged to another patient), with the
// reason; it leaves the chart, and the record keeps it in its history.
func TestCorrectingAnAllergyFromTheChart(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, doctorLee)
	sh := g.shell
	sh.openNamed("Patients")
	sh.openChart(p.jose.MRN)
	settle(t, g)
	sh.chart.selectTab(tabAllergies)
	tap(t, g, "Correct…")
	var pick *widget.Select
	var what *widget.RadioGroup
	for _, r := range kittest.Roots(g.win) {
		kittest.Walk(r, func(o fyne.CanvasObject) bool {
			switch x := o.(type) {
			case *widget.Select:
				pick = x
			case *widget.RadioGroup:
				what = x
			}
			return false
		})
		if pick != nil {
			break
		}
	}
	if pick == nil || what == nil {
		t.Fatal("no correction dialog")
	}
	pick.SetSelectedIndex(0)
	what.SetSelected(what.Options[len(what.Options)-1])
	reason := focusedEntryOr(t, g)
	typeIn(g, reason, "recorded on the wrong patient")
	shot(t, g, "chart-correct-allergy")
	tap(t, g, "Save the correction")
	settle(t, g)
	if showsText(g, "ALLERGIES: Penicillin") || !showsText(g, "kept in the record's history") {
		t.Fatal("the allergy entered in error is still shown, or no confirmation")
	}
}

// focusedEntryOr is the entry in the topmost dialog (its only one).
func focusedEntryOr(t *testing.T, g *gui) *kit.Entry {
	t.Helper()
	var found *kit.Entry
	kittest.Walk(kittest.Roots(g.win)[0], func(o fyne.CanvasObject) bool {
		if e, ok := o.(*kit.Entry); ok {
			found = e
			return true
		}
		return false
	})
	if found == nil {
		t.Fatal("no entry in the dialog")
	}
	return found
}

// TestNoteFieldsPassTabOn: Tab moves from one section of a note to the
// next (the driver moves the focus when a field does not take Tab).
func TestNoteFieldsPassTabOn(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	if newMultiLineEntry(g, "", 4).AcceptsTab() {
		t.Fatal("a multi-line field types Tab instead of moving on")
	}
}
