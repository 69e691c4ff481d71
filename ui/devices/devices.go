package devices

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// devicesColumns are the Devices screen's column weights, with and
// without the admins' actions.
var (
	devicesColumns      = kit.Columns{0.24, 0.13, 0.14, 0.27, 0.22}
	devicesColumnsNoAct = kit.Columns{0.3, 0.15, 0.17, 0.38}
)

// revokeWarning is what a revocation cannot undo, said plainly.
const revokeWarning = "What was already on this computer cannot be recalled. From now on it can neither read the practice's changes nor send any."

// devicesScreen lists the practice's computers; admins add, rename and
// revoke them.
type devicesScreen struct {
	win fyne.Window
	s   *app.Session
	ctx context.Context

	admin  bool
	loaded bool
	dir    string
	devs   []app.Device
	busy   bool

	add      *widget.Button
	note     *widget.Label
	status   *kit.StatusText
	tableBox *fyne.Container
	table    *deviceTable
	view     fyne.CanvasObject

	// adding is the open "Add a device" dialog, for tests.
	adding *addDialog
}

// NewDevicesScreen is the Devices screen: the practice's computers with
// when each was added and last seen, and its status. Admins also get "Add
// a device…" (a one-time code for the new computer, then the fingerprint
// both screens must show before "Approve"), "Rename…" and "Revoke…",
// whose confirmation says what revoking cannot undo.
func NewDevicesScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newDevicesScreen(win, s).view
}

func newDevicesScreen(win fyne.Window, s *app.Session) *devicesScreen {
	ds := &devicesScreen{win: win, s: s, ctx: context.Background(), status: kit.NewStatus(widget.MediumImportance), tableBox: container.NewStack(kit.Quiet("Loading the list of computers…"))}
	ds.add = widget.NewButtonWithIcon("Add a device…", theme.ContentAddIcon(), kit.Act(s, ds.addDevice))
	ds.add.Importance = widget.HighImportance
	ds.add.Hide()
	ds.note = kit.Quiet("Only an admin can add, rename or revoke computers.")
	ds.note.Hide()
	content := container.NewVBox(
		kit.Heading("Computers"),
		kit.Wrapped("Every computer that shares this practice's vault. A new computer joins with a one-time code from an admin; "+
			"a lost, stolen or retired one is revoked here, so that it can no longer read or send the practice's changes."),
		kit.ButtonRow(ds.add),
		ds.note,
		ds.status,
		ds.tableBox,
	)
	ds.view = kit.Page(content)
	ds.load()
	return ds
}

// load reads the role, the folder and the computers off the UI thread.
func (ds *devicesScreen) load() {
	var u app.User
	var dir string
	var devs []app.Device
	var err error
	kit.Background(func() {
		u = ds.s.User()
		dir = ds.s.SyncFolder(ds.ctx)
		devs, err = ds.s.Devices(ds.ctx)
	}, func() {
		if !ds.loaded {
			ds.loaded = true
			ds.admin = u.Role == app.Admin
			cells := func(d app.Device) []cellValue {
				return []cellValue{{kit.Day(d.Added), widget.MediumImportance}, lastSeen(d), deviceStatus(d)}
			}
			headers := []string{"Computer", "Added", "Last seen", "Status"}
			if ds.admin {
				ds.table = newDeviceTable(devicesColumns, append(headers, ""), cells, ds.rowActions)
				ds.add.Show()
			} else {
				ds.table = newDeviceTable(devicesColumnsNoAct, headers, cells, nil)
				ds.note.Show()
			}
			ds.tableBox.Objects = []fyne.CanvasObject{ds.table.view}
			ds.tableBox.Refresh()
		}
		ds.dir = dir
		if err != nil {
			ds.status.Say(widget.DangerImportance, "The list of computers could not be loaded. "+plain.Error(err))
			return
		}
		ds.devs = devs
		ds.table.set(devs)
	})
}

