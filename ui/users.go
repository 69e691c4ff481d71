package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// userAdmin is what the Users screen needs from a session.
type userAdmin interface {
	User() app.User
	ListUsers(ctx context.Context) ([]app.User, error)
	AddUser(ctx context.Context, name string, role app.Role, passphrase string, enr *app.Enrollment) error
	RemoveUser(ctx context.Context, name string) error
	SetRole(ctx context.Context, name string, role app.Role) error
	ResetTOTP(ctx context.Context, name string) error
	UnlockUser(ctx context.Context, name string) error
	SetBookable(ctx context.Context, name string, bookable bool) error
	OnRekey(fn func(app.RekeyProgress))
}

var _ userAdmin = (*app.Session)(nil)

// roleChoices are the roles as the role pickers show them.
var roleChoices = []string{"Receptionist", "Clinician", "Admin"}

// roleLabel is a role as the role pickers show it.
func roleLabel(r app.Role) string {
	if r == "" {
		return ""
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

// userColumns are the Users list's column weights.
var userColumns = kit.Columns{0.28, 0.16, 0.24, 0.32}

// usersScreen lists the staff and holds the admin actions.
type usersScreen struct {
	g     *gui
	s     userAdmin
	users []app.User
	sel   string // the selected user's name

	list     *widget.List
	status   *kit.StatusText
	add      *widget.Button
	setRole  *widget.Button
	resetTOT *widget.Button
	unlock   *widget.Button
	remove   *widget.Button
	bookable *widget.Button
	view     fyne.CanvasObject

	// adding is the open "Add user" dialog, for tests.
	adding *addUserDialog
}

func newUsersScreen(g *gui, s userAdmin) *usersScreen {
	u := &usersScreen{g: g, s: s, status: kit.NewStatus(widget.MediumImportance)}
	u.list = widget.NewList(
		func() int { return len(u.users) },
		func() fyne.CanvasObject {
			return container.New(userColumns, cell(), cell(), cell(), cell())
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*fyne.Container).Objects
			usr := u.users[id]
			name := usr.Name
			if usr.ID == s.User().ID {
				name += " (you)"
			}
			row[0].(*widget.Label).SetText(name)
			row[1].(*widget.Label).SetText(staffRoleText(usr))
			row[2].(*widget.Label).SetText(lastSignIn(usr))
			st := row[3].(*widget.Label)
			st.SetText(userStatus(usr))
			if usr.LockedOut || usr.Failures > 0 || usr.TOTPReset {
				st.Importance = widget.WarningImportance
			} else {
				st.Importance = widget.MediumImportance
			}
			st.Refresh()
		},
	)
	u.list.OnSelected = func(id widget.ListItemID) {
		g.activity()
		if id < len(u.users) {
			u.sel = u.users[id].Name
		}
		u.refreshButtons()
	}
	u.list.OnUnselected = func(widget.ListItemID) {
		u.sel = ""
		u.refreshButtons()
	}
	u.add = widget.NewButtonWithIcon("Add user…", theme.ContentAddIcon(), g.act(u.addUser))
	u.add.Importance = widget.HighImportance
	u.setRole = widget.NewButton("Change role…", g.act(u.changeRole))
	u.resetTOT = widget.NewButton("Reset authenticator…", g.act(u.resetTOTP))
	u.unlock = widget.NewButton("Unlock", g.act(u.unlockUser))
	u.remove = widget.NewButtonWithIcon("Remove…", theme.DeleteIcon(), g.act(u.removeUser))
	u.bookable = widget.NewButton("Sees patients", g.act(u.toggleBookable))

	header := container.New(userColumns, kit.HeaderCell("Name"), kit.HeaderCell("Role"), kit.HeaderCell("Last sign-in"), kit.HeaderCell("Status"))
	top := container.NewVBox(
		kit.Heading("Staff"),
		kit.Wrapped("Everyone who can sign in to this vault. Select a person to change their role, mark whether they see patients (the day book offers them), reset their authenticator app, unlock or remove them."),
		container.NewHScroll(container.NewHBox(u.add, widget.NewSeparator(), u.setRole, u.bookable, u.resetTOT, u.unlock, u.remove)),
		u.status,
		header,
		widget.NewSeparator(),
	)
	u.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, u.list))
	u.refresh()
	return u
}

