package ui

import (
	"errors"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// signInScreen asks for a name, the passphrase and a code.
type signInScreen struct {
	g       *gui
	user    *widget.Select
	pass    *kit.Entry
	code    *kit.Entry
	submit  *widget.Button
	recover *widget.Button
	busy    *widget.Activity
	status  *kit.StatusText
	working bool
}

// showSignIn shows the sign-in screen with user preselected (if still a
// member of staff).
func (g *gui) showSignIn(user string) {
	g.session = nil
	if g.stopIdle != nil {
		g.stopIdle()
		g.stopIdle = nil
	}
	s, view := newSignInScreen(g, user)
	g.signIn = s
	var first fyne.Focusable = s.user
	if s.user.Selected != "" {
		first = s.pass
	}
	g.setScreen("signin", view, first)
}

func newSignInScreen(g *gui, preselect string) (*signInScreen, fyne.CanvasObject) {
	s := &signInScreen{
		g:      g,
		pass:   newPasswordEntry(g, ""),
		code:   newEntry(g, "6 digits from your authenticator app"),
		busy:   widget.NewActivity(),
		status: kit.NewStatus(widget.DangerImportance),
	}
	info, err := g.v.Info()
	if err != nil {
		s.status.SetText("The vault could not be read. " + plain.Error(err))
	}
	g.practice = info.Practice
	s.user = widget.NewSelect(info.Users, func(string) { g.activity() })
	s.user.PlaceHolder = "Choose your name"
	switch {
	case preselect != "" && slices.Contains(info.Users, preselect):
		s.user.SetSelected(preselect)
	case len(info.Users) == 1:
		s.user.SetSelected(info.Users[0])
	}
	s.submit = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), g.act(s.signIn))
	s.submit.Importance = widget.HighImportance
	s.recover = widget.NewButton("Use recovery key…", g.act(g.showRecovery))
	s.recover.Importance = widget.LowImportance
	s.busy.Hide()
	s.pass.OnSubmitted = func(string) { g.focus(s.code) }
	s.code.OnSubmitted = func(string) { s.signIn() }

	practice := info.Practice
	if practice == "" {
		practice = "ClinicVault"
	}
	title := kit.Heading(practice)
	title.Alignment = fyne.TextAlignCenter
	sub := widget.NewLabelWithStyle("Sign in to ClinicVault", fyne.TextAlignCenter, fyne.TextStyle{})
	form := widget.NewForm(
		widget.NewFormItem("Name", s.user),
		widget.NewFormItem("Passphrase", s.pass),
		&widget.FormItem{Text: "Code", Widget: s.code, HintText: "Leave empty if an admin reset your authenticator."},
	)
	box := container.NewVBox(
		title, sub,
		card(container.NewVBox(
			form,
			s.status,
			container.NewHBox(layout.NewSpacer(), s.busy, s.submit),
		)),
		container.NewHBox(layout.NewSpacer(), s.recover),
	)
	return s, container.NewBorder(nil, brandFooter(), nil, nil, centred(480, box))
}

// brandFooter is the small product line at the bottom of signed-out screens.
func brandFooter() fyne.CanvasObject {
	l := widget.NewLabelWithStyle("ClinicVault keeps the practice's records encrypted on this computer.", fyne.TextAlignCenter, fyne.TextStyle{})
	l.SizeName = theme.SizeNameCaptionText
	return l
}

// setWorking disables the form while a sign-in runs.
func (s *signInScreen) setWorking(on bool) {
	s.working = on
	for _, d := range []fyne.Disableable{s.user, s.pass, s.code, s.submit, s.recover} {
		if on {
			d.Disable()
		} else {
			d.Enable()
		}
	}
	if on {
		s.busy.Show()
		s.busy.Start()
	} else {
		s.busy.Stop()
		s.busy.Hide()
	}
}

