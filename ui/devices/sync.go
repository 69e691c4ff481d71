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

// syncScreen shows the sync folder and the relay, syncs now, and shows
// the last pass through each and every computer's status.
type syncScreen struct {
	win fyne.Window
	s   *app.Session
	ctx context.Context

	dir       string
	relay     app.RelayLink
	received  time.Time // when another computer's change was last applied
	devs      []app.Device
	loaded    bool
	syncing   bool
	last      *pass     // the pass through the folder shown
	lastRelay *pass     // the pass through the relay shown
	devsAt    time.Time // when the table was loaded

	folder      *widget.Label
	choose      *widget.Button
	relayCard   *relayCard
	relayDlg    *relayDialog // the last "Relay…" dialog, for tests
	syncNow     *widget.Button
	busy        *widget.Activity
	busyText    *widget.Label
	result      *kit.Notice // the last pass through the folder
	relayResult *kit.Notice // the last pass through the relay
	status      *kit.StatusText
	table       *deviceTable
	view        fyne.CanvasObject
}

// NewSyncScreen is the Sync screen: the shared folder this computer syncs
// through ("Choose…" sets it), the relay it syncs through with its state
// ("Relay…" sets it), "Sync now" with an activity indicator, the last
// pass's result through each in words (this screen's or the watcher's),
// and a table of the practice's computers with when each was last seen
// and any problem (a clock running ahead, a refused batch and why,
// revoked). Every role may sync and choose the folder and the relay; only
// an admin claims a new relay.
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
	y.relayResult = kit.NewNotice(kit.ToneInfo, "", "")
	y.relayResult.Hide()
	y.table = newDeviceTable(syncColumns, []string{"Computer", "Last seen", "Status"},
		func(d app.Device) []cellValue { return []cellValue{lastSeen(d), deviceStatus(d)} }, nil)

	folderLabel, relayLabel := widget.NewLabel("Sync folder:"), widget.NewLabel("Relay:")
	labels := kit.FixedWidth(max(folderLabel.MinSize().Width, relayLabel.MinSize().Width))
	y.relayCard = newRelayCard(y, container.New(labels, relayLabel))
	where := container.NewBorder(nil, nil, container.New(labels, folderLabel), container.NewVBox(y.choose), y.folder)
	content := container.NewVBox(
		kit.Heading("Sync"),
		kit.Wrapped("The practice's computers keep in step through a shared folder: a network share, a USB stick that travels, "+
			"or a folder that OneDrive, Dropbox or Google Drive keeps in step. The folder holds only encrypted batches of changes. "+
			"For a second site or laptops away from the practice, a relay does the same over the network: a server that holds only encrypted batches. "+
			"While ClinicVault is open it syncs by itself whenever something changes."),
		kit.Card(where),
		y.relayCard.view,
		kit.ButtonRow(y.syncNow, y.busy, y.busyText),
		y.status,
		y.result,
		y.relayResult,
		kit.Subheading("Computers"),
		y.table.view,
	)
	y.view = newLiveView(kit.Page(content), func() func() {
		for _, p := range lastPasses(s) {
			y.showPass(p)
		}
		return subscribe(s, y.showPass)
	})
	y.refreshButtons()
	y.load()
	return y
}

// load reads the folder, the relay and the computers off the UI thread.
func (y *syncScreen) load() {
	var dir string
	var relay app.RelayLink
	var received time.Time
	var devs []app.Device
	var err error
	kit.Background(func() {
		dir = y.s.SyncFolder(y.ctx)
		relay = y.s.SyncRelay(y.ctx)
		received = y.s.LastChangeReceived(y.ctx)
		devs, err = y.s.Devices(y.ctx)
	}, func() {
		y.loaded = true
		y.dir, y.relay, y.received = dir, relay, received
		if y.last != nil && y.last.dir != dir {
			y.last = nil // through a folder no longer chosen
			y.result.Hide()
		}
		if y.lastRelay != nil && y.lastRelay.relay != relay.URL {
			y.lastRelay = nil // through a relay no longer set
		}
		y.showFolder()
		y.showRelay()
		if err != nil {
			y.status.Say(widget.DangerImportance, "The list of computers could not be loaded. "+plain.Error(err))
		} else {
			y.setDevices(devs)
		}
		// Again, with the devices' names and the places' titles.
		for _, p := range []*pass{y.last, y.lastRelay} {
			if p != nil {
				y.showPass(*p)
			}
		}
		y.refreshButtons()
	})
}

// reloadDevices refreshes the table, and when a change last arrived, off
// the UI thread.
func (y *syncScreen) reloadDevices() {
	var devs []app.Device
	var received time.Time
	var err error
	kit.Background(func() {
		devs, err = y.s.Devices(y.ctx)
		received = y.s.LastChangeReceived(y.ctx)
	}, func() {
		if err == nil {
			y.setDevices(devs)
		}
		y.received = received
		y.showRelay()
	})
}

