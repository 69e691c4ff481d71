package devices

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
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
	relay  app.RelayLink // the relay this computer syncs through (zero: none)
	devs   []app.Device
	busy   bool

	add      *widget.Button
	note     *widget.Label
	status   *kit.StatusText
	tableBox *fyne.Container
	table    *deviceTable
	view     fyne.CanvasObject

	// adding is the open "Add a device" dialog, and choosing the
	// question before it (folder or relay), for tests.
	adding   *addDialog
	choosing *wayDialog
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

// load reads the role, the folder, the relay and the computers off the
// UI thread.
func (ds *devicesScreen) load() {
	var u app.User
	var dir string
	var relay app.RelayLink
	var devs []app.Device
	var err error
	kit.Background(func() {
		u = ds.s.User()
		dir = ds.s.SyncFolder(ds.ctx)
		relay = ds.s.SyncRelay(ds.ctx)
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
		ds.dir, ds.relay = dir, relay
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

// Why the sync folder is asked for before going on.
const (
	folderForRevoke = "Computers hear of a revocation through the practice's shared sync folder, and none is chosen on this computer yet. Choose it now (the Sync screen shows it later)."
	folderForAdd    = "A new computer meets this one through the practice's shared sync folder or its relay, and neither is set on this computer yet. " +
		"Choose the folder now (the Sync screen shows it later), or set the relay first on the Sync screen, under “Relay…”."
)

// withFolder runs f with the sync folder, asking for it first, saying
// why, when none is chosen yet.
func (ds *devicesScreen) withFolder(why string, f func(dir string)) {
	if ds.dir != "" {
		f(ds.dir)
		return
	}
	msg := kit.Wrapped(why)
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
		revokeAt := func(places []app.Place) {
			var err, syncErr error
			ds.setBusy(true)
			ds.status.Say(widget.MediumImportance, "Revoking “"+d.Name+"”…")
			kit.Background(func() {
				if err = ds.s.RevokeDeviceAt(ds.ctx, places[0], d.ID); err != nil {
					return
				}
				// Every place this computer syncs through hears of it now
				// (a relay then disconnects the revoked computer).
				for _, p := range places {
					rep, perr := ds.s.SyncAt(ds.ctx, p)
					ps := pass{at: now(), rep: rep, err: perr}
					if p.IsRelay() {
						ps.relay = p.Relay.URL
					} else {
						ps.dir = p.Folder
					}
					publish(ds.s, ps)
					if syncErr == nil {
						syncErr = perr
					}
				}
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
		}
		relay := ds.relay // loaded off the UI thread with the folder
		if ds.dir == "" && !relay.IsZero() {
			revokeAt([]app.Place{app.RelayPlace(relay)})
			return
		}
		ds.withFolder(folderForRevoke, func(dir string) {
			places := []app.Place{app.FolderPlace(dir)}
			if !relay.IsZero() {
				places = append(places, app.RelayPlace(relay))
			}
			revokeAt(places)
		})
	}, ds.win)
	dlg.SetConfirmImportance(widget.DangerImportance)
	closeOnLock(ds.s, dlg)
	dlg.Show()
}