// signIn checks the fields and signs in off the UI thread: the key
// derivation takes about half a second.
func (s *signInScreen) signIn() {
	if s.working {
		return
	}
	name, pass, code := s.user.Selected, s.pass.Text, strings.TrimSpace(s.code.Text)
	switch {
	case name == "":
		s.status.Say(widget.DangerImportance, "Choose your name.")
		s.g.focus(s.user)
		return
	case pass == "":
		s.status.Say(widget.DangerImportance, "Type your passphrase.")
		s.g.focus(s.pass)
		return
	}
	s.status.Say(widget.MediumImportance, "Checking…")
	s.setWorking(true)
	g := s.g
	var sess *app.Session
	var err error
	g.background(func() {
		sess, err = g.v.SignIn(g.ctx, name, pass, code)
	}, func() {
		if g.signIn != s || g.ctx.Err() != nil {
			// The screen was replaced meanwhile; do not leave a
			// session open that nobody sees.
			if sess != nil {
				sess.Lock(g.ctx)
			}
			return
		}
		s.setWorking(false)
		s.status.SetText("")
		switch {
		case err == nil:
			g.startSession(sess)
			g.showShell()
		case errors.Is(err, app.ErrEnrollTOTP) && sess != nil:
			g.startSession(sess)
			g.showReenroll()
		case errors.Is(err, app.ErrCodeUsed):
			// The passphrase was right; the code was spent (back within
			// 30 s of locking): keep what was typed, ask for the next code.
			s.code.SetText("")
			s.status.Say(widget.MediumImportance, "That code was already used. Wait for the next code on your phone (a new one every 30 seconds), then type it here.")
			g.focus(s.code)
		default:
			// A throttled attempt was not tried: keep the passphrase.
			var throttled *app.ThrottledError
			if !errors.As(err, &throttled) {
				s.pass.SetText("")
			}
			s.code.SetText("")
			s.status.Say(widget.DangerImportance, plain.Error(err))
			g.focus(s.pass)
		}
	})
}

// reenrollScreen sets up a new authenticator after an admin's reset.
type reenrollScreen struct {
	g      *gui
	s      *app.Session
	panel  *enrollPanel
	done   *widget.Button
	status *kit.StatusText
}

// showReenroll asks the signed-in user to enroll a new authenticator.
func (g *gui) showReenroll() {
	s := g.session
	r := &reenrollScreen{g: g, s: s, status: kit.NewStatus(widget.DangerImportance)}
	g.reenroll = r
	enr, err := s.BeginTOTPEnrollment()
	if err != nil {
		g.lockNow()
		// Queued after the lock hook's change to the sign-in screen.
		g.post(func() {
			if g.signIn != nil {
				g.signIn.status.Say(widget.DangerImportance, "The new authenticator could not be set up. "+plain.Error(err))
			}
		})
		return
	}
	r.panel = newEnrollPanel(g, enr, "")
	r.done = widget.NewButtonWithIcon("Confirm and continue", theme.ConfirmIcon(), g.act(r.confirm))
	r.done.Importance = widget.HighImportance
	r.done.Disable()
	r.panel.onChange = func() {
		if r.panel.confirmed {
			r.done.Enable()
		} else {
			r.done.Disable()
		}
	}
	r.panel.onSubmit = r.confirm
	cancel := widget.NewButton("Cancel and lock", g.act(g.lockNow))
	box := container.NewVBox(
		kit.Heading("Set up your authenticator app again"),
		kit.Wrapped("An admin reset your authenticator, for example because of a lost or new phone. "+
			"Before you continue, set up the app on your phone with this new key. The old one no longer works."),
		card(r.panel.view),
		r.status,
		buttonRow(cancel, layout.NewSpacer(), r.done),
	)
	g.setScreen("reenroll", container.NewBorder(signedInBar(g, s), nil, nil, nil, column(720, box)), r.panel.code)
}

// confirm saves the new authenticator and opens the shell.
func (r *reenrollScreen) confirm() {
	if !r.panel.confirmed {
		return
	}
	if err := r.s.ConfirmTOTPEnrollment(r.g.ctx, r.panel.enr, digitsOnly(r.panel.code.Text)); err != nil {
		r.status.SetText(plain.Error(err))
		return
	}
	r.g.showShell()
}

// signedInBar is the thin bar above the re-enrollment screen.
func signedInBar(g *gui, s *app.Session) fyne.CanvasObject {
	u := s.User()
	lock := widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), g.act(g.lockNow))
	practice := widget.NewLabelWithStyle(g.practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	practice.SizeName = theme.SizeNameSubHeadingText
	return container.NewVBox(container.NewBorder(nil, nil,
		practice,
		container.NewHBox(widget.NewLabel("Signed in as "+u.Name+" ("+string(u.Role)+")"), lock)),
		widget.NewSeparator())
}