func (y *syncScreen) setDevices(devs []app.Device) {
	y.devs = devs
	y.devsAt = now()
	y.table.set(devs)
}

func (y *syncScreen) showFolder() {
	y.folder.TextStyle = fyne.TextStyle{Bold: true}
	y.folder.Importance = widget.MediumImportance
	switch {
	case y.dir != "":
		y.folder.SetText(y.dir)
		if y.last == nil {
			y.result.Hide()
		}
	case !y.relay.IsZero():
		// The relay alone will do: no need to ask for a folder.
		y.folder.SetText("not chosen: this computer syncs through the relay only")
		y.folder.TextStyle = fyne.TextStyle{Italic: true}
		y.result.Hide()
	default:
		y.folder.SetText("not chosen yet")
		y.folder.Importance = widget.WarningImportance
		if y.last == nil {
			y.result.Set(kit.ToneInfo, "Choose the sync folder",
				"Pick the folder the practice's other computers use. On the first computer, pick or make an empty folder that every computer can reach. "+
					"A computer away from the practice sets the relay instead.")
			y.result.Show()
		}
	}
	y.folder.Refresh()
}

func (y *syncScreen) refreshButtons() {
	kit.Enable(y.syncNow, y.loaded && len(y.places()) > 0 && !y.syncing)
	kit.Enable(y.choose, y.loaded && !y.syncing)
	kit.Enable(y.relayCard.edit, y.loaded && !y.syncing)
}

// places are where "Sync now" syncs: the folder and the relay, those set.
func (y *syncScreen) places() []app.Place {
	var ps []app.Place
	if y.dir != "" {
		ps = append(ps, app.FolderPlace(y.dir))
	}
	if !y.relay.IsZero() {
		ps = append(ps, app.RelayPlace(y.relay))
	}
	return ps
}

// both reports whether the folder and the relay are both set: the
// results then say which place each pass went through.
func (y *syncScreen) both() bool { return y.dir != "" && !y.relay.IsZero() }

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
			y.syncAt(app.FolderPlace(dir))
		})
	})
}

// sync runs a pass through the folder and one through the relay, those
// set.
func (y *syncScreen) sync() { y.syncAt(y.places()...) }

// syncAt runs a pass through each place, one after the other, off the UI
// thread; the results arrive through the hub, like the watcher's.
func (y *syncScreen) syncAt(places ...app.Place) {
	if y.syncing || len(places) == 0 {
		return
	}
	y.syncing = true
	y.busy.Show()
	y.busy.Start()
	y.busyText.Show()
	y.refreshButtons()
	kit.Background(func() {
		for _, pl := range places {
			rep, err := y.s.SyncAt(y.ctx, pl)
			p := pass{at: now(), rep: rep, err: err}
			if pl.IsRelay() {
				p.relay = pl.Relay.URL
			} else {
				p.dir = pl.Folder
			}
			publish(y.s, p)
		}
	}, func() {
		y.syncing = false
		y.busy.Stop()
		y.busy.Hide()
		y.busyText.Hide()
		y.refreshButtons()
	})
}

// showPass shows a pass's result, through the folder or the relay, and
// reloads the table when the pass changed something (or every half
// minute, for "last seen").
func (y *syncScreen) showPass(p pass) {
	var prev *pass
	notice, where := y.result, " through the folder"
	if p.relay != "" {
		if y.loaded && p.relay != y.relay.URL {
			return // through a relay no longer set
		}
		prev, y.lastRelay = y.lastRelay, &p
		notice, where = y.relayResult, " through the relay"
	} else {
		if y.dir != "" && p.dir != y.dir {
			return // through a folder no longer chosen
		}
		prev, y.last = y.last, &p
	}
	if !y.both() {
		where = ""
	}
	how := ""
	if p.auto {
		how = " (automatic)"
	}
	at := clockTime(p.at)
	title := "Last sync at " + at + where + how
	switch {
	case errors.Is(p.err, cvsync.ErrUnreachable):
		notice.Set(kit.ToneWarning, "Last try at "+at+where+how, plain.Unreachable)
	case p.err != nil:
		notice.Set(kit.ToneDanger, "The last sync"+where+" did not finish ("+at+")", plain.Error(p.err))
	case p.rep.Refused > 0:
		notice.Set(kit.ToneDanger, title, reportText(p.rep, y.devs))
	case len(p.rep.Problems) > 0:
		notice.Set(kit.ToneWarning, title, reportText(p.rep, y.devs))
	default:
		notice.Set(kit.ToneOK, title, reportText(p.rep, y.devs))
	}
	notice.Show()
	if p.relay != "" {
		y.showRelay()
	}
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
