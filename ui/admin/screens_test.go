package admin

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

func TestSecurityCenterListsEveryItemAndFixGoesThere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser("Rita Front", app.Receptionist, staffPass)
	f.clk.Add(8 * 24 * time.Hour) // training is overdue, and no backup folder
	w := newWindow(t)
	var went []string
	c := newSecurityCenter(w, f.admin, func(screen string) { went = append(went, screen) })
	show(w, f.admin, "Security Center", c.view)
	kittest.Settle(t)
	items, err := f.admin.SecurityReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.items) != len(items) || len(items) < 8 {
		t.Fatalf("the screen has %d items, the report %d", len(c.items), len(items))
	}
	for _, it := range items {
		if !kittest.ShowsText(w, it.Title) || !kittest.ShowsText(w, itemDetail(it)) {
			t.Errorf("item %q (%q) is not shown", it.Title, it.Detail)
		}
		b := c.fix[it.ID]
		if it.Fix == "" { // said for information (how the pages are encrypted): nothing to open
			if b != nil {
				t.Errorf("item %q has a button to nowhere", it.ID)
			}
			continue
		}
		if b == nil {
			t.Errorf("item %q has no button", it.ID)
			continue
		}
		want := "Open…"
		if it.Status == "attention" {
			want = "Fix…"
		}
		if b.Text != want {
			t.Errorf("item %q (%s): button %q, want %q", it.ID, it.Status, b.Text, want)
		}
		went = nil
		kittest.Tapped(t, b)
		if !slices.Equal(went, []string{it.Fix}) {
			t.Errorf("item %q: goTo(%v), want %q", it.ID, went, it.Fix)
		}
	}
	if !app.Attention(items) || c.summary.Tone() != kit.ToneDanger {
		t.Errorf("summary %q with attention %v", c.summary.Title(), app.Attention(items))
	}
	shot(t, w, "security-1-checklist")
	golden(t, w, "security-checklist")

	// The seat limit.
	if c.seatEntry.Text != "0" {
		t.Errorf("seat limit shown as %q", c.seatEntry.Text)
	}
	c.seatEntry.SetText("1")
	kittest.Tapped(t, c.seatSave)
	if n, _ := f.admin.SeatLimit(ctx); n != 0 || !strings.HasPrefix(c.seatStatus.Text, "The seat limit was not changed.") {
		t.Errorf("a limit below the accounts: limit %d, %q", n, c.seatStatus.Text)
	}
	c.seatEntry.SetText("many")
	kittest.Tapped(t, c.seatSave)
	if !strings.Contains(c.seatStatus.Text, "whole number") {
		t.Errorf("a word as the limit: %q", c.seatStatus.Text)
	}
	c.seatEntry.SetText("5")
	kittest.Tapped(t, c.seatSave)
	if n, _ := f.admin.SeatLimit(ctx); n != 5 {
		t.Fatalf("seat limit %d after saving 5 (%q)", n, c.seatStatus.Text)
	}
	if !kittest.ShowsText(w, "2 of 5 seats used") {
		t.Error("the checklist does not show the new limit")
	}
	scrollDown(w, c.view)
	shot(t, w, "security-2-seats")
}

