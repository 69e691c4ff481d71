package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func TestLessonsParse(t *testing.T) {
	ls, err := Lessons()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) < 6 {
		t.Fatalf("%d lessons", len(ls))
	}
	titles := ""
	for _, l := range ls {
		titles += l.Title + "|"
		if len(l.Question) < 3 || l.Body == "" || l.Minutes == 0 {
			t.Errorf("lesson %s: %d questions", l.ID, len(l.Question))
		}
	}
	for _, want := range []string{"phishing", "authenticator", "never share", "Locking", "USB", "breach"} {
		if !strings.Contains(strings.ToLower(titles), strings.ToLower(want)) {
			t.Errorf("no lesson about %q in %s", want, titles)
		}
	}
	if _, err := parseLesson("x", "---\ntitle: T\n---\nbody\n## Quiz\n1. Q?\n   - [x] a\n   - [x] b\n"); err == nil {
		t.Error("two right answers accepted")
	}
}

func answers(l Lesson, wrong int) []int {
	out := make([]int, len(l.Question))
	for i, q := range l.Question {
		out[i] = q.Answer
		if i < wrong {
			out[i] = (q.Answer + 1) % len(q.Options)
		}
	}
	return out
}

func TestTrainingRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	rita := f.mustSignIn("Rita Front", recPass)
	ls, _ := Lessons()

	st, _ := rita.TrainingStatus(ctx)
	if len(st) != 1 || st[0].Overdue != 0 {
		t.Fatalf("new user overdue at once: %+v", st)
	}
	// 80 % passes; below fails.
	l := ls[0]
	r, err := rita.SubmitQuiz(ctx, l.ID, answers(l, 2))
	if err != nil || r.Passed || len(r.Wrong) != 2 {
		t.Fatalf("two wrong of %d: %+v %v", len(l.Question), r, err)
	}
	// Not straight away again (a two-choice question would be guessed
	// right at the second try): after reading the lesson.
	var wait *QuizWaitError
	if _, err := rita.SubmitQuiz(ctx, l.ID, answers(l, 0)); !errors.As(err, &wait) {
		t.Fatalf("a retry at once: %v", err)
	}
	f.clk.Advance(QuizRetryAfter)
	r, err = rita.SubmitQuiz(ctx, l.ID, answers(l, 1))
	if err != nil || !r.Passed || r.Score != 80 {
		t.Fatalf("one wrong of 5: %+v %v", r, err)
	}
	if _, err := rita.SubmitQuiz(ctx, l.ID, []int{0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short answers: %v", err)
	}
	if _, err := rita.TrainingCertificatePDF(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("certificate before all lessons: %v", err)
	}
	// After the first week, the other lessons are overdue.
	f.clk.Advance(8 * 24 * time.Hour)
	st, _ = rita.TrainingStatus(ctx)
	if st[0].Overdue != len(ls)-1 {
		t.Fatalf("after a week: %d overdue", st[0].Overdue)
	}
	for _, l := range ls[1:] {
		if r, err := rita.SubmitQuiz(ctx, l.ID, answers(l, 0)); err != nil || !r.Passed {
			t.Fatal(err)
		}
	}
	st, _ = rita.TrainingStatus(ctx)
	if st[0].Overdue != 0 {
		t.Fatalf("all passed, %d overdue", st[0].Overdue)
	}
	pdf, err := rita.TrainingCertificatePDF(ctx)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("certificate: %v", err)
	}
	// A year later everything is due again.
	f.clk.Advance(366 * 24 * time.Hour)
	st, _ = rita.TrainingStatus(ctx)
	if st[0].Overdue != len(ls) {
		t.Fatalf("after a year: %d overdue", st[0].Overdue)
	}
	// Admins see everyone; a receptionist only herself.
	all, _ := admin.TrainingStatus(ctx)
	if len(all) != 2 {
		t.Fatalf("admin sees %d records", len(all))
	}
	rem, _ := rita.Reminders(ctx)
	if len(rem.OverdueLessons) != len(ls) {
		t.Fatalf("reminders: %+v", rem)
	}
}

