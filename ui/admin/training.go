package admin

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// trainingScreen lists the security lessons with the user's standing,
// opens a lesson and its quiz, and for admins shows everyone's record.
type trainingScreen struct {
	win   fyne.Window
	s     *app.Session
	ctx   context.Context
	admin bool

	lessons []app.Lesson
	all     []app.TrainingStatus
	mine    *app.TrainingStatus

	stack    *fyne.Container
	overview fyne.CanvasObject
	summary  *kit.Notice
	rows     *fyne.Container
	staff    *fyne.Container
	cert     *widget.Button
	certHint *widget.Label
	status   *kit.StatusText
	// open holds each lesson's button by lesson ID, for tests.
	open map[string]*widget.Button
	// lesson is the lesson shown, if any.
	lesson *lessonView
	view   fyne.CanvasObject
}

// NewTrainingScreen is the staff security Training screen, for everyone:
// the lessons with the user's own standing, each lesson with its quiz
// (80 % to pass), "Save certificate…" once every lesson is passed and
// current, and for admins a table of every member of staff by lesson with
// overdue lessons highlighted.
func NewTrainingScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newTrainingScreen(win, s).view
}

func newTrainingScreen(win fyne.Window, s *app.Session) *trainingScreen {
	t := &trainingScreen{win: win, s: s, ctx: context.Background(), admin: s.User().Role == app.Admin,
		status: kit.NewStatus(widget.MediumImportance), open: map[string]*widget.Button{}}
	t.cert = widget.NewButtonWithIcon("Save certificate…", theme.DocumentSaveIcon(), kit.Act(s, t.saveCertificate))
	t.cert.Disable()
	t.summary = kit.NewNotice(kit.ToneInfo, "Loading your training record…", "")
	t.certHint = kit.Quiet("")
	t.rows = container.NewVBox()
	parts := []fyne.CanvasObject{
		kit.Heading("Security training"),
		kit.Wrapped("Six short lessons on keeping patients' records safe, each with a quiz. New staff complete every lesson " +
			"in their first week, and everyone repeats each one once a year. A quiz passes at 80 %."),
		t.summary,
		container.NewBorder(nil, nil, t.cert, nil, t.certHint),
		t.status,
		kit.Card(t.rows),
	}
	if t.admin {
		t.staff = container.NewVBox()
		parts = append(parts, kit.Subheading("Everyone's training"), kit.Card(t.staff))
	}
	t.overview = kit.Page(container.NewVBox(parts...))
	t.stack = container.NewStack(t.overview)
	t.view = t.stack
	lessons, err := app.Lessons()
	if err != nil {
		t.summary.Set(kit.ToneDanger, "The lessons could not be read", plain.Error(err))
		return t
	}
	t.lessons = lessons
	t.load()
	return t
}

// load reads the training record off the UI thread.
func (t *trainingScreen) load() {
	var all []app.TrainingStatus
	var err error
	me := t.s.User().ID
	kit.Background(func() {
		all, err = t.s.TrainingStatus(t.ctx)
	}, func() {
		if err != nil {
			t.summary.Set(kit.ToneDanger, "Your training record could not be read", plain.Error(err))
			return
		}
		t.all = all
		t.mine = nil
		for i := range all {
			if all[i].User.ID == me {
				t.mine = &all[i]
			}
		}
		t.showMine()
		if t.admin {
			t.showStaff()
		}
	})
}

// standing finds the user's standing on lesson id.
func standing(ts *app.TrainingStatus, id string) (app.LessonStatus, bool) {
	if ts == nil {
		return app.LessonStatus{}, false
	}
	for _, l := range ts.Lessons {
		if l.Lesson == id {
			return l, true
		}
	}
	return app.LessonStatus{}, false
}

// current reports whether a lesson is passed and not yet due again.
func current(l app.LessonStatus) bool { return !l.Passed.IsZero() && !l.Overdue }

