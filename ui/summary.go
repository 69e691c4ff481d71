package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// The chart opens on its Summary: what a clinician looks at before and
// during a visit (allergies, problems, medications, the last vitals and
// note, the next appointment), with the note of the visit written beside
// it, never in a window over it.

const tabSummary = "Summary"

// summaryTab is the chart's first tab.
type summaryTab struct {
	c    *chartScreen
	view fyne.CanvasObject
	note *noteEditor // nil for those who cannot write notes
}

func newSummaryTab(c *chartScreen) *summaryTab {
	st := &summaryTab{c: c}
	facts := kit.Page(st.facts())
	if !c.clinical() {
		st.view = facts
		return st
	}
	st.note = newNoteEditor(c)
	split := container.NewHSplit(facts, st.note.view)
	split.Offset = 0.42
	st.view = split
	return st
}

// section is a bold heading over lines (or a dash when there are none).
func section(title string, lines []string, empty string) fyne.CanvasObject {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	box := container.NewVBox(head)
	if len(lines) == 0 {
		l := kit.Wrapped(empty)
		l.Importance = widget.LowImportance
		box.Add(l)
		return box
	}
	for _, s := range lines {
		box.Add(kit.Wrapped(s))
	}
	return box
}

// facts is the summary's left side.
func (st *summaryTab) facts() fyne.CanvasObject {
	c := st.c
	ch := c.chart
	g := c.g
	today := g.now().Format(isoDate)
	var parts []fyne.CanvasObject

	next := "No appointment booked."
	for i := len(ch.Appointments) - 1; i >= 0; i-- {
		a := ch.Appointments[i]
		if a.End().After(g.now()) && (a.Status == app.StatusBooked || a.Status == app.StatusArrived || a.Status == app.StatusInRoom) {
			next = fmt.Sprintf("%s at %s with %s", a.Start.Local().Format("Mon 2 Jan 2006"), a.Start.Local().Format(timeLayout), a.ClinicianName)
			if a.Reason != "" {
				next += " (" + a.Reason + ")"
			}
			if a.Status != app.StatusBooked {
				next += ": " + strings.ToLower(statusWords[a.Status])
			}
			break
		}
	}
	parts = append(parts, section("Next appointment", []string{next}, ""))
	if !ch.Clinical {
		p := ch.Patient
		var contact []string
		for _, s := range []string{p.Phone, p.Phone2, p.Email, p.Address} {
			if s != "" {
				contact = append(contact, s)
			}
		}
		parts = append(parts, section("Contact", contact, "No contact details recorded."))
		return container.NewVBox(parts...)
	}

	var allergies []string
	for _, a := range ch.Allergies {
		s := a.Substance
		if a.Severity != "" || a.Reaction != "" {
			s += " (" + strings.Trim(capitalised(a.Severity)+": "+a.Reaction, ": ") + ")"
		}
		allergies = append(allergies, s)
	}
	var problems []string
	for _, p := range ch.Problems {
		if p.Status == "resolved" {
			continue
		}
		s := p.Description
		if p.ICD10 != "" {
			s += " (" + p.ICD10 + ")"
		}
		if p.Onset != "" {
			s += ", since " + dateText(p.Onset)
		}
		problems = append(problems, s)
	}
	var meds []string
	for _, m := range ch.Medications {
		if m.Stop != "" && m.Stop <= today {
			continue
		}
		s := strings.Join(nonEmpty(m.Name, m.Dose, m.Route, m.Frequency), " ")
		meds = append(meds, s)
	}
	var vitals []string
	if n := len(ch.Vitals); n > 0 {
		v := ch.Vitals[n-1]
		vitals = append(vitals, v.TakenAt.Local().Format("2 Jan 2006")+": "+v.Summary())
		if bmi, ok := v.BMI(); ok {
			vitals = append(vitals, fmt.Sprintf("BMI %.1f", bmi))
		}
	}
	var last []string
	if len(ch.Encounters) > 0 {
		e := ch.Encounters[0]
		state := "signed"
		if !e.Signed() {
			state = "draft"
		}
		last = append(last, fmt.Sprintf("%s, %s (%s)", e.SeenAt.Local().Format("Mon 2 Jan 2006"), orDash(e.Clinician), state))
		for i, t := range soapText(e.SOAP) {
			if i >= 2 && strings.TrimSpace(t) != "" {
				last = append(last, soapSections[i]+": "+firstLine(t, 160))
			}
		}
	}
	parts = append(parts,
		section("Allergies", allergies, "None recorded: ask the patient."),
		section("Problems", problems, "No active problems."),
		section("Medications", meds, "No current medications."),
		section("Last vitals", vitals, "None recorded."),
		section("Last note", last, "No notes yet."),
	)
	return container.NewVBox(parts...)
}

// nonEmpty keeps the strings that are not empty.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// firstLine is s's first line, cut to n characters.
func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// noteEditor writes the visit's note beside the summary: a new note, or
// the writer's own draft from today, continued.
type noteEditor struct {
	c      *chartScreen
	fields [4]*kit.Entry
	draft  *app.Encounter // the draft continued, nil for a new note
	title  *widget.Label
	status *kit.StatusText
	save   *widget.Button
	sign   *widget.Button
	view   fyne.CanvasObject
}