func TestSeatLimit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	if err := admin.SetSeatLimit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	enr, _ := NewEnrollment(practice, "x")
	if err := admin.AddUser(ctx, "Dr Omar Haddad", Clinician, docPass, enr); !errors.Is(err, ErrSeatLimit) {
		t.Fatalf("beyond the limit: %v", err)
	}
	if err := admin.SetSeatLimit(ctx, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("limit below count: %v", err)
	}
	items, _ := admin.SecurityReport(ctx)
	if items[0].ID != "seats" || items[0].Detail != "2 of 2 seats used" {
		t.Fatalf("seat item %+v", items[0])
	}
}

func TestRestrictedChartAndEmergencyAccess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Dr Lena Vogel", Clinician, "amber walrus pinecone sextant")
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	omar := f.mustSignIn("Dr Omar Haddad", docPass)
	p, _, _ := omar.AddPatient(ctx, Patient{Given: "Jamie", Family: "Rowe", DOB: "1990-01-01"})
	if _, err := omar.AddEncounter(ctx, p.MRN, SOAP{Assessment: "sensitive"}); err != nil {
		t.Fatal(err)
	}
	rita := f.mustSignIn("Rita Front", recPass)
	if err := rita.RestrictChart(ctx, p.MRN, nil); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist restricted: %v", err)
	}
	if err := omar.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := omar.OpenChart(ctx, p.MRN); err != nil {
		t.Fatalf("named clinician: %v", err)
	}
	lena := f.mustSignIn("Dr Lena Vogel", "amber walrus pinecone sextant")
	if _, err := lena.OpenChart(ctx, p.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("other clinician: %v", err)
	}
	if _, err := lena.AddEncounter(ctx, p.MRN, SOAP{Plan: "x"}); !errors.Is(err, ErrRestricted) {
		t.Fatalf("other clinician wrote: %v", err)
	}
	// Receptionists keep seeing demographics.
	if c, err := rita.OpenChart(ctx, p.MRN); err != nil || c.Clinical {
		t.Fatalf("receptionist: %v", err)
	}
	if _, err := lena.OpenChartEmergency(ctx, p.MRN, "short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no real reason: %v", err)
	}
	c, err := lena.OpenChartEmergency(ctx, p.MRN, "patient collapsed in waiting room, Dr Haddad away")
	if err != nil || len(c.Encounters) != 1 {
		t.Fatalf("emergency access: %v", err)
	}
	items, _ := admin.SecurityReport(ctx)
	var em CheckItem
	for _, i := range items {
		if i.ID == "emergency" {
			em = i
		}
	}
	if em.Status != "attention" || em.Detail != "1" {
		t.Fatalf("emergency item %+v", em)
	}
	pending, _ := admin.EmergencyAccesses(ctx, true)
	if len(pending) != 1 || pending[0].User != "Dr Lena Vogel" {
		t.Fatalf("pending %+v", pending)
	}
	if err := admin.ReviewEmergencyAccess(ctx, pending[0].ID, "confirmed with Dr Haddad"); err != nil {
		t.Fatal(err)
	}
	if pending, _ = admin.EmergencyAccesses(ctx, true); len(pending) != 0 {
		t.Fatal("still pending after review")
	}
	if err := lena.UnrestrictChart(ctx, p.MRN); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("unnamed clinician lifted: %v", err)
	}
	if err := omar.UnrestrictChart(ctx, p.MRN); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(48 * time.Hour)
	if _, err := lena.OpenChart(ctx, p.MRN); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
}

