package devices

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// "Add a device…": the admin's side of pairing. With a relay set, the
// admin first chooses how the new computer meets this one (the shared
// folder or the relay); then the code and what to do with it on the new
// computer, the fingerprint both screens show, and the result.

// addDevice pairs a new computer: through the folder when no relay is
// set (asking for the folder when none is chosen either), else through
// the folder or the relay, as the admin chooses.
func (ds *devicesScreen) addDevice() {
	if ds.relay.IsZero() {
		ds.withFolder(folderForAdd, func(dir string) { ds.invite(app.FolderPlace(dir)) })
		return
	}
	ds.choosing = newWayDialog(ds)
}

// How a new computer meets this one.
const (
	wayFolder = "Through the shared sync folder"
	wayRelay  = "Through the relay"
)

// wayDialog asks how the new computer meets this one.
type wayDialog struct {
	ds     *devicesScreen
	d      *dialog.ConfirmDialog
	how    *widget.RadioGroup
	detail *widget.Label
}

func newWayDialog(ds *devicesScreen) *wayDialog {
	w := &wayDialog{ds: ds, detail: kit.Quiet("")}
	w.how = widget.NewRadioGroup([]string{wayFolder, wayRelay}, func(v string) {
		kit.Touch(ds.s)
		w.explain(v)
	})
	w.how.Required = true
	if ds.dir != "" {
		w.how.SetSelected(wayFolder)
	} else {
		w.how.SetSelected(wayRelay)
	}
	content := container.New(kit.FixedWidth(480), container.NewVBox(
		kit.Wrapped("How does the new computer reach this one?"),
		w.how,
		w.detail,
	))
	w.d = dialog.NewCustomConfirm("Add a device", "Make a code", "Cancel", content, func(ok bool) {
		if !ok {
			return
		}
		if w.how.Selected == wayRelay {
			ds.invite(app.RelayPlace(ds.relay))
			return
		}
		ds.withFolder(folderForAdd, func(dir string) { ds.invite(app.FolderPlace(dir)) })
	}, ds.win)
	w.d.SetConfirmImportance(widget.HighImportance)
	closeOnLock(ds.s, w.d)
	w.d.Show()
	return w
}

// explain says what the choice v means, with the folder's path or the
// relay's address.
func (w *wayDialog) explain(v string) {
	ds := w.ds
	switch {
	case v == wayRelay:
		w.detail.SetText("The new computer reaches the relay at " + ds.relay.URL + " from wherever it is: a second site, or from home. It needs no shared folder.")
	case ds.dir != "":
		w.detail.SetText("The new computer uses the same shared folder as this one, on the practice's network: " + ds.dir)
	default:
		w.detail.SetText("No sync folder is chosen on this computer yet: you choose it next. The new computer then uses the same folder, on the practice's network.")
	}
}

// invite makes a code for a new computer meeting this one at at, then
// opens the dialog that shows it. Through the relay, this computer
// syncs through it first (as device invite --relay does), so that the
// new computer finds the practice's changes there once approved.
func (ds *devicesScreen) invite(at app.Place) {
	var inv *app.Invitation
	var err error
	ds.setBusy(true)
	if at.IsRelay() {
		ds.status.Say(widget.MediumImportance, "Reaching the relay…")
	}
	kit.Background(func() {
		if !at.IsRelay() {
			inv, err = ds.s.InviteDevice(ds.ctx, at.Folder)
			return
		}
		if err = syncPass(ds.s, at); err != nil {
			return
		}
		inv, err = ds.s.InviteThroughRelay(ds.ctx, at.Relay)
	}, func() {
		ds.setBusy(false)
		ds.status.Say(widget.MediumImportance, "")
		if err != nil {
			plain.ShowError(ds.win, "No code was made", err)
			return
		}
		ds.adding = newAddDialog(ds, at, inv)
	})
}

// syncPass runs a sync pass through at, tells the Sync screens, and
// returns its error. It runs off the UI thread.
func syncPass(s *app.Session, at app.Place) error {
	rep, err := s.SyncAt(context.Background(), at)
	p := pass{at: now(), rep: rep, err: err}
	if at.IsRelay() {
		p.relay = at.Relay.URL
	} else {
		p.dir = at.Folder
	}
	publish(s, p)
	return err
}