// rowActions are an admin's buttons for one computer.
func (ds *devicesScreen) rowActions(d app.Device) []fyne.CanvasObject {
	rename := widget.NewButton("Rename…", kit.Act(ds.s, func() { ds.rename(d) }))
	revoke := widget.NewButton("Revoke…", kit.Act(ds.s, func() { ds.revoke(d) }))
	revoke.Importance = widget.DangerImportance
	kit.Enable(rename, !ds.busy)
	if d.This || !d.Revoked.IsZero() || ds.busy {
		revoke.Disable()
	}
	if d.This || !d.Revoked.IsZero() {
		revoke.Hide()
	}
	return []fyne.CanvasObject{rename, revoke}
}

// withFolder runs f with the sync folder, asking for it first when none
// is chosen yet.
func (ds *devicesScreen) withFolder(f func(dir string)) {
	if ds.dir != "" {
		f(ds.dir)
		return
	}
	msg := kit.Wrapped("Computers pair and hear of a revocation through the practice's shared sync folder, and none is chosen on this computer yet. Choose it now (the Sync screen shows it later).")
	dlg := dialog.NewCustomConfirm("Choose the sync folder", "Choose…", "Cancel", container.New(kit.FixedWidth(440), msg), func(ok bool) {
		if !ok {
			return
		}
		chooseFolder(ds.win, "", func(dir string) {
			var err error
			kit.Background(func() {
				err = ds.s.SetSyncFolder(ds.ctx, dir)
			}, func() {
				if err != nil {
					plain.ShowError(ds.win, "The folder was not saved", err)
					return
				}
				ds.dir = dir
				f(dir)
			})
		})
	}, ds.win)
	closeOnLock(ds.s, dlg)
	dlg.Show()
}

func (ds *devicesScreen) setBusy(on bool) {
	ds.busy = on
	kit.Enable(ds.add, !on)
	if ds.table != nil {
		ds.table.set(ds.devs)
	}
}

// rename asks for a new name.
func (ds *devicesScreen) rename(d app.Device) {
	name := kit.NewEntry(ds.s)
	name.SetText(d.Name)
	form := widget.NewForm(widget.NewFormItem("New name", name))
	content := container.New(kit.FixedWidth(440), container.NewVBox(
		kit.Wrapped("The name the practice's computers list this one by, for example “Front desk” or “Dr Silva's laptop”."), form))
	dlg := dialog.NewCustomConfirm("Rename “"+d.Name+"”", "Rename", "Cancel", content, func(ok bool) {
		newName := strings.TrimSpace(name.Text)
		if !ok || newName == "" || newName == d.Name {
			return
		}
		var err error
		ds.setBusy(true)
		kit.Background(func() {
			err = ds.s.RenameDevice(ds.ctx, d.ID, newName)
		}, func() {
			ds.setBusy(false)
			if err != nil {
				plain.ShowError(ds.win, "The computer was not renamed", err)
				return
			}
			ds.status.Say(widget.SuccessImportance, "“"+d.Name+"” is now called “"+newName+"”. The other computers learn the new name at their next sync.")
			ds.load()
		})
	}, ds.win)
	name.OnSubmitted = func(string) { dlg.Confirm() }
	closeOnLock(ds.s, dlg)
	dlg.Show()
	ds.win.Canvas().Focus(name)
}

// revoke confirms, then revokes the computer and syncs.
func (ds *devicesScreen) revoke(d app.Device) {
	msg := container.NewVBox(
		kit.Wrapped("Revoke “"+d.Name+"” when it is lost, stolen or retired."),
		kit.Bold(revokeWarning),
		kit.Wrapped("It stays protected only by its users' passphrases. This cannot be undone: to use it again, it joins anew with a new code."),
	)
	dlg := dialog.NewCustomConfirm("Revoke “"+d.Name+"”", "Revoke", "Cancel", container.New(kit.FixedWidth(460), msg), func(ok bool) {
		if !ok {
			return
		}
		ds.withFolder(func(dir string) {
			var err, syncErr error
			ds.setBusy(true)
			ds.status.Say(widget.MediumImportance, "Revoking “"+d.Name+"”…")
			kit.Background(func() {
				if err = ds.s.RevokeDevice(ds.ctx, dir, d.ID); err != nil {
					return
				}
				var rep app.SyncReport
				rep, syncErr = ds.s.Sync(ds.ctx, dir)
				publish(ds.s, pass{at: now(), dir: dir, rep: rep, err: syncErr})
			}, func() {
				ds.setBusy(false)
				if err != nil {
					ds.status.Say(widget.DangerImportance, "")
					plain.ShowError(ds.win, "“"+d.Name+"” was not revoked", err)
					return
				}
				msg := "“" + d.Name + "” was revoked. What was already on it cannot be recalled; from now on it can neither read the practice's changes nor send any."
				if syncErr != nil {
					msg += " The other computers learn of it at the next sync: " + plain.Error(syncErr)
				}
				ds.status.Say(widget.SuccessImportance, msg)
				ds.load()
			})
		})
	}, ds.win)
	dlg.SetConfirmImportance(widget.DangerImportance)
	closeOnLock(ds.s, dlg)
	dlg.Show()
}

