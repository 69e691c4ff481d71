package ui

import (
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

// recoveryScreen uses the recovery key to give an admin a new passphrase
// and a new authenticator.
type recoveryScreen struct {
	g        *gui
	practice string

	key   *kit.Entry
	admin *widget.Select
	pair  *passphrasePair

	enr   *app.Enrollment
	panel *enrollPanel

	body    *fyne.Container
	details fyne.CanvasObject
	status  *kit.StatusText
	busy    *widget.Activity
	back    *widget.Button
	next    *widget.Button
	onPanel bool
	working bool
}

// showRecovery shows the "Use recovery key" screen.
func (g *gui) showRecovery() {
	r := newRecoveryScreen(g)
	g.recovery = r
	cancel := widget.NewButton("Cancel", g.act(func() { g.showSignIn("") }))
	page := container.NewVBox(
		kit.Heading("Use the recovery key"),
		kit.Wrapped("The recovery key gives an admin a new passphrase and a new authenticator app, and clears a lockout. "+
			"It is the 36-character key on the recovery kit printed when the vault was created."),
		card(r.body),
		r.status,
		buttonRow(cancel, layout.NewSpacer(), r.back, r.busy, r.next),
	)
	g.setScreen("recovery", container.NewBorder(nil, brandFooter(), nil, nil, column(720, page)), r.key)
}

func newRecoveryScreen(g *gui) *recoveryScreen {
	info, _ := g.v.Info()
	r := &recoveryScreen{
		g:        g,
		practice: info.Practice,
		key:      newEntry(g, "XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX"),
		status:   kit.NewStatus(widget.DangerImportance),
		busy:     widget.NewActivity(),
	}
	r.key.TextStyle = fyne.TextStyle{Monospace: true}
	r.admin = widget.NewSelect(info.Users, func(string) {
		g.activity()
		r.pair.update()
	})
	r.admin.PlaceHolder = "Choose the admin"
	r.pair = newPassphrasePair(g, func() (string, string) { return r.admin.Selected, r.practice })
	r.pair.onChange = r.refresh
	r.pair.confirm.OnSubmitted = func(string) { r.goNext() }
	r.key.OnChanged = func(string) { r.refresh() }
	r.key.OnSubmitted = func(string) { g.focus(r.admin) }
	items := append([]*widget.FormItem{
		widget.NewFormItem("Recovery key", r.key),
		{Text: "Admin", Widget: r.admin, HintText: "The admin whose passphrase or phone was lost."},
	}, r.pair.formItems("New passphrase")...)
	r.details = widget.NewForm(items...)
	r.body = container.NewStack(r.details)
	r.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), g.act(r.goBack))
	r.next = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), g.act(r.goNext))
	r.next.IconPlacement = widget.ButtonIconTrailingText
	r.next.Importance = widget.HighImportance
	r.busy.Hide()
	r.refresh()
	return r
}

func (r *recoveryScreen) refresh() {
	ok := false
	if r.onPanel {
		ok = r.panel.confirmed
		r.back.Enable()
	} else {
		ok = strings.TrimSpace(r.key.Text) != "" && r.admin.Selected != "" && r.pair.ok()
		r.back.Disable()
	}
	if r.working {
		ok = false
		r.back.Disable()
	}
	if ok {
		r.next.Enable()
	} else {
		r.next.Disable()
	}
}

func (r *recoveryScreen) goBack() {
	if r.working || !r.onPanel {
		return
	}
	r.onPanel = false
	r.body.Objects = []fyne.CanvasObject{r.details}
	r.body.Refresh()
	r.next.SetText("Next")
	r.status.SetText("")
	r.refresh()
	r.g.focus(r.key)
}

func (r *recoveryScreen) goNext() {
	if r.next.Disabled() {
		return
	}
	if r.onPanel {
		r.recover()
		return
	}
	raw, err := app.ParseRecoveryKey(r.key.Text)
	for i := range raw {
		raw[i] = 0
	}
	if err != nil {
		r.status.SetText(plain.Error(err))
		r.g.focus(r.key)
		return
	}
	r.status.SetText("")
	admin := r.admin.Selected
	if r.enr == nil || r.panel.who != admin {
		enr, err := app.NewEnrollment(r.practice, admin)
		if err != nil {
			r.status.SetText(plain.Error(err))
			return
		}
		r.enr = enr
		r.panel = newEnrollPanel(r.g, enr, admin)
		r.panel.onChange = r.refresh
		r.panel.onSubmit = r.goNext
	}
	r.onPanel = true
	r.body.Objects = []fyne.CanvasObject{container.NewVBox(
		kit.Subheading("New authenticator app for "+admin),
		r.panel.view,
	)}
	r.body.Refresh()
	r.next.SetText("Restore access")
	r.refresh()
	r.g.focus(r.panel.code)
}

// recover runs app's recovery off the UI thread.
func (r *recoveryScreen) recover() {
	key, admin, pass, enr := r.key.Text, r.admin.Selected, r.pair.pass.Text, r.enr
	r.working = true
	r.refresh()
	r.busy.Show()
	r.busy.Start()
	r.status.SetText("")
	g := r.g
	var err error
	g.background(func() {
		err = g.v.Recover(g.ctx, key, admin, pass, enr)
	}, func() {
		r.working = false
		r.busy.Stop()
		r.busy.Hide()
		if err != nil {
			r.status.SetText("Access was not restored. " + plain.Error(err))
			r.refresh()
			return
		}
		g.showSignIn(admin)
		g.showInfo("Access restored", admin+" can now sign in with the new passphrase and a code from the new authenticator app. "+
			"Wait for the app to show a new code: the one you just typed cannot be used again.")
	})
}