// cell is a list cell that truncates instead of widening the row.
func cell() *widget.Label {
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// lastSignIn is the "Last sign-in" column.
func lastSignIn(u app.User) string {
	if u.LastSignIn.IsZero() {
		return "never"
	}
	return u.LastSignIn.Local().Format("2 Jan 2006 15:04")
}

// userStatus is the "Status" column.
func userStatus(u app.User) string {
	var parts []string
	switch {
	case u.LockedOut:
		parts = append(parts, "locked out")
	case u.Failures == 1:
		parts = append(parts, "1 failed sign-in")
	case u.Failures > 1:
		parts = append(parts, fmt.Sprintf("%d failed sign-ins", u.Failures))
	}
	if u.TOTPReset {
		parts = append(parts, "authenticator reset pending")
	}
	if len(parts) == 0 {
		return "active"
	}
	return strings.Join(parts, ", ")
}

// refresh reloads the staff list and keeps the selection.
func (u *usersScreen) refresh() {
	users, err := u.s.ListUsers(u.g.ctx)
	if err != nil {
		u.note(true, "The staff list could not be loaded. "+plain.Error(err))
		users = nil
	}
	sel := u.sel
	u.users = users
	u.list.UnselectAll()
	u.sel = ""
	u.list.Refresh()
	for i, usr := range users {
		if usr.Name == sel {
			u.list.Select(i)
		}
	}
	u.refreshButtons()
}

// selected returns the selected user.
func (u *usersScreen) selected() (app.User, bool) {
	for _, usr := range u.users {
		if usr.Name == u.sel {
			return usr, true
		}
	}
	return app.User{}, false
}

func (u *usersScreen) refreshButtons() {
	usr, ok := u.selected()
	self := ok && usr.ID == u.s.User().ID
	kit.Enable(u.setRole, ok)
	kit.Enable(u.resetTOT, ok)
	kit.Enable(u.unlock, ok && (usr.LockedOut || usr.Failures > 0))
	kit.Enable(u.remove, ok && !self)
	kit.Enable(u.bookable, ok && usr.Role.Clinical())
	if ok && usr.Bookable {
		u.bookable.SetText("Does not see patients")
	} else {
		u.bookable.SetText("Sees patients")
	}
}

// staffRoleText is the role, and whether the day book offers the person
// when that is not what the role says by default.
func staffRoleText(usr app.User) string {
	switch {
	case usr.Role == app.Admin && usr.Bookable:
		return "Admin, sees patients"
	case usr.Role == app.Clinician && !usr.Bookable:
		return "Clinician, not booked"
	}
	return roleLabel(usr.Role)
}

// toggleBookable marks whether the selected person sees patients.
func (u *usersScreen) toggleBookable() {
	usr, ok := u.selected()
	if !ok {
		return
	}
	on := !usr.Bookable
	err := u.s.SetBookable(u.g.ctx, usr.Name, on)
	done := usr.Name + " sees patients: the day book offers them."
	if !on {
		done = usr.Name + " does not see patients: the day book no longer offers them. Their booked appointments stay."
	}
	u.afterAction("Not changed", err, done)
}

// note shows a message above the list.
func (u *usersScreen) note(isErr bool, msg string) {
	if isErr {
		u.status.Importance = widget.DangerImportance
	} else {
		u.status.Importance = widget.SuccessImportance
	}
	u.status.SetText(msg)
}

// afterAction reports an action's result and reloads the list.
func (u *usersScreen) afterAction(title string, err error, done string) {
	if err != nil {
		u.g.showError(title, err)
		u.status.SetText("")
	} else {
		u.note(false, done)
	}
	u.refresh()
	if u.g.shell != nil {
		u.g.shell.refreshWho()
	}
}

// confirm shows a yes/no dialog whose confirm button says action.
func (u *usersScreen) confirm(title, action, msg string, danger bool, yes func()) {
	d := dialog.NewCustomConfirm(title, action, "Cancel", container.New(kit.FixedWidth(440), kit.Wrapped(msg)), func(ok bool) {
		u.g.activity()
		if ok {
			yes()
		}
	}, u.g.win)
	if danger {
		d.SetConfirmImportance(widget.DangerImportance)
	}
	u.g.showDialog(d)
}

func (u *usersScreen) changeRole() {
	usr, ok := u.selected()
	if !ok {
		return
	}
	pick := widget.NewSelect(roleChoices, func(string) { u.g.activity() })
	pick.SetSelected(roleLabel(usr.Role))
	explain := kit.Wrapped("Admins manage staff and read the audit log. Admins and clinicians can open clinical records; receptionists cannot.")
	content := container.New(kit.FixedWidth(440), container.NewVBox(
		widget.NewForm(widget.NewFormItem("New role for "+usr.Name, pick)),
		explain,
	))
	d := dialog.NewCustomConfirm("Change role", "Change role", "Cancel", content, func(ok bool) {
		u.g.activity()
		if !ok {
			return
		}
		role, err := app.ParseRole(pick.Selected)
		if err != nil {
			u.g.showError("The role was not changed", err)
			return
		}
		if role == usr.Role {
			return
		}
		u.keyChange("Changing "+usr.Name+"'s role", func() error {
			return u.s.SetRole(u.g.ctx, usr.Name, role)
		}, func(err error) {
			u.afterAction("The role was not changed", err, fmt.Sprintf("%s is now %s %s.", usr.Name, articleFor(role), role))
			if err == nil && usr.ID == u.s.User().ID && u.g.shell != nil {
				// Your own role changed: the navigation changes with it.
				u.g.showShell()
			}
		})
	}, u.g.win)
	u.g.showDialog(d)
	u.g.focus(pick)
}

func articleFor(r app.Role) string {
	if r == app.Admin {
		return "an"
	}
	return "a"
}

func (u *usersScreen) resetTOTP() {
	usr, ok := u.selected()
	if !ok {
		return
	}
	u.confirm("Reset authenticator", "Reset",
		fmt.Sprintf("Use this when %s lost or replaced their phone. At their next sign-in, %s types their passphrase and then sets up the authenticator app again with a new QR code. Their passphrase does not change.", usr.Name, usr.Name),
		false, func() {
			err := u.s.ResetTOTP(u.g.ctx, usr.Name)
			u.afterAction("The authenticator was not reset", err, usr.Name+" will set up the authenticator app again at their next sign-in.")
		})
}

func (u *usersScreen) unlockUser() {
	usr, ok := u.selected()
	if !ok {
		return
	}
	err := u.s.UnlockUser(u.g.ctx, usr.Name)
	u.afterAction("The account was not unlocked", err, usr.Name+"'s failed sign-ins are cleared: they can sign in again.")
}

func (u *usersScreen) removeUser() {
	usr, ok := u.selected()
	if !ok {
		return
	}
	u.confirm("Remove "+usr.Name, "Remove",
		fmt.Sprintf("Remove %s from the practice? Their passphrase will no longer open anything in this vault. What they did stays in the audit log.", usr.Name),
		true, func() {
			u.keyChange("Removing "+usr.Name, func() error {
				return u.s.RemoveUser(u.g.ctx, usr.Name)
			}, func(err error) {
				if err == nil {
					u.sel = ""
				}
				u.afterAction(usr.Name+" was not removed", err, usr.Name+" was removed. The practice's keys were changed: what is written from now on opens only with the keys of the people who remain.")
			})
		})
}

// keyChange runs a change of staff that changes the practice's keys (a
// removal, a demotion) away from the window, behind a dialog that shows
// how far the re-encryption of this computer's databases has got: on a
// large practice it takes seconds. done runs on the window's thread.
func (u *usersScreen) keyChange(title string, work func() error, done func(error)) {
	label := widget.NewLabel("Changing the practice's keys…")
	bar := widget.NewProgressBar()
	content := container.New(kit.FixedWidth(440), container.NewVBox(
		kit.Wrapped("Whoever leaves keeps nothing that opens what is written from now on: this computer's databases are encrypted again under new keys. Keep ClinicVault open until this is done."),
		label, bar))
	d := dialog.NewCustomWithoutButtons(title, content, u.g.win)
	u.g.showDialog(d)
	// The worker holds the session while it reports: it never waits on
	// the window, and the window shows the newest report only.
	var latest atomic.Pointer[app.RekeyProgress]
	var posted atomic.Bool
	u.s.OnRekey(func(p app.RekeyProgress) {
		latest.Store(&p)
		if posted.CompareAndSwap(false, true) {
			go u.g.post(func() {
				posted.Store(false)
				p := latest.Load()
				label.SetText("Encrypting " + p.Database + " under its new key…")
				if p.Total > 0 {
					bar.SetValue(float64(p.Done) / float64(p.Total))
				}
			})
		}
	})
	var err error
	u.g.background(func() { err = work() }, func() {
		u.s.OnRekey(nil)
		d.Hide()
		done(err)
	})
}

// addUserDialog adds a member of staff in two steps: their details and
// passphrase, then their authenticator app.
type addUserDialog struct {
	u      *usersScreen
	d      *dialog.CustomDialog
	name   *kit.Entry
	role   *widget.Select
	pair   *passphrasePair
	panel  *enrollPanel
	body   *fyne.Container
	form   fyne.CanvasObject
	status *kit.StatusText
	busy   *widget.Activity
	back   *widget.Button
	next   *widget.Button
	cancel *widget.Button
	step2  bool
	adding bool
	closed bool
}

func (u *usersScreen) addUser() {
	g := u.g
	a := &addUserDialog{
		u:      u,
		name:   newEntry(g, "for example Sam Reyes"),
		status: kit.NewStatus(widget.DangerImportance),
		busy:   widget.NewActivity(),
	}
	u.adding = a
	a.role = widget.NewSelect(roleChoices, func(string) { g.activity() })
	a.role.SetSelected(roleLabel(app.Receptionist))
	a.pair = newPassphrasePair(g, func() (string, string) { return a.nameText(), g.practice })
	a.pair.onChange = a.refresh
	a.name.OnChanged = func(string) { a.pair.update() }
	a.name.OnSubmitted = func(string) { g.focus(a.pair.pass) }
	a.pair.confirm.OnSubmitted = func(string) { a.goNext() }
	a.form = container.NewVBox(
		kit.Wrapped("Ask the new member of staff to come to this computer: they type their own passphrase here, then scan a QR code with their phone."),
		widget.NewForm(append([]*widget.FormItem{
			widget.NewFormItem("Name", a.name),
			{Text: "Role", Widget: a.role, HintText: "Receptionists cannot open clinical records; clinicians and admins can."},
		}, a.pair.formItems("Their passphrase")...)...),
	)
	a.body = container.NewStack(a.form)
	a.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), g.act(func() { a.d.Hide() }))
	a.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), g.act(a.goBack))
	a.next = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), g.act(a.goNext))
	a.next.IconPlacement = widget.ButtonIconTrailingText
	a.next.Importance = widget.HighImportance
	a.busy.Hide()
	content := container.NewBorder(nil, container.NewBorder(nil, nil, nil, a.busy, a.status), nil, nil,
		container.NewVScroll(a.body))
	a.d = dialog.NewCustomWithoutButtons("Add a member of staff", content, g.win)
	a.d.SetButtons([]fyne.CanvasObject{a.cancel, a.back, a.next})
	a.d.SetOnClosed(func() { a.closed = true })
	a.d.Resize(fyne.NewSize(760, 580))
	a.refresh()
	g.showDialog(a.d)
	g.focus(a.name)
}