// addDevice pairs a new computer.
func (ds *devicesScreen) addDevice() {
	ds.withFolder(func(dir string) {
		var inv *app.Invitation
		var err error
		ds.setBusy(true)
		kit.Background(func() {
			inv, err = ds.s.InviteDevice(ds.ctx, dir)
		}, func() {
			ds.setBusy(false)
			if err != nil {
				plain.ShowError(ds.win, "No code was made", err)
				return
			}
			ds.adding = newAddDialog(ds, dir, inv)
		})
	})
}

// addDialog walks an admin through pairing: the code, then the
// fingerprint to compare, then the result.
type addDialog struct {
	ds  *devicesScreen
	dir string
	inv *app.Invitation
	req cvsync.Request
	fp  string

	d       *dialog.CustomDialog
	body    *fyne.Container
	busy    *widget.Activity
	status  *kit.StatusText
	cancel  *widget.Button
	approve *widget.Button
	close   *widget.Button
	// stopWait ends the wait for the new computer.
	stopWait context.CancelFunc
	// step is "code", "fingerprint", "approving", "done", "failed",
	// "cancelled" or "closed".
	step string
}

func newAddDialog(ds *devicesScreen, dir string, inv *app.Invitation) *addDialog {
	a := &addDialog{ds: ds, dir: dir, inv: inv, body: container.NewStack(), busy: widget.NewActivity(), status: kit.NewStatus(widget.MediumImportance)}
	a.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), kit.Act(ds.s, a.cancelled))
	a.approve = widget.NewButtonWithIcon("Approve", theme.ConfirmIcon(), kit.Act(ds.s, a.approved))
	a.approve.Importance = widget.HighImportance
	a.close = widget.NewButtonWithIcon("Close", theme.ConfirmIcon(), kit.Act(ds.s, func() { a.d.Hide() }))
	content := container.New(kit.FixedWidth(520), container.NewBorder(nil, a.status, nil, nil, a.body))
	a.d = dialog.NewCustomWithoutButtons("Add a device", content, ds.win)
	a.d.SetOnClosed(func() {
		// However it closes (Cancel, Close, the session locking), the
		// wait ends and nothing more is approved.
		if a.step == "code" || a.step == "fingerprint" {
			a.step = "closed"
		}
		if a.stopWait != nil {
			a.stopWait()
		}
		if a.step == "closed" || a.step == "cancelled" {
			// Withdrawn: its files go, and the new computer hears so.
			go a.inv.Cancel()
		}
	})
	closeOnLock(ds.s, a.d)
	a.showCode()
	a.d.Show()
	a.wait()
	return a
}

func (a *addDialog) setBody(objs ...fyne.CanvasObject) {
	a.body.Objects = []fyne.CanvasObject{container.NewVBox(objs...)}
	a.body.Refresh()
}

// showCode is the first step: the code, and what to do with it.
func (a *addDialog) showCode() {
	a.step = "code"
	a.busy.Start()
	a.setBody(
		kit.Wrapped("On the new computer, give this code:"),
		newBigText(a.inv.Code).view,
		kit.Bold("On the new computer:"),
		kit.Wrapped("1. Start ClinicVault and choose “Join a practice”.\n"+
			"2. As the sync folder, choose this same shared folder:\n     "+a.dir+"\n"+
			"3. Type the code above and a name for the computer, then press Join."),
		kit.Quiet("The code works once, until "+clockTime(a.inv.Expires)+" (10 minutes). Keep this window open."),
		container.NewHBox(a.busy, widget.NewLabel("Waiting for the new computer to answer…")),
	)
	a.d.SetButtons([]fyne.CanvasObject{a.cancel})
}