func TestQuizWithTheRightAnswersPasses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser("Rita Front", app.Receptionist, staffPass)
	rita := f.signIn("Rita Front", staffPass)
	fake.save = t.TempDir()
	defer func() { fake.save = "" }()

	w := newWindow(t)
	tr := newTrainingScreen(w, rita)
	show(w, rita, "Training", tr.view)
	kittest.Settle(t)
	if tr.staff != nil {
		t.Error("a receptionist sees everyone's training")
	}
	if !tr.cert.Disabled() {
		t.Error("the certificate is enabled before any lesson is passed")
	}
	shot(t, w, "training-1-lessons")

	lessons, _ := app.Lessons()
	first := lessons[0]
	kittest.Tapped(t, tr.open[first.ID])
	lv := tr.lesson
	if lv == nil || !kittest.ShowsText(w, "Most break-ins") {
		t.Fatal("the lesson is not shown")
	}
	if !lv.submit.Disabled() {
		t.Error("Submit is enabled before any answer")
	}
	shot(t, w, "training-2-lesson")
	for i, q := range first.Question {
		lv.radios[i].SetSelected(q.Options[q.Answer])
	}
	if lv.submit.Disabled() {
		t.Fatal("Submit is disabled with every question answered")
	}
	kittest.Tapped(t, lv.submit)
	if lv.last == nil || !lv.last.Passed || lv.last.Score != 100 {
		t.Fatalf("result %+v", lv.last)
	}
	if !kittest.ShowsText(w, "Passed") || !kittest.ShowsText(w, "5 of 5 right (100 %)") {
		t.Error("the pass is not shown")
	}
	shot(t, w, "training-3-passed")
	ts, err := rita.TrainingStatus(ctx)
	if err != nil || len(ts) != 1 {
		t.Fatal(err)
	}
	if st, _ := standing(&ts[0], first.ID); st.Passed.IsZero() || st.BestLast != 100 {
		t.Errorf("TrainingStatus after the pass: %+v", st)
	}

	// A failed quiz says so and does not show the right answers.
	kittest.Tapped(t, kittest.Button(t, w, "Back to the lessons"))
	second := lessons[1]
	kittest.Tapped(t, tr.open[second.ID])
	lv = tr.lesson
	for i, q := range second.Question {
		lv.radios[i].SetSelected(q.Options[(q.Answer+1)%len(q.Options)])
	}
	kittest.Tapped(t, lv.submit)
	if lv.last == nil || lv.last.Passed || !kittest.ShowsText(w, "Not passed yet") {
		t.Fatalf("wrong answers: %+v", lv.last)
	}
	if !kittest.ShowsText(w, "Not right: question 1, 2") || !kittest.ShowsText(w, "can be tried again in 10 minutes") {
		t.Error("a failed quiz does not say which answers were wrong, or when to try again")
	}
	if !lv.again.Visible() {
		t.Error("no Try again after a fail")
	}
	shot(t, w, "training-4-failed")
	q := second.Question[0]
	lv.radios[0].SetSelected(q.Options[q.Answer])
	if lv.result.Visible() || lv.submit.Disabled() {
		t.Error("a changed answer does not start a new attempt")
	}
	kittest.Tapped(t, lv.again)
	if lv.radios[0].Selected != "" || lv.result.Visible() {
		t.Error("Try again keeps the answers")
	}
	kittest.Tapped(t, kittest.Button(t, w, "All lessons"))

	// Every lesson passed: the certificate (a failed try waits before the
	// next one).
	f.clk.Add(app.QuizRetryAfter)
	for _, l := range lessons[1:] {
		answers := make([]int, len(l.Question))
		for i, q := range l.Question {
			answers[i] = q.Answer
		}
		if r, err := rita.SubmitQuiz(ctx, l.ID, answers); err != nil || !r.Passed {
			t.Fatalf("%s: %+v %v", l.ID, r, err)
		}
	}
	tr.load()
	kittest.Settle(t)
	if tr.cert.Disabled() {
		t.Fatal("the certificate is disabled with every lesson passed")
	}
	shot(t, w, "training-5-complete")
	kittest.Tapped(t, tr.cert)
	pdf, err := os.ReadFile(fake.saved)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("certificate %s: %v", fake.saved, err)
	}
	if !strings.Contains(tr.status.Text, "Certificate saved") {
		t.Errorf("status %q", tr.status.Text)
	}
}