// showMine fills the summary and the lesson list.
func (t *trainingScreen) showMine() {
	done, overdue := 0, 0
	t.rows.RemoveAll()
	t.open = map[string]*widget.Button{}
	for i, l := range t.lessons {
		st, _ := standing(t.mine, l.ID)
		text, imp, action := lessonState(st)
		if current(st) {
			done++
		}
		if st.Overdue {
			overdue++
		}
		state := widget.NewLabel(text)
		state.Importance = imp
		state.Alignment = fyne.TextAlignTrailing
		lesson := l
		btn := widget.NewButton(action, kit.Act(t.s, func() { t.openLesson(lesson) }))
		if st.Overdue || st.Passed.IsZero() {
			btn.Importance = widget.HighImportance
		}
		t.open[l.ID] = btn
		num := widget.NewLabelWithStyle(fmt.Sprint(i+1), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
		num.SizeName = theme.SizeNameSubHeadingText
		info := container.New(kit.TightVBox(-8), kit.Bold(l.Title), lowLabel(fmt.Sprintf("%d minutes · %s", l.Minutes, kit.Plural(len(l.Question), "question"))))
		row := container.NewBorder(nil, nil,
			container.New(kit.FixedWidth(34), num),
			container.NewHBox(middle(container.New(kit.FixedWidth(240), state)), middle(container.New(kit.FixedWidth(90), btn))),
			info)
		if i > 0 {
			t.rows.Add(widget.NewSeparator())
		}
		t.rows.Add(row)
	}
	t.rows.Refresh()
	all := len(t.lessons)
	complete := t.mine != nil && done == all && all > 0
	kit.Enable(t.cert, complete)
	if complete {
		t.cert.Importance = widget.HighImportance
		t.certHint.SetText("A PDF with your name and the date of each lesson, for your records.")
	} else {
		t.cert.Importance = widget.MediumImportance
		t.certHint.SetText("Ready once every lesson is passed and current.")
	}
	t.cert.Refresh()
	switch {
	case t.mine == nil:
		t.summary.Set(kit.ToneInfo, "No training record", "Your account has no training record yet.")
	case done == all:
		t.summary.Set(kit.ToneOK, "Your training is complete", fmt.Sprintf("All %d lessons are passed and current. Save your certificate for your records.", all))
	case overdue > 0:
		t.summary.Set(kit.ToneDanger, kit.Plural(overdue, "lesson")+" overdue",
			fmt.Sprintf("You have passed %d of %d lessons. Complete the overdue ones now: each takes a few minutes.", done, all))
	default:
		t.summary.Set(kit.ToneWarning, fmt.Sprintf("%d of %d lessons done", done, all),
			"Complete the rest by the dates shown. The certificate is ready once every lesson is passed.")
	}
}

// lessonState is a lesson's standing in words, its colour and the
// button's label.
func lessonState(st app.LessonStatus) (string, widget.Importance, string) {
	last := ""
	if st.BestLast >= 0 && st.Passed.IsZero() {
		last = fmt.Sprintf("\nLast try %d %% (80 %% passes)", st.BestLast)
	}
	switch {
	case st.Overdue && st.Passed.IsZero():
		return "Overdue\nwas due " + kit.Day(st.Due) + last, widget.DangerImportance, "Start"
	case st.Overdue:
		return "Overdue: repeat it\nwas due " + kit.Day(st.Due), widget.DangerImportance, "Repeat"
	case !st.Passed.IsZero():
		return "Passed " + kit.Day(st.Passed) + "\ndue again " + kit.Day(st.Due), widget.SuccessImportance, "Open"
	default:
		return "To do by " + kit.Day(st.Due) + last, widget.MediumImportance, "Start"
	}
}

// middle centres o vertically.
func middle(o fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVBox(layout.NewSpacer(), o, layout.NewSpacer())
}

// lowLabel is a one-line italic label for secondary facts.
func lowLabel(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
}

// showStaff fills the admins' table of everyone by lesson.
func (t *trainingScreen) showStaff() {
	cols := kit.Columns{0.22}
	for range t.lessons {
		cols = append(cols, 0.78/float32(len(t.lessons)))
	}
	t.staff.RemoveAll()
	head := container.New(cols, kit.HeaderCell("Name"))
	for i := range t.lessons {
		head.Add(kit.HeaderCell(fmt.Sprintf("Lesson %d", i+1)))
	}
	t.staff.Add(head)
	t.staff.Add(widget.NewSeparator())
	for _, ts := range t.all {
		name := cell()
		if ts.Overdue > 0 {
			name.TextStyle.Bold = true
			setCell(name, ts.User.Name, widget.DangerImportance)
		} else {
			setCell(name, ts.User.Name, widget.MediumImportance)
		}
		row := container.New(cols, name)
		for _, l := range t.lessons {
			st, _ := standing(&ts, l.ID)
			c := cell()
			switch {
			case st.Overdue:
				c.TextStyle.Bold = true
				setCell(c, "Overdue", widget.DangerImportance)
			case current(st):
				setCell(c, "✓ "+st.Passed.Local().Format("2 Jan"), widget.SuccessImportance)
			default:
				setCell(c, "due "+st.Due.Local().Format("2 Jan"), widget.MediumImportance)
			}
			row.Add(c)
		}
		t.staff.Add(row)
	}
	legend := kit.Quiet("✓ passed, with the date. \"due\" is the date a new member of staff must pass by. Names in red have lessons overdue. Lessons are numbered as above.")
	t.staff.Add(widget.NewSeparator())
	t.staff.Add(legend)
	t.staff.Refresh()
}

// back shows the lesson list again and reloads it.
func (t *trainingScreen) back() {
	t.lesson = nil
	t.stack.Objects = []fyne.CanvasObject{t.overview}
	t.stack.Refresh()
	t.load()
}

// lessonView is one lesson and its quiz.
type lessonView struct {
	t      *trainingScreen
	l      app.Lesson
	radios []*widget.RadioGroup
	submit *widget.Button
	hint   *widget.Label
	result *kit.Notice
	again  *widget.Button
	done   *widget.Button
	scroll *container.Scroll
	sent   bool
	// grading is true while the answers are with the session.
	grading bool
	// last is the last result, for tests.
	last *app.QuizResult
	view fyne.CanvasObject
}

// openLesson shows lesson l and its quiz.
func (t *trainingScreen) openLesson(l app.Lesson) {
	s := t.s
	lv := &lessonView{t: t, l: l}
	n := 0
	for i, x := range t.lessons {
		if x.ID == l.ID {
			n = i + 1
		}
	}
	body := lessonText(l.Body)
	quiz := container.NewVBox(
		widget.NewSeparator(),
		kit.Subheading("Quiz"),
		kit.Wrapped(fmt.Sprintf("Answer all %d questions, then press Submit. You need 80 %% to pass; you may try again as often as you like.", len(l.Question))),
	)
	for i, q := range l.Question {
		rg := widget.NewRadioGroup(q.Options, func(string) {
			kit.Touch(s)
			if lv.sent && !lv.grading {
				// A changed answer starts a new attempt.
				lv.sent = false
				lv.last = nil
				lv.result.Hide()
			}
			lv.refresh()
		})
		lv.radios = append(lv.radios, rg)
		quiz.Add(kit.Card(container.NewVBox(kit.Bold(fmt.Sprintf("%d. %s", i+1, q.Text)), rg)))
	}
	lv.submit = widget.NewButtonWithIcon("Submit answers", theme.ConfirmIcon(), kit.Act(s, lv.send))
	lv.submit.Importance = widget.HighImportance
	lv.hint = lowLabel("")
	lv.again = widget.NewButtonWithIcon("Try again", theme.ViewRefreshIcon(), kit.Act(s, lv.retry))
	lv.done = widget.NewButtonWithIcon("Back to the lessons", theme.NavigateBackIcon(), kit.Act(s, t.back))
	lv.result = kit.NewNotice(kit.ToneInfo, "", "", lv.again, lv.done)
	lv.result.Hide()
	quiz.Add(container.NewHBox(lv.submit, lv.hint))
	quiz.Add(lv.result)

	backBtn := widget.NewButtonWithIcon("All lessons", theme.NavigateBackIcon(), kit.Act(s, t.back))
	where := lowLabel(fmt.Sprintf("Lesson %d of %d · about %d minutes", n, len(t.lessons), l.Minutes))
	top := container.NewVBox(container.NewHBox(backBtn, where), widget.NewSeparator())
	lv.scroll = container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 12, 0, 14), container.NewVBox(body, quiz)))
	lv.view = container.NewBorder(top, nil, nil, nil, lv.scroll)
	lv.refresh()
	t.lesson = lv
	t.stack.Objects = []fyne.CanvasObject{lv.view}
	t.stack.Refresh()
}

