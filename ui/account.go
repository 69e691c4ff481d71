package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// accountSession is what the My account screen needs from a session.
type accountSession interface {
	User() app.User
	ChangePassphrase(ctx context.Context, current, next string) error
}

var _ accountSession = (*app.Session)(nil)

// accountScreen changes the signed-in user's passphrase.
type accountScreen struct {
	g       *gui
	s       accountSession
	current *kit.Entry
	pair    *passphrasePair
	change  *widget.Button
	busy    *widget.Activity
	status  *kit.StatusText
	working bool
	view    fyne.CanvasObject
}

func newAccountScreen(g *gui, s accountSession) *accountScreen {
	u := s.User()
	a := &accountScreen{g: g, s: s, current: newPasswordEntry(g, ""), busy: widget.NewActivity(), status: kit.NewStatus(widget.MediumImportance)}
	a.pair = newPassphrasePair(g, func() (string, string) { return u.Name, g.practice })
	a.pair.onChange = a.refresh
	a.change = widget.NewButton("Change passphrase", g.act(a.submit))
	a.change.Importance = widget.HighImportance
	a.busy.Hide()
	a.current.OnSubmitted = func(string) { g.focus(a.pair.pass) }
	a.current.OnChanged = func(string) { a.refresh() }
	a.pair.confirm.OnSubmitted = func(string) { a.submit() }

	items := append([]*widget.FormItem{widget.NewFormItem("Current passphrase", a.current)}, a.pair.formItems("New passphrase")...)
	box := container.NewVBox(
		kit.Heading("My account"),
		widget.NewForm(
			widget.NewFormItem("Name", widget.NewLabel(u.Name)),
			widget.NewFormItem("Role", widget.NewLabel(roleLabel(u.Role))),
		),
		card(container.NewVBox(
			kit.Subheading("Change your passphrase"),
			kit.Wrapped("Type your current passphrase first, so nobody passing an unlocked screen can change it. "+
				"The new one works from your next sign-in; your authenticator app stays the same."),
			widget.NewForm(items...),
			a.status,
			container.NewHBox(layout.NewSpacer(), a.busy, a.change),
		)),
	)
	a.view = kit.Page(container.New(kit.FixedWidth(640), box))
	a.refresh()
	return a
}

func (a *accountScreen) refresh() {
	kit.Enable(a.change, !a.working && a.current.Text != "" && a.pair.ok())
}

// submit changes the passphrase off the UI thread: both passphrases go
// through the key derivation.
func (a *accountScreen) submit() {
	if a.working || a.change.Disabled() {
		return
	}
	cur, next := a.current.Text, a.pair.pass.Text
	a.working = true
	a.refresh()
	a.busy.Show()
	a.busy.Start()
	a.status.SetText("")
	g := a.g
	var err error
	g.background(func() {
		err = a.s.ChangePassphrase(g.ctx, cur, next)
	}, func() {
		a.working = false
		a.busy.Stop()
		a.busy.Hide()
		if err != nil {
			a.status.Importance = widget.DangerImportance
			a.status.SetText("Your passphrase was not changed. " + plain.Error(err))
			a.current.SetText("")
			g.focus(a.current)
			a.refresh()
			return
		}
		a.current.SetText("")
		a.pair.clear()
		a.status.Importance = widget.SuccessImportance
		a.status.SetText("Your passphrase was changed. Use the new one from your next sign-in.")
		a.refresh()
	})
}