// addDialog walks an admin through pairing: the code, then the
// fingerprint to compare, then the result.
type addDialog struct {
	ds  *devicesScreen
	at  app.Place // where the two computers meet: the folder or the relay
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

func newAddDialog(ds *devicesScreen, at app.Place, inv *app.Invitation) *addDialog {
	a := &addDialog{ds: ds, at: at, inv: inv, body: container.NewStack(), busy: widget.NewActivity(), status: kit.NewStatus(widget.MediumImportance)}
	a.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), kit.Act(ds.s, a.cancelled))
	a.approve = widget.NewButtonWithIcon("Approve", theme.ConfirmIcon(), kit.Act(ds.s, a.approved))
	a.approve.Importance = widget.HighImportance
	a.close = widget.NewButtonWithIcon("Close", theme.ConfirmIcon(), kit.Act(ds.s, func() { a.d.Hide() }))
	width := float32(520)
	if at.IsRelay() {
		width = 600 // the fingerprint and the command line, monospaced
	}
	content := container.New(kit.FixedWidth(width), container.NewBorder(nil, a.status, nil, nil, a.body))
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

// showCode is the first step: the code, and what to do with it on the
// new computer.
func (a *addDialog) showCode() {
	a.step = "code"
	a.busy.Start()
	objs := []fyne.CanvasObject{
		kit.Wrapped("On the new computer, give this code:"),
		newBigText(a.inv.Code).view,
		kit.Bold("On the new computer:"),
	}
	if a.at.IsRelay() {
		objs = append(objs, a.relaySteps()...)
	} else {
		objs = append(objs, kit.Wrapped("1. Start ClinicVault and choose “Join a practice”.\n"+
			"2. As the sync folder, choose this same shared folder:\n     "+a.at.Folder+"\n"+
			"3. Type the code above and a name for the computer, then press Join."))
	}
	objs = append(objs,
		kit.Quiet("The code works once, until "+clockTime(a.inv.Expires)+" (10 minutes). Keep this window open."),
		container.NewHBox(a.busy, widget.NewLabel("Waiting for the new computer to answer…")),
	)
	a.setBody(objs...)
	a.d.SetButtons([]fyne.CanvasObject{a.cancel})
}

// relaySteps say how the new computer joins through the relay: on the
// Join screen with the relay's address (its fingerprint is optional: the
// approval names it, and the new computer checks the relay it met), or
// on the command line.
func (a *addDialog) relaySteps() []fyne.CanvasObject {
	l := a.at.Relay
	flags := "--relay " + l.URL
	rows := []fyne.CanvasObject{rowTitle("Address"), monospace(l.URL)}
	if l.Fingerprint != "" {
		flags += " --fingerprint " + l.Fingerprint
		rows = append(rows, rowTitle("Fingerprint"), monospace(l.Fingerprint))
	}
	rows = append(rows, rowTitle("Command line"), monospace("clinicvault join "+flags+" --code "+a.inv.Code))
	return []fyne.CanvasObject{
		kit.Wrapped("1. Start ClinicVault and choose “Join a practice”.\n" +
			"2. Choose “A relay”, and type the relay's address (the fingerprint is optional).\n" +
			"3. Type the code above and a name for the computer, then press Join.\n" +
			"Or, on its command line, run the command below."),
		kit.Card(container.New(layout.NewFormLayout(), rows...)),
	}
}

// rowTitle is the title of a row of values: bold, on one line.
func rowTitle(text string) *widget.Label {
	return widget.NewLabelWithStyle(text, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
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
		// The new list of computers goes out; a relay admits the new
		// one only once it has it.
		syncErr = syncPass(ds.s, a.at)
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
		where := "in the folder"
		if a.at.IsRelay() {
			where = "through the relay"
		}
		msg = "The answer " + where + " does not match this code, so it was ignored. Start again with a new code."
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
