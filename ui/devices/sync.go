package devices

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// syncColumns are the Sync screen's computer table's column weights.
var syncColumns = kit.Columns{0.3, 0.2, 0.5}

// syncScreen shows the sync folder, syncs now, and shows the last pass
// and every computer's status.
type syncScreen struct {
	win fyne.Window
	s   *app.Session
	ctx context.Context

	dir     string
	devs    []app.Device
	loaded  bool
	syncing bool
	last    *pass     // the pass shown
	devsAt  time.Time // when the table was loaded

	folder   *widget.Label
	choose   *widget.Button
	syncNow  *widget.Button
	busy     *widget.Activity
	busyText *widget.Label
	result   *kit.Notice
	status   *kit.StatusText
	table    *deviceTable
	view     fyne.CanvasObject
}

// NewSyncScreen is the Sync screen: the shared folder this computer syncs
// through ("Choose…" sets it), "Sync now" with an activity indicator, the
// last pass's result in words (this screen's or the watcher's), and a
// table of the practice's computers with when each was last seen and any
// problem (a clock running ahead, a refused batch and why, revoked). Every
// role may sync and choose the folder.
func NewSyncScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newSyncScreen(win, s).view
}

func newSyncScreen(win fyne.Window, s *app.Session) *syncScreen {
	y := &syncScreen{win: win, s: s, ctx: context.Background(),
		folder: kit.Bold("…"), busy: widget.NewActivity(), busyText: widget.NewLabel("Syncing…"), status: kit.NewStatus(widget.MediumImportance)}
	y.folder.Wrapping = fyne.TextWrapBreak // a long path breaks anywhere
	y.choose = widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), kit.Act(s, y.chooseFolder))
	y.syncNow = widget.NewButtonWithIcon("Sync now", theme.ViewRefreshIcon(), kit.Act(s, y.sync))
	y.syncNow.Importance = widget.HighImportance
	y.busy.Hide()
	y.busyText.Hide()
	y.result = kit.NewNotice(kit.ToneInfo, "", "")
	y.result.Hide()
	y.table = newDeviceTable(syncColumns, []string{"Computer", "Last seen", "Status"},
		func(d app.Device) []cellValue { return []cellValue{lastSeen(d), deviceStatus(d)} }, nil)

	where := container.NewBorder(nil, nil, widget.NewLabel("Sync folder:"), y.choose, y.folder)
	content := container.NewVBox(
		kit.Heading("Sync"),
		kit.Wrapped("The practice's computers keep in step through a shared folder: a network share, a USB stick that travels, "+
			"or a folder that OneDrive, Dropbox or Google Drive keeps in step. The folder holds only encrypted batches of changes. "+
			"While ClinicVault is open it syncs by itself whenever the folder changes."),
		kit.Card(where),
		kit.ButtonRow(y.syncNow, y.busy, y.busyText),
		y.status,
		y.result,
		kit.Subheading("Computers"),
		y.table.view,
	)
	y.view = newLiveView(kit.Page(content), func() func() {
		if p, ok := lastPass(s); ok {
			y.showPass(p)
		}
		return subscribe(s, y.showPass)
	})
	y.refreshButtons()
	y.load()
	return y
}

// load reads the folder and the computers off the UI thread.
func (y *syncScreen) load() {
	var dir string
	var devs []app.Device
	var err error
	kit.Background(func() {
		dir = y.s.SyncFolder(y.ctx)
		devs, err = y.s.Devices(y.ctx)
	}, func() {
		y.loaded = true
		y.dir = dir
		if y.last != nil && y.last.dir != dir {
			y.last = nil // through a folder no longer chosen
		}
		y.showFolder()
		if err != nil {
			y.status.Say(widget.DangerImportance, "The list of computers could not be loaded. "+plain.Error(err))
		} else {
			y.setDevices(devs)
		}
		if y.last != nil {
			y.showPass(*y.last) // again, with the devices' names
		}
		y.refreshButtons()
	})
}

// reloadDevices refreshes the table off the UI thread.
func (y *syncScreen) reloadDevices() {
	var devs []app.Device
	var err error
	kit.Background(func() {
		devs, err = y.s.Devices(y.ctx)
	}, func() {
		if err == nil {
			y.setDevices(devs)
		}
	})
}

func (y *syncScreen) setDevices(devs []app.Device) {
	y.devs = devs
	y.devsAt = now()
	y.table.set(devs)
}

