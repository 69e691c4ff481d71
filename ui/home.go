package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// homeSession is what the Home screen needs from a session.
type homeSession interface {
	User() app.User
	HasClinical() bool
	IdleLockAfter() time.Duration
	SetIdleLock(ctx context.Context, d time.Duration) error
}

var _ homeSession = (*app.Session)(nil)

// homeScreen welcomes the user and, for admins, holds the idle-lock setting.
type homeScreen struct {
	view    fyne.CanvasObject
	first   fyne.Focusable
	minutes *kit.Entry
	save    *widget.Button
	status  *kit.StatusText
	// reminder says when ClinicVault locks by itself.
	reminder *widget.Label
}

func (h *homeScreen) setReminder(d time.Duration) {
	h.reminder.SetText("When you leave the desk, press Lock (or " + kit.ShortcutLabel(lockShortcut) + "). ClinicVault also locks by itself after " +
		kit.Duration(d) + " without activity.")
}

// roleText says in a sentence what a role may do.
var roleText = map[app.Role]string{
	app.Admin:        "Admins add and remove staff, choose their roles and read the audit log.",
	app.Clinician:    "Clinicians see patients and keep their clinical records.",
	app.Receptionist: "Receptionists run the front desk.",
}

func newHomeScreen(g *gui, s homeSession) *homeScreen {
	h := &homeScreen{}
	u := s.User()
	article := "a"
	if u.Role == app.Admin {
		article = "an"
	}
	clinical := "Clinical records do not open for your role."
	if s.HasClinical() {
		clinical = "Clinical records open for you in this session."
	}
	var can []string
	if u.Role == app.Admin {
		can = append(can,
			"•  Users: add staff, change a role, reset a lost authenticator, unlock an account, remove someone who left.",
			"•  Audit log: see who did what and when, and check that nobody has altered the log.")
	}
	can = append([]string{
		"•  Today: the day's appointments for every clinician; book, check in, move or cancel them.",
		"•  Patients: find a patient as you type (" + kit.ShortcutLabel(findShortcut) + "), register a new one (" + kit.ShortcutLabel(newPatientShortcut) + ") and open their chart.",
	}, can...)
	can = append(can, "•  My account: change your passphrase.")

	h.reminder = kit.Wrapped("")
	h.setReminder(s.IdleLockAfter())
	parts := []fyne.CanvasObject{
		kit.Heading("Welcome, " + u.Name),
		kit.Wrapped(fmt.Sprintf("You are signed in as %s %s. %s %s", article, u.Role, roleText[u.Role], clinical)),
		card(container.NewVBox(
			kit.Subheading("What you can do now"),
			kit.Wrapped(strings.Join(can, "\n")),
		)),
		h.reminder,
	}
	if u.Role == app.Admin {
		h.minutes = newEntry(g, "")
		h.minutes.SetText(strconv.Itoa(int(s.IdleLockAfter() / time.Minute)))
		h.status = kit.NewStatus(widget.MediumImportance)
		h.save = widget.NewButton("Save", g.act(func() { h.saveIdle(g, s) }))
		h.minutes.OnSubmitted = func(string) { h.saveIdle(g, s) }
		h.first = h.minutes
		parts = append(parts, card(container.NewVBox(
			kit.Subheading("Automatic lock (for the whole practice)"),
			container.NewHBox(widget.NewLabel("Lock after"), container.New(kit.FixedWidth(70), h.minutes),
				widget.NewLabel("minutes without activity (1 to 60)"), h.save),
			h.status,
		)))
	}
	h.view = kit.Page(container.NewVBox(parts...))
	return h
}

// saveIdle saves the idle-lock minutes.
func (h *homeScreen) saveIdle(g *gui, s homeSession) {
	n, err := strconv.Atoi(strings.TrimSpace(h.minutes.Text))
	if err != nil || n < 1 || n > 60 {
		h.status.Importance = widget.DangerImportance
		h.status.SetText("Type a whole number of minutes from 1 to 60.")
		return
	}
	if err := s.SetIdleLock(g.ctx, time.Duration(n)*time.Minute); err != nil {
		h.status.Importance = widget.DangerImportance
		h.status.SetText(plain.Error(err))
		return
	}
	h.setReminder(time.Duration(n) * time.Minute)
	h.status.Importance = widget.SuccessImportance
	h.status.SetText("Saved: ClinicVault now locks after " + kit.Duration(time.Duration(n)*time.Minute) + " without activity, for everyone.")
}