// wait waits off the UI thread for the new computer's answer. It is not
// counted as pending work: it lasts until the computer answers, the code
// expires or the admin cancels.
func (a *addDialog) wait() {
	ctx, cancel := context.WithCancel(a.ds.ctx)
	a.stopWait = cancel
	var req cvsync.Request
	var fp string
	var err error
	go func() {
		req, fp, err = a.inv.WaitForDevice(ctx, now, poll)
		kit.Post(func() {
			a.busy.Stop()
			if a.step != "code" {
				return // cancelled
			}
			if err != nil {
				a.failed("No computer was added", err)
				return
			}
			a.req, a.fp = req, fp
			a.showFingerprint()
		})
	}()
}

// showFingerprint is the second step: the number both screens show.
func (a *addDialog) showFingerprint() {
	a.step = "fingerprint"
	name := a.req.Name
	if name == "" {
		name = "The new computer"
	} else {
		name = "“" + name + "”"
	}
	a.setBody(
		kit.Wrapped(name+" answered. Its screen now shows a number too."),
		newBigText(a.fp).view,
		kit.Bold("Does the new computer show exactly this number?"),
		kit.Wrapped("Approve only if every digit is the same. If they differ, press Cancel: another computer may have answered with the code."),
	)
	a.d.SetButtons([]fyne.CanvasObject{a.cancel, a.approve})
}

// approved adds the computer, then syncs so that it finds the practice's
// changes.
func (a *addDialog) approved() {
	if a.step != "fingerprint" {
		return
	}
	a.step = "approving"
	a.cancel.Disable()
	a.approve.Disable()
	a.status.Say(widget.MediumImportance, "Approving and sending the practice's changes…")
	var err, syncErr error
	ds := a.ds
	kit.Background(func() {
		if err = ds.s.ApproveDevice(ds.ctx, a.inv, a.req); err != nil {
			return
		}
		var rep app.SyncReport
		rep, syncErr = ds.s.Sync(ds.ctx, a.dir)
		publish(ds.s, pass{at: now(), dir: a.dir, rep: rep, err: syncErr})
	}, func() {
		a.cancel.Enable()
		a.approve.Enable()
		a.status.Say(widget.MediumImportance, "")
		if err != nil {
			a.failed("The computer was not added", err)
			return
		}
		a.step = "done"
		name := a.req.Name
		if name == "" {
			name = "new computer"
		}
		text := "Everyone signs in there with their own passphrase and the code from their authenticator app."
		if syncErr != nil {
			text += " The practice's latest changes reach it at the next sync: " + plain.Error(syncErr)
		}
		a.setBody(kit.NewNotice(kit.ToneOK, "“"+name+"” is now one of the practice's computers.", text))
		a.d.SetButtons([]fyne.CanvasObject{a.close})
		ds.status.Say(widget.SuccessImportance, "“"+name+"” was added.")
		ds.load()
	})
}

// failed shows why pairing ended.
func (a *addDialog) failed(title string, err error) {
	a.step = "failed"
	msg := plain.Error(err)
	switch {
	case errors.Is(err, cvsync.ErrPairingContested):
		title = "This code was answered twice"
	case errors.Is(err, cvsync.ErrPairingBroken), errors.Is(err, app.ErrDeviceIDTaken):
		// plain says what happened.
	case errors.Is(err, cvsync.ErrPairing):
		msg = "The answer in the folder does not match this code, so it was ignored. Start again with a new code."
	}
	a.setBody(kit.NewNotice(kit.ToneDanger, title, msg))
	a.d.SetButtons([]fyne.CanvasObject{a.close})
}

// cancelled stops waiting and closes the dialog; nothing is approved.
func (a *addDialog) cancelled() {
	a.step = "cancelled"
	a.d.Hide()
	a.ds.status.Say(widget.MediumImportance, "No computer was added.")
}