func (y *syncScreen) showFolder() {
	if y.dir == "" {
		y.folder.SetText("not chosen yet")
		y.folder.Importance = widget.WarningImportance
		if y.last == nil {
			y.result.Set(kit.ToneInfo, "Choose the sync folder",
				"Pick the folder the practice's other computers use. On the first computer, pick or make an empty folder that every computer can reach.")
			y.result.Show()
		}
	} else {
		y.folder.SetText(y.dir)
		y.folder.Importance = widget.MediumImportance
		if y.last == nil {
			y.result.Hide()
		}
	}
	y.folder.Refresh()
}

func (y *syncScreen) refreshButtons() {
	kit.Enable(y.syncNow, y.loaded && y.dir != "" && !y.syncing)
	kit.Enable(y.choose, y.loaded && !y.syncing)
}

// chooseFolder asks for the folder, remembers it and syncs through it.
func (y *syncScreen) chooseFolder() {
	chooseFolder(y.win, y.dir, func(dir string) {
		var err error
		kit.Background(func() {
			err = y.s.SetSyncFolder(y.ctx, dir)
		}, func() {
			if err != nil {
				y.status.Say(widget.DangerImportance, "The folder was not saved. "+plain.Error(err))
				return
			}
			y.status.Say(widget.MediumImportance, "")
			y.dir = dir
			y.last = nil
			y.showFolder()
			y.refreshButtons()
			y.sync()
		})
	})
}

// sync runs one pass off the UI thread; the result arrives through the
// hub, like the watcher's.
func (y *syncScreen) sync() {
	if y.syncing || y.dir == "" {
		return
	}
	dir := y.dir
	y.syncing = true
	y.busy.Show()
	y.busy.Start()
	y.busyText.Show()
	y.refreshButtons()
	kit.Background(func() {
		rep, err := y.s.Sync(y.ctx, dir)
		publish(y.s, pass{at: now(), dir: dir, rep: rep, err: err})
	}, func() {
		y.syncing = false
		y.busy.Stop()
		y.busy.Hide()
		y.busyText.Hide()
		y.refreshButtons()
	})
}

// showPass shows a pass's result and reloads the table when the pass
// changed something (or every half minute, for "last seen").
func (y *syncScreen) showPass(p pass) {
	if y.dir != "" && p.dir != y.dir {
		return // through a folder no longer chosen
	}
	prev := y.last
	y.last = &p
	how := ""
	if p.auto {
		how = " (automatic)"
	}
	title := "Last sync at " + clockTime(p.at) + how
	switch {
	case errors.Is(p.err, cvsync.ErrUnreachable):
		y.result.Set(kit.ToneWarning, "Last try at "+clockTime(p.at)+how, plain.Unreachable)
	case p.err != nil:
		y.result.Set(kit.ToneDanger, "The last sync did not finish ("+clockTime(p.at)+")", plain.Error(p.err))
	case p.rep.Refused > 0:
		y.result.Set(kit.ToneDanger, title, reportText(p.rep, y.devs))
	case len(p.rep.Problems) > 0:
		y.result.Set(kit.ToneWarning, title, reportText(p.rep, y.devs))
	default:
		y.result.Set(kit.ToneOK, title, reportText(p.rep, y.devs))
	}
	y.result.Show()
	changed := p.rep.Sent+p.rep.Applied+p.rep.Sealed+p.rep.Refused > 0 || len(p.rep.Problems) > 0 ||
		prev == nil || (prev.err == nil) != (p.err == nil)
	if y.loaded && (changed || now().Sub(y.devsAt) > 30*time.Second) {
		y.reloadDevices()
	}
}

// liveView shows content and follows the hub while it is on screen:
// attach runs when Fyne draws it and returns what detaches it, which runs
// when Fyne drops its renderer (a screen the shell replaced).
type liveView struct {
	widget.BaseWidget
	content fyne.CanvasObject
	attach  func() (detach func())
}

func newLiveView(content fyne.CanvasObject, attach func() func()) *liveView {
	v := &liveView{content: content, attach: attach}
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer attaches and draws the content.
func (v *liveView) CreateRenderer() fyne.WidgetRenderer {
	return &liveRenderer{WidgetRenderer: widget.NewSimpleRenderer(v.content), detach: v.attach()}
}

type liveRenderer struct {
	fyne.WidgetRenderer
	detach func()
}

// Destroy detaches.
func (r *liveRenderer) Destroy() {
	r.detach()
	r.WidgetRenderer.Destroy()
}