func TestSecurityReportAndAccessReview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	items, err := admin.SecurityReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]CheckItem{}
	for _, i := range items {
		byID[i.ID] = i
	}
	for _, id := range []string{"seats", "unused", "locked", "failed-signins", "backup", "training", "emergency", "access-review"} {
		if _, ok := byID[id]; !ok {
			t.Errorf("no %q item", id)
		}
	}
	if byID["backup"].Status != "attention" || byID["access-review"].Status != "attention" || byID["locked"].Status != "ok" {
		t.Fatalf("items %+v", items)
	}
	if c := byID["page-crypto"]; c.Status != "info" || !strings.Contains(c.Detail, "("+CryptoProvider()+")") {
		t.Errorf("the report does not say how the pages are encrypted: %+v", c)
	}
	if !Attention(items) {
		t.Fatal("no attention")
	}
	// A burst of failures and a lockout show.
	for i := 0; i < lockoutFailures; i++ {
		f.clk.Advance(maxDelay)
		f.v.SignIn(ctx, "Rita Front", "wrong wrong wrong wrong", "000000")
	}
	admin.Lock(ctx)
	admin = f.mustSignIn("Maria Admin", adminPass)
	items, _ = admin.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "locked" && (i.Status != "attention" || i.Detail != "Rita Front") {
			t.Fatalf("locked item %+v", i)
		}
		if i.ID == "failed-signins" && i.Status != "attention" {
			t.Fatalf("20 failed sign-ins in 5 hours not flagged: %+v", i)
		}
	}
	// A day later the burst is over; a new one is flagged again.
	f.clk.Advance(25 * time.Hour)
	items, _ = admin.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "failed-signins" && i.Status != "ok" {
			t.Fatalf("yesterday's failures still flagged: %+v", i)
		}
	}
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	for i := 0; i < failedBurst; i++ {
		f.clk.Advance(maxDelay)
		f.v.SignIn(ctx, "Dr Omar Haddad", "guess guess guess guess", "000000")
	}
	admin.Lock(ctx)
	admin = f.mustSignIn("Maria Admin", adminPass)
	items, _ = admin.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "failed-signins" && i.Status != "attention" {
			t.Fatalf("burst not flagged: %+v", i)
		}
	}
	// 90 days without use.
	f.clk.Advance(91 * 24 * time.Hour)
	items, _ = admin.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "unused" && !strings.Contains(i.Detail, "Rita Front") {
			t.Fatalf("unused item %+v", i)
		}
	}
	// The access review exports as age, readable with the passphrase.
	var buf bytes.Buffer
	if err := admin.ExportAccessReview(ctx, &buf, "", ""); !errors.Is(err, ErrUsage) {
		t.Fatalf("no encryption: %v", err)
	}
	const pass = "harbour lantern quiet orchard"
	if err := admin.ExportAccessReview(ctx, &buf, pass, ""); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("Rita Front")) {
		t.Fatal("plaintext in the export")
	}
	id, _ := age.NewScryptIdentity(pass)
	rd, err := age.Decrypt(&buf, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(rd)
	if !strings.Contains(string(plain), "Rita Front,receptionist") || !strings.Contains(string(plain), "locked out") {
		t.Fatalf("review: %s", plain)
	}
	items, _ = admin.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "access-review" && i.Status != "ok" {
			t.Fatalf("review not recorded: %+v", i)
		}
	}
}

func TestRestrictionCannotBeSidestepped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(admin, "Dr Lena Vogel", Clinician, "amber walrus pinecone sextant")
	omar := f.mustSignIn("Dr Omar Haddad", docPass)
	secret, _, _ := omar.AddPatient(ctx, Patient{Given: "Jamie", Family: "Rowe", DOB: "1990-01-01"})
	other, _, _ := omar.AddPatient(ctx, Patient{Given: "Open", Family: "Chart", DOB: "1990-01-01"})
	d, err := omar.AddDocument(ctx, secret.MRN, "Letter", "text/plain", []byte("private"))
	if err != nil {
		t.Fatal(err)
	}
	omar.RestrictChart(ctx, secret.MRN, nil)
	lena := f.mustSignIn("Dr Lena Vogel", "amber walrus pinecone sextant")
	if _, err := lena.DocumentContent(ctx, other.MRN, d.ID); err == nil {
		t.Fatal("a restricted chart's document was read through another patient's MRN")
	}
	if err := lena.RestrictChart(ctx, secret.MRN, nil); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("an unnamed clinician re-restricted the chart to herself: %v", err)
	}
	if _, err := lena.OpenChart(ctx, secret.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("after the attempts: %v", err)
	}
}

// TestSecurityCenterDoesNotCallANewPracticeTrained: on day one nobody has
// done the training; the Security Center says so (not overdue yet), and
// not "everyone is up to date".
func TestSecurityCenterDoesNotCallANewPracticeTrained(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	items, err := s.SecurityReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.ID == "training" {
			if strings.Contains(it.Detail, "everyone is up to date") || !strings.Contains(it.Detail, "not trained yet: Maria Admin (due ") {
				t.Fatalf("training on day one: %q", it.Detail)
			}
			return
		}
	}
	t.Fatal("no training item")
}