// blockStart matches a Markdown line that starts a block rather than
// continuing the one above.
var blockStart = regexp.MustCompile(`^\s*([-*+]\s|\d+[.)]\s|#|>|\|)`)

// unwrap joins the lines of each paragraph and list item: Fyne's rich
// text breaks the line wherever the source was wrapped inside a list
// item.
func unwrap(md string) string {
	var out []string
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		n := len(out)
		if trimmed != "" && n > 0 && strings.TrimSpace(out[n-1]) != "" &&
			!strings.HasPrefix(strings.TrimSpace(out[n-1]), "#") && !blockStart.MatchString(line) {
			out[n-1] += " " + trimmed
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// lessonText renders a lesson's Markdown with room after each list.
func lessonText(md string) *widget.RichText {
	rt := widget.NewRichTextFromMarkdown(unwrap(md))
	var segs []widget.RichTextSegment
	for i, seg := range rt.Segments {
		segs = append(segs, seg)
		if _, ok := seg.(*widget.ListSegment); ok && i < len(rt.Segments)-1 {
			segs = append(segs, &widget.TextSegment{Style: widget.RichTextStyleParagraph, Text: ""})
		}
	}
	rt.Segments = segs
	rt.Wrapping = fyne.TextWrapWord
	rt.Refresh()
	return rt
}

// answers returns the chosen option of each question (-1 if none).
func (lv *lessonView) answers() []int {
	out := make([]int, len(lv.radios))
	for i, rg := range lv.radios {
		out[i] = -1
		for j, o := range lv.l.Question[i].Options {
			if rg.Selected == o {
				out[i] = j
			}
		}
	}
	return out
}

func (lv *lessonView) refresh() {
	left := 0
	for _, a := range lv.answers() {
		if a < 0 {
			left++
		}
	}
	kit.Enable(lv.submit, left == 0 && !lv.sent)
	switch {
	case lv.sent:
		lv.hint.SetText("Change an answer to try again.")
	case left == 0:
		lv.hint.SetText("All questions answered.")
	default:
		lv.hint.SetText(kit.Plural(left, "question") + " still to answer.")
	}
}

// send grades the quiz off the UI thread and shows the score, not the
// right answers.
func (lv *lessonView) send() {
	answers := lv.answers()
	for _, a := range answers {
		if a < 0 {
			return
		}
	}
	lv.sent = true
	lv.grading = true
	lv.refresh()
	for _, rg := range lv.radios {
		rg.Disable()
	}
	var res app.QuizResult
	var err error
	kit.Background(func() {
		res, err = lv.t.s.SubmitQuiz(lv.t.ctx, lv.l.ID, answers)
	}, func() {
		lv.grading = false
		for _, rg := range lv.radios {
			rg.Enable()
		}
		if err != nil {
			lv.sent = false
			lv.refresh()
			lv.result.Set(kit.ToneDanger, "The answers were not saved", plain.Error(err))
			lv.again.Hide()
			lv.result.Show()
			return
		}
		lv.last = &res
		score := fmt.Sprintf("%d of %d right (%d %%).", res.Correct, res.Total, res.Score)
		if res.Passed {
			lv.result.Set(kit.ToneOK, "Passed", score+" This lesson is recorded as passed today; it is due again in a year.")
			lv.again.Hide()
		} else {
			var wrong []string
			for _, n := range res.Wrong {
				wrong = append(wrong, fmt.Sprintf("%d", n))
			}
			lv.result.Set(kit.ToneDanger, "Not passed yet", score+" Not right: question "+strings.Join(wrong, ", ")+". You need 80 %. Read the lesson again; the quiz can be tried again in "+fmt.Sprintf("%d", int(app.QuizRetryAfter/time.Minute))+" minutes.")
			lv.again.Show()
		}
		lv.result.Show()
		lv.scroll.ScrollToBottom()
	})
}

// retry clears the answers and goes back to the top of the lesson.
func (lv *lessonView) retry() {
	for _, rg := range lv.radios {
		rg.SetSelected("")
	}
	lv.sent = false
	lv.result.Hide()
	lv.last = nil
	lv.refresh()
	lv.scroll.ScrollToTop()
}

// saveCertificate renders the certificate and asks where to save it.
func (t *trainingScreen) saveCertificate() {
	var pdf []byte
	var err error
	kit.Enable(t.cert, false)
	kit.Background(func() {
		pdf, err = t.s.TrainingCertificatePDF(t.ctx)
	}, func() {
		kit.Enable(t.cert, true)
		if err != nil {
			t.status.Say(widget.DangerImportance, "The certificate could not be made. "+plain.Error(err))
			return
		}
		name := "Training certificate - " + safeName(t.s.User().Name) + ".pdf"
		files.save(t.win, name, func(w fyne.URIWriteCloser) {
			_, werr := w.Write(pdf)
			if cerr := w.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				t.status.Say(widget.DangerImportance, "The certificate was not saved. "+plain.Error(werr))
				return
			}
			t.status.Say(widget.SuccessImportance, "Certificate saved as "+w.URI().Path()+".")
		})
	})
}

// safeName keeps a person's name usable in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < ' ' {
			return '-'
		}
		return r
	}, s)
}