func (a *addUserDialog) nameText() string { return strings.TrimSpace(a.name.Text) }

func (a *addUserDialog) refresh() {
	ok := false
	if a.step2 {
		ok = a.panel.confirmed
	} else {
		ok = a.nameText() != "" && a.role.Selected != "" && a.pair.ok()
	}
	kit.Enable(a.next, ok && !a.adding)
	kit.Enable(a.back, a.step2 && !a.adding)
	kit.Enable(a.cancel, !a.adding)
}

func (a *addUserDialog) goBack() {
	if !a.step2 || a.adding {
		return
	}
	a.step2 = false
	a.body.Objects = []fyne.CanvasObject{a.form}
	a.body.Refresh()
	a.next.SetText("Next")
	a.status.SetText("")
	a.refresh()
	a.u.g.focus(a.name)
}

func (a *addUserDialog) goNext() {
	if a.next.Disabled() {
		return
	}
	if a.step2 {
		a.save()
		return
	}
	g := a.u.g
	name := a.nameText()
	for _, usr := range a.u.users {
		if strings.EqualFold(usr.Name, name) {
			a.status.SetText(plain.Error(app.ErrUserExists))
			return
		}
	}
	if a.panel == nil || a.panel.who != name {
		enr, err := app.NewEnrollment(g.practice, name)
		if err != nil {
			a.status.SetText(plain.Error(err))
			return
		}
		a.panel = newEnrollPanel(g, enr, name)
		a.panel.onChange = a.refresh
		a.panel.onSubmit = a.goNext
	}
	a.step2 = true
	a.status.SetText("")
	a.body.Objects = []fyne.CanvasObject{container.NewVBox(
		kit.Subheading("Authenticator app for "+name),
		a.panel.view,
	)}
	a.body.Refresh()
	a.next.SetText("Add " + name)
	a.refresh()
	g.focus(a.panel.code)
}