func TestAdminSeesEveryonesTraining(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser("Rita Front", app.Receptionist, staffPass)
	lessons, _ := app.Lessons()
	answers := func(l app.Lesson) []int {
		out := make([]int, len(l.Question))
		for i, q := range l.Question {
			out[i] = q.Answer
		}
		return out
	}
	for _, l := range lessons[:4] {
		f.admin.SubmitQuiz(ctx, l.ID, answers(l))
	}
	f.clk.Add(8 * 24 * time.Hour)
	f.addUser("Dr Omar Haddad", app.Clinician, doctorPass)
	w := newWindow(t)
	tr := newTrainingScreen(w, f.admin)
	show(w, f.admin, "Training", tr.view)
	kittest.Settle(t)
	if tr.staff == nil || !kittest.ShowsText(w, "Everyone's training") {
		t.Fatal("no staff table for an admin")
	}
	for _, name := range []string{adminName, "Rita Front", "Dr Omar Haddad"} {
		if !kittest.ShowsText(w, name) {
			t.Errorf("%s is not in the staff table", name)
		}
	}
	if !kittest.ShowsText(w, "Overdue") {
		t.Error("overdue lessons are not shown")
	}
	scrollDown(w, tr.overview)
	shot(t, w, "training-6-admin")
}

func TestEmergencyAccessIsMarkedReviewed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser("Dr Omar Haddad", app.Clinician, doctorPass)
	f.addUser("Dr Lena Vogel", app.Clinician, otherPass)
	omar := f.signIn("Dr Omar Haddad", doctorPass)
	p, _, err := omar.AddPatient(ctx, app.Patient{Given: "Jamie", Family: "Rowe", DOB: "1980-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if err := omar.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	lena := f.signIn("Dr Lena Vogel", otherPass)
	f.clk.Add(2 * time.Hour)
	if _, err := lena.OpenChartEmergency(ctx, p.MRN, "patient collapsed in the waiting room, Dr Haddad away"); err != nil {
		t.Fatal(err)
	}

	w := newWindow(t)
	e := newEmergencyScreen(w, f.admin)
	show(w, f.admin, "Emergency review", e.view)
	kittest.Settle(t)
	if len(e.items) != 1 || e.summary.Tone() != kit.ToneWarning {
		t.Fatalf("items %+v, summary %q", e.items, e.summary.Title())
	}
	if !e.review.Disabled() {
		t.Error("Mark reviewed is enabled with nothing selected")
	}
	e.list.Select(0)
	if !strings.Contains(e.detail.Text, "patient collapsed in the waiting room") {
		t.Errorf("detail %q", e.detail.Text)
	}
	shot(t, w, "emergency-1-pending")
	kittest.Tapped(t, e.review)
	if e.note == nil {
		t.Fatal("no note dialog")
	}
	// Typing the note is activity for the idle lock (5 minutes): four
	// minutes, typing, four more, and the session is still open.
	f.admin.Touch()
	f.clk.Add(4 * time.Minute)
	kittest.TypeIn(w, e.note, "Confirmed with Dr Haddad: the patient was seen in an emergency.")
	time.Sleep(50 * time.Millisecond) // the touch is made off the UI thread
	f.clk.Add(4 * time.Minute)
	if f.admin.LockIfIdle(ctx) {
		t.Fatal("typing a review note did not count as activity: the session locked")
	}
	shot(t, w, "emergency-2-note")
	kittest.Tapped(t, kittest.Button(t, w, "Mark reviewed"))
	pending, err := f.admin.EmergencyAccesses(ctx, true)
	if err != nil || len(pending) != 0 {
		t.Fatalf("still pending: %+v %v", pending, err)
	}
	all, _ := f.admin.EmergencyAccesses(ctx, false)
	if len(all) != 1 || all[0].ReviewedBy != adminName || !strings.HasPrefix(all[0].Note, "Confirmed with Dr Haddad") {
		t.Fatalf("reviewed access %+v", all)
	}
	if e.summary.Tone() != kit.ToneOK || !e.review.Disabled() {
		t.Errorf("after the review: summary %q", e.summary.Title())
	}
	if !strings.Contains(e.detail.Text, "Reviewed by "+adminName) {
		t.Errorf("detail after review %q", e.detail.Text)
	}
	shot(t, w, "emergency-3-reviewed")
}

func TestAccessReviewExportsAnAgeFile(t *testing.T) {
	f := newFixture(t)
	f.addUser("Rita Front", app.Receptionist, staffPass)
	f.addUser("Dr Omar Haddad", app.Clinician, doctorPass)
	f.signIn("Rita Front", staffPass)
	dir := t.TempDir()
	fake.save = dir
	defer func() { fake.save = "" }()

	w := newWindow(t)
	a := newAccessScreen(w, f.admin)
	show(w, f.admin, "Access review", a.view)
	kittest.Settle(t)
	if len(a.rows) != 3 || a.summary.Tone() != kit.ToneWarning {
		t.Fatalf("rows %d, summary %q", len(a.rows), a.summary.Title())
	}
	shot(t, w, "access-1-list")

	kittest.Tapped(t, a.export)
	x := a.exporting
	kittest.TypeIn(w, x.pass, "granite puffin saxophone delta")
	kittest.TypeIn(w, x.again, "granite puffin saxophone")
	shot(t, w, "access-2-export")
	kittest.Tapped(t, x.save)
	if !strings.Contains(x.status.Text, "do not match") || x.saved != "" {
		t.Fatalf("mismatched passphrases: %q", x.status.Text)
	}
	// A passphrase the policy refuses: no file is left behind.
	x.pass.SetText("password1234")
	x.again.SetText("password1234")
	kittest.Tapped(t, x.save)
	if !strings.HasPrefix(x.status.Text, "Nothing was exported.") {
		t.Fatalf("weak passphrase: %q", x.status.Text)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused export left %d files", len(entries))
	}
	x.pass.SetText("granite puffin saxophone delta")
	x.again.SetText("granite puffin saxophone delta")
	kittest.Tapped(t, x.save)
	if x.saved == "" {
		t.Fatalf("not exported: %q", x.status.Text)
	}
	raw, err := os.ReadFile(x.saved)
	if err != nil || !bytes.HasPrefix(raw, []byte("age-encryption.org/v1")) {
		t.Fatalf("export %s is not an age file: %v", x.saved, err)
	}
	id, _ := age.NewScryptIdentity("granite puffin saxophone delta")
	r, err := age.Decrypt(bytes.NewReader(raw), id)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(r)
	if !strings.Contains(string(csv), "Rita Front,receptionist") {
		t.Errorf("decrypted export:\n%s", csv)
	}
	if a.summary.Tone() != kit.ToneOK {
		t.Errorf("after the export the summary says %q", a.summary.Title())
	}
	shot(t, w, "access-3-exported")

	// To an age recipient.
	os.Remove(x.saved)
	ident, _ := age.GenerateX25519Identity()
	kittest.Tapped(t, a.export)
	x = a.exporting
	x.how.SetSelected(byRecipient)
	x.rcpt.SetText(ident.Recipient().String())
	kittest.Tapped(t, x.save)
	raw, err = os.ReadFile(filepath.Join(dir, filepath.Base(x.saved)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := age.Decrypt(bytes.NewReader(raw), ident); err != nil {
		t.Errorf("the recipient's export does not open: %v", err)
	}
}

func TestRemindersAreANoticeNotADialog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser("Rita Front", app.Receptionist, staffPass)
	f.clk.Add(8 * 24 * time.Hour)
	rita := f.signIn("Rita Front", staffPass)

	w := newWindow(t)
	home := container.NewVBox(kit.Heading("Welcome, Rita Front"), kit.Wrapped("The Home screen."))
	show(w, rita, "Home", home)
	before := w.Content()
	var went []string
	var bar *reminderBar
	done := false
	showReminders(w, rita, func(s string) { went = append(went, s) }, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	if bar == nil {
		t.Fatal("no reminders for overdue training")
	}
	if len(w.Canvas().Overlays().List()) != 0 {
		t.Error("the reminders are an overlay, which stops work")
	}
	if !kittest.ShowsText(w, "Your security training: 6 lessons are overdue") {
		t.Error("the overdue lessons are not listed")
	}
	if kittest.FindButton(w, "Open Security Center") != nil {
		t.Error("a receptionist is sent to the Security Center")
	}
	shot(t, w, "reminders-1-receptionist")
	kittest.Tapped(t, bar.buttons["Open training"])
	if !slices.Equal(went, []string{ScreenTraining}) || w.Content() != before {
		t.Errorf("Open training: goTo %v, bar still shown %v", went, w.Content() != before)
	}

	// An admin with an emergency access to review and no backup folder.
	f.addUser("Dr Omar Haddad", app.Clinician, doctorPass)
	f.addUser("Dr Lena Vogel", app.Clinician, otherPass)
	omar := f.signIn("Dr Omar Haddad", doctorPass)
	p, _, _ := omar.AddPatient(ctx, app.Patient{Given: "Jamie", Family: "Rowe", DOB: "1980-01-01"})
	omar.RestrictChart(ctx, p.MRN, nil)
	lena := f.signIn("Dr Lena Vogel", otherPass)
	if _, err := lena.OpenChartEmergency(ctx, p.MRN, "patient collapsed in the waiting room"); err != nil {
		t.Fatal(err)
	}
	admin := f.signIn(adminName, adminPass)
	show(w, admin, "Home", container.NewVBox(kit.Heading("Welcome, "+adminName), kit.Wrapped("The Home screen.")))
	before = w.Content()
	done, went = false, nil
	showReminders(w, admin, func(s string) { went = append(went, s) }, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	if bar == nil || bar.list.Visible() {
		t.Fatal("the admin's reminders are missing, or take more than a line")
	}
	shot(t, w, "reminders-2-admin")
	kittest.Tapped(t, bar.buttons["Show all"])
	if !bar.list.Visible() || !kittest.ShowsText(w, "1 emergency access") || !kittest.ShowsText(w, "Backups: No backup folder") {
		t.Fatal("Show all does not list the admin's reminders")
	}
	shot(t, w, "reminders-3-admin-all")
	kittest.Tapped(t, bar.buttons["Open Security Center"])
	if !slices.Equal(went, []string{ScreenSecurity}) {
		t.Errorf("goTo %v", went)
	}

	// Dismiss, and the lock, take the bar away.
	done = false
	showReminders(w, admin, nil, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	kittest.Tapped(t, bar.buttons["Dismiss"])
	if w.Content() != before {
		t.Error("Dismiss leaves the bar")
	}
	// Dismissed for the day: the next sign-in today shows nothing; the
	// next day, the reminders are back.
	done = false
	admin = f.signIn(adminName, adminPass)
	showReminders(w, admin, nil, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	if bar != nil || w.Content() != before {
		t.Fatal("the reminders dismissed for today came back at the next sign-in")
	}
	f.clk.Add(24 * time.Hour)
	admin = f.signIn(adminName, adminPass)
	done = false
	showReminders(w, admin, nil, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	if bar == nil {
		t.Fatal("the next day, the reminders did not come back")
	}
	admin.Lock(ctx)
	kittest.Settle(t)
	kittest.WaitFor(t, "the bar to go", func() bool { return w.Content() == before })

	// Nothing to remind: nothing shown.
	f.addUser("Sam Newman", app.Receptionist, "granite puffin saxophone delta")
	sam := f.signIn("Sam Newman", "granite puffin saxophone delta")
	show(w, sam, "Home", container.NewVBox(kit.Heading("Welcome, Sam Newman")))
	before = w.Content()
	done = false
	showReminders(w, sam, nil, func(b *reminderBar) { bar, done = b, true })
	kittest.WaitFor(t, "the reminders", func() bool { return done })
	if bar != nil || w.Content() != before {
		t.Error("a bar with nothing to remind")
	}
}

func TestDarkThemeKeepsNoticesReadable(t *testing.T) {
	f := newFixture(t)
	w := newWindow(t)
	fyne.CurrentApp().Settings().SetTheme(kit.ThemeIn(theme.VariantDark))
	c := newSecurityCenter(w, f.admin, nil)
	show(w, f.admin, "Security Center", c.view)
	kittest.Settle(t)
	shot(t, w, "dark-security")
	b := newBackupsScreen(w, f.admin)
	show(w, f.admin, "Backups", b.view)
	kittest.Settle(t)
	shot(t, w, "dark-backups")
}