func newNoteEditor(c *chartScreen) *noteEditor {
	g := c.g
	n := &noteEditor{c: c, status: kit.NewStatus(widget.MediumImportance)}
	hints := []string{"What the patient reports", "Examination and measurements", "Diagnosis or impression", "Treatment, tests, follow-up"}
	form := widget.NewForm()
	for i := range n.fields {
		n.fields[i] = newMultiLineEntry(g, hints[i], 3)
		n.fields[i].OnSubmitted = func(string) { n.saveDraft() }
		form.Append(soapSections[i], n.fields[i])
	}
	me := c.s.User()
	today := midnight(g.now())
	for i := range c.chart.Encounters {
		e := c.chart.Encounters[i]
		if !e.Signed() && e.ClinicianID == me.ID && !e.SeenAt.Before(today) {
			n.draft = &e
			for j, t := range soapText(e.SOAP) {
				n.fields[j].SetText(t)
			}
			break
		}
	}
	n.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	n.title.Wrapping = fyne.TextWrapWord
	n.title.SetText(n.heading())
	n.save = widget.NewButtonWithIcon("Save draft", theme.DocumentSaveIcon(), g.act(n.saveDraft))
	n.save.Importance = widget.HighImportance
	n.sign = widget.NewButtonWithIcon("Sign off…", theme.ConfirmIcon(), g.act(n.signOff))
	help := kit.Wrapped("Tab moves between the sections; " + kit.ShortcutLabel(kit.SubmitShortcut) + " saves the draft. After sign-off a note only takes addenda.")
	n.view = container.NewBorder(container.NewVBox(n.title, help), container.NewVBox(n.status, container.NewHBox(n.save, n.sign)), nil, nil,
		container.NewVScroll(form))
	// What was typed when ClinicVault locked comes back.
	key := n.draftKey()
	if texts := g.restoreDraft(key); len(texts) == len(n.fields) {
		for i, t := range texts {
			n.fields[i].SetText(t)
		}
		n.status.Say(widget.WarningImportance, "What you had typed before ClinicVault locked is back; it is not saved yet.")
	}
	g.liveDrafts[g.draftKey(key)] = n.unsaved
	n.refresh()
	return n
}

// draftKey names the text kept at a lock for this chart's note.
func (n *noteEditor) draftKey() string { return "note-inline:" + n.c.mrn }

// texts are what the sections hold.
func (n *noteEditor) texts() []string {
	out := make([]string, len(n.fields))
	for i, f := range n.fields {
		out[i] = f.Text
	}
	return out
}

// unsaved is what the sections hold when it differs from what is saved
// (nothing otherwise): what a lock keeps.
func (n *noteEditor) unsaved() []string {
	texts := n.texts()
	saved := make([]string, len(n.fields))
	if n.draft != nil {
		saved = soapText(n.draft.SOAP)
	}
	for i := range texts {
		if strings.TrimSpace(texts[i]) != strings.TrimSpace(saved[i]) {
			return texts
		}
	}
	return nil
}

// heading says which visit the note is for.
func (n *noteEditor) heading() string {
	c := n.c
	if n.draft != nil {
		return "Your draft note from " + n.draft.SeenAt.Local().Format(timeLayout) + visitText(c.chart, n.draft.AppointmentID)
	}
	for _, a := range c.chart.Appointments {
		if (a.Status == app.StatusInRoom || a.Status == app.StatusArrived) && midnight(a.Start).Equal(midnight(c.g.now())) {
			return fmt.Sprintf("Note for today's visit: %s with %s%s", a.Start.Local().Format(timeLayout), a.ClinicianName, parens(a.Reason))
		}
	}
	return "New note"
}

// visitText is ", for the 09:30 visit with Dr Park" when the note has one.
func visitText(ch *app.Chart, id string) string {
	if id == "" {
		return ""
	}
	for _, a := range ch.Appointments {
		if a.ID == id {
			return fmt.Sprintf(", for the %s visit with %s%s", a.Start.Local().Format(timeLayout), a.ClinicianName, parens(a.Reason))
		}
	}
	return ""
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func (n *noteEditor) refresh() {
	kit.Enable(n.sign, n.draft != nil)
}

// note is the note as typed.
func (n *noteEditor) note() app.SOAP {
	return app.SOAP{Subjective: n.fields[0].Text, Objective: n.fields[1].Text, Assessment: n.fields[2].Text, Plan: n.fields[3].Text}
}

// saveDraft saves the note as a draft (a new encounter, or the draft's
// new text).
func (n *noteEditor) saveDraft() {
	c := n.c
	g := c.g
	var err error
	if n.draft == nil {
		var e app.Encounter
		if e, err = c.s.AddEncounter(g.ctx, c.mrn, n.note()); err == nil {
			n.draft = &e
		}
	} else {
		err = c.s.EditEncounter(g.ctx, c.mrn, n.draft.ID, n.note())
	}
	if err != nil {
		n.status.Say(widget.DangerImportance, "The note was not saved. "+plain.Error(err))
		return
	}
	delete(g.liveDrafts, g.draftKey(n.draftKey()))
	c.note(widget.SuccessImportance, "The note was saved as a draft. Sign it off when it is complete.")
	c.reload()
}

// signOff saves the text, then signs the draft after asking.
func (n *noteEditor) signOff() {
	c := n.c
	g := c.g
	if n.draft == nil {
		return
	}
	if err := c.s.EditEncounter(g.ctx, c.mrn, n.draft.ID, n.note()); err != nil {
		n.status.Say(widget.DangerImportance, "The note was not saved. "+plain.Error(err))
		return
	}
	delete(g.liveDrafts, g.draftKey(n.draftKey()))
	draft := *n.draft
	draft.SOAP = n.note()
	c.enc.signOff(draft)
}