// save adds the user off the UI thread (key derivation takes a moment).
func (a *addUserDialog) save() {
	g := a.u.g
	name, pass, enr := a.nameText(), a.pair.pass.Text, a.panel.enr
	role, err := app.ParseRole(a.role.Selected)
	if err != nil {
		a.status.SetText(plain.Error(err))
		return
	}
	a.adding = true
	a.refresh()
	a.busy.Show()
	a.busy.Start()
	a.status.SetText("")
	g.background(func() {
		err = a.u.s.AddUser(g.ctx, name, role, pass, enr)
	}, func() {
		a.adding = false
		a.busy.Stop()
		a.busy.Hide()
		a.refresh()
		if err != nil {
			if errors.Is(err, app.ErrUserExists) || errors.Is(err, app.ErrPolicy) || errors.Is(err, app.ErrUsage) {
				a.goBack()
			}
			a.status.SetText("The user was not added. " + plain.Error(err))
			if a.closed {
				g.showError("The user was not added", err)
			}
			return
		}
		a.pair.clear()
		if !a.closed {
			a.d.Hide()
		}
		a.u.sel = name
		a.u.note(false, fmt.Sprintf("%s was added as %s %s. They can sign in with their passphrase and the next code their app shows.", name, articleFor(role), role))
		a.u.refresh()
	})
}
